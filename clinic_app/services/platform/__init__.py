"""The platform operator console: operators and their sessions, clinics across tenants,
operator actions (audited), the RQ queue and outbox delivery statistics.

Cross-tenant reads go through `Model.all_tenants()` only, and always as a
constant number of aggregates per page (never one query per clinic).

    operators.py  operator accounts, sign-in, server-side sessions
    actions.py    the operators' audit trail (record_action, actions_for)
    clinics.py    the clinic list by state (subscription.standing_query) and the actions on a clinic
    jobs.py       the RQ queue and its failed registry
    delivery.py   outbox delivery statistics

Callers use the package (`from ..services import platform`); the names below are its API.
"""
from .actions import actions_for, record_action  # noqa: F401
from .clinics import (  # noqa: F401
    MAX_EXTENSION_DAYS, PAGE_SIZE, PROVISIONING, STATE_FILTERS, ActionRefused, ClinicRow, clinic_page,
    clinic_state, clinic_stats, extend_trial, reactivate_clinic, state_filter, suspend_clinic,
)
from .delivery import WINDOWS, message_stats  # noqa: F401
from .jobs import (  # noqa: F401
    FailedJob, JobNotFound, delete_failed_job, failed_jobs, queue_overview, requeue_failed_job,
)
from .operators import (  # noqa: F401
    SEEN_WRITE_INTERVAL, SESSION_LIFETIME, OperatorProblem, authenticate_operator, create_operator,
    end_operator_session, load_operator_session, set_operator_active, set_operator_password,
    start_operator_session,
)
