"""RQ job functions. Thin: each takes ids, binds its tenant and calls a service.

The worker builds the app once (`bind_app`); every job runs inside an app
context and `tenant_context` for the tenant id it was given. A job without
a tenant id fails instead of seeing every clinic. Cross-tenant sweeps are
`platform_job`s: they start with no tenant bound and bind each clinic
themselves (through `Model.all_tenants()` / the Tenant collection).

Periodic jobs: RQ's cron (clinic_app/cron.py) enqueues `run_periodic(name)`,
which enqueues the real job with its `Retry` policy (RQ 3.0's cron jobs cannot
carry one) and never a second copy while one is waiting or running.

Layering: this module sits above the services (beside the blueprints). A
service never imports it: it enqueues a job by its dotted path
("clinic_app.jobs.deliver_email") through clinic_app.queueing.
"""
import functools
from dataclasses import dataclass

from rq import Retry

from . import create_app
from .extensions import get_queue
from .models import Tenant
from .queueing import enqueue_unique
from .services.notifications import deliver
from .services.outbox import requeue_unsent as requeue
from .services.reminders import dispatch_due
from .services.sweep import sweep
from .tenancy import NoTenantBound, tenant_context

_app = None


def bind_app(app):
    """Use `app` for the jobs run in this process (worker.py and tests call it)."""
    global _app
    _app = app


def get_app():
    """The app jobs run in: the one bound by worker.py, else one built from the environment."""
    global _app
    if _app is None:
        _app = create_app()
    return _app


def tenant_job(fn):
    """Run `fn(*args)` inside the app and the tenant whose id comes first."""

    @functools.wraps(fn)
    def job(tenant_id, *args, **kwargs):
        if not tenant_id:
            raise NoTenantBound(f"job {fn.__name__} was enqueued without a tenant id")
        with get_app().app_context():
            tenant = Tenant.objects(pk=tenant_id).first()
            if tenant is None:
                raise NoTenantBound(f"job {fn.__name__}: no tenant {tenant_id}")
            with tenant_context(tenant):
                return fn(*args, **kwargs)

    return job


def platform_job(fn):
    """Run `fn(*args)` inside the app with no tenant bound (cross-tenant sweeps bind each clinic)."""

    @functools.wraps(fn)
    def job(*args, **kwargs):
        with get_app().app_context():
            return fn(*args, **kwargs)

    return job


# -- per-tenant jobs ----------------------------------------------------------------


@tenant_job
def deliver_email(message_id):
    """Send one outbox message (services.notifications enqueues it by this dotted path)."""
    return deliver(message_id)


# -- cross-tenant periodic jobs ---------------------------------------------------------


@platform_job
def sweep_subscriptions():
    """Daily lifecycle sweep (run hourly; idempotent): emails and recorded status per clinic."""
    return sweep().as_dict()


@platform_job
def requeue_unsent():
    """Re-enqueue outbox messages a Redis outage or a dead worker left behind."""
    return requeue()


@platform_job
def dispatch_reminders():
    """Queue every due appointment reminder (services.reminders)."""
    return dispatch_due()


@dataclass(frozen=True)
class Periodic:
    func: object
    retries: tuple  # RQ Retry intervals, seconds; len = max retries
    timeout: int  # RQ job timeout, seconds


PERIODIC = {
    "sweep_subscriptions": Periodic(sweep_subscriptions, (60, 300, 900), timeout=3600),
    "requeue_unsent": Periodic(requeue_unsent, (30, 60), timeout=600),
    "dispatch_reminders": Periodic(dispatch_reminders, (30, 60), timeout=600),
}


def run_periodic(name):
    """What RQ's cron enqueues: start periodic job `name` with its Retry, one at a time.

    Raises KeyError for an unknown name.
    """
    spec = PERIODIC[name]
    with get_app().app_context():
        job, created = enqueue_unique(
            get_queue(), spec.func, job_id=f"periodic-{name}",
            retry=Retry(max=len(spec.retries), interval=list(spec.retries)),
            job_timeout=spec.timeout, description=f"periodic {name}",
        )
    return {"job": job.id, "enqueued": created}
