"""The platform operator console: operators and their sessions, clinics across tenants,
operator actions (audited), the RQ queue and outbox delivery statistics.

Cross-tenant reads go through `Model.all_tenants()` only, and always as a
constant number of aggregates per page (never one query per clinic).
"""
import secrets
from dataclasses import dataclass
from datetime import timedelta

from mongoengine import NotUniqueError
from mongoengine.queryset.visitor import Q
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job

from .. import clock
from ..clock import as_utc
from ..extensions import get_queue
from ..pagination import paginate
from ..models import OutboundMessage, Patient, Tenant, User, UserSession
from ..models.platform import Operator, OperatorAction, OperatorSession
from ..models.users import token_hash
from ..tenancy import resolver
from .passwords import check_password, hash_password, password_problem
from .subscription import DAY, GRACE_DAYS, State, standing

SESSION_LIFETIME = timedelta(hours=12)
SEEN_WRITE_INTERVAL = timedelta(minutes=1)
PAGE_SIZE = 25
MAX_EXTENSION_DAYS = 60
STATE_FILTERS = ("trial", "active", "grace", "suspended", "inactive", "provisioning")


class OperatorProblem(ValueError):
    """An operator cannot be created (duplicate email, weak password, bad input)."""


class ActionRefused(ValueError):
    """An operator action does not apply to the clinic as it is now (message for the operator)."""


class JobNotFound(LookupError):
    """No such job in the failed registry (already requeued, deleted or expired)."""


# -- operators and their sessions ---------------------------------------------


def create_operator(email, name, password):
    """Create an operator. Raises OperatorProblem."""
    email = (email or "").strip().lower()
    name = (name or "").strip()
    if "@" not in email or len(email) > 320:
        raise OperatorProblem("Enter a valid email address.")
    if not name:
        raise OperatorProblem("A name is required.")
    problem = password_problem(password, (email, name))
    if problem:
        raise OperatorProblem(problem)
    try:
        return Operator(email=email, name=name, password_hash=hash_password(password)).save()
    except NotUniqueError:
        raise OperatorProblem(f"an operator with the email {email} already exists") from None


def set_operator_active(email, active):
    """Enable or disable an operator; disabling revokes their sessions at once. Raises OperatorProblem."""
    operator = Operator.objects(email=(email or "").strip().lower()).first()
    if operator is None:
        raise OperatorProblem(f"no operator with the email {email}")
    Operator.objects(pk=operator.pk).update(set__active=active)
    if not active:
        OperatorSession.objects(operator_id=operator.pk, revoked_at=None).update(set__revoked_at=clock.now())
    return operator


def set_operator_password(email, password):
    """Change an operator's password (NIST rules) and revoke their sessions. Raises OperatorProblem."""
    operator = Operator.objects(email=(email or "").strip().lower()).first()
    if operator is None:
        raise OperatorProblem(f"no operator with the email {email}")
    problem = password_problem(password, (operator.email, operator.name))
    if problem:
        raise OperatorProblem(problem)
    Operator.objects(pk=operator.pk).update(set__password_hash=hash_password(password))
    OperatorSession.objects(operator_id=operator.pk, revoked_at=None).update(set__revoked_at=clock.now())
    return operator


def authenticate_operator(email, password):
    """The active operator with these credentials, or None (the same answer for every failure)."""
    if not isinstance(email, str) or not isinstance(password, str):
        return None
    operator = Operator.objects(email=email.strip().lower()).first()
    ok = check_password(password, operator.password_hash if operator else None)
    if operator is None or not ok or not operator.active:
        return None
    return operator


def start_operator_session(operator, ip=None, user_agent=""):
    """A new server-side session (12 h, absolute); returns the plain token for the cookie."""
    now = clock.now()
    token = secrets.token_urlsafe(32)
    OperatorSession(token_hash=token_hash(token), operator_id=operator.pk, created_at=now, last_seen_at=now,
                    expires_at=now + SESSION_LIFETIME, ip=ip, user_agent=(user_agent or "")[:300]).save()
    Operator.objects(pk=operator.pk).update(set__last_login_at=now)
    return token


def load_operator_session(token):
    """(operator, session) for a valid, unrevoked, unexpired token of an active operator, else None."""
    if not isinstance(token, str) or not token:
        return None
    now = clock.now()
    record = OperatorSession.objects(token_hash=token_hash(token), revoked_at=None).first()
    if record is None or now >= as_utc(record.expires_at):
        return None
    operator = Operator.objects(pk=record.operator_id, active=True).first()
    if operator is None:
        return None
    if now - as_utc(record.last_seen_at) > SEEN_WRITE_INTERVAL:
        OperatorSession.objects(pk=record.pk).update(set__last_seen_at=now)
    return operator, record


def end_operator_session(record):
    OperatorSession.objects(pk=record.pk, revoked_at=None).update(set__revoked_at=clock.now())


def record_action(operator, action, *, tenant=None, target=None, reason=None, before=None, after=None, ip=None):
    """Append an OperatorAction (who, what, on which clinic or job, why, before/after)."""
    return OperatorAction(
        operator_id=operator.pk, operator=str(operator), action=action,
        tenant_id=tenant.pk if tenant is not None else None, tenant=str(tenant) if tenant is not None else None,
        target=target, reason=reason, before=before or {}, after=after or {}, ip=ip,
    ).save()


def actions_for(tenant=None, prefix=None, limit=50):
    """The latest operator actions on one clinic, or whose action starts with `prefix`."""
    qs = OperatorAction.objects
    if tenant is not None:
        qs = qs.filter(tenant_id=tenant.pk)
    if prefix:
        qs = qs.filter(action__startswith=prefix)
    return list(qs.order_by("-at").limit(limit))


# -- clinics ------------------------------------------------------------------


@dataclass
class ClinicRow:
    tenant: object
    state: str
    users: int = 0
    patients: int = 0
    last_activity: object = None


@dataclass
class ClinicPage:
    rows: list
    number: int
    pages: int
    total: int


def clinic_state(tenant, now):
    """The state the console shows: 'provisioning' for half-created clinics, else the standing."""
    if tenant.status == "provisioning":
        return "provisioning"
    return standing(tenant, now).state.value


def state_filter(state, now):
    """A Tenant query matching exactly the clinics `clinic_state()` puts in `state`."""
    access_from = now - DAY  # full access while expires_at > now - 1 day
    grace_from = now - (GRACE_DAYS + 1) * DAY  # read-only while expires_at > now - 8 days
    dated = Q(status="active")  # the operator statuses that leave the dates in charge
    if state == State.TRIAL:
        return dated & Q(subscription__plan="trial", subscription__expires_at__gt=access_from)
    if state == State.ACTIVE:
        return dated & Q(subscription__plan__ne="trial", subscription__expires_at__gt=access_from)
    if state == State.GRACE:
        return dated & Q(subscription__expires_at__lte=access_from, subscription__expires_at__gt=grace_from)
    if state == State.SUSPENDED:
        return Q(status="suspended") | (dated & Q(subscription__expires_at__lte=grace_from))
    if state in ("inactive", "provisioning"):
        return Q(status=state)
    raise ValueError(f"unknown state {state!r}")


def clinic_page(q="", state="", page=1, now=None):
    """One page (25) of clinics, by subdomain, with their counts and last activity.

    `q` is a prefix of the name (any case) or the subdomain. Reads the page's
    tenants only, plus three aggregates over the page's tenant ids.
    """
    now = now or clock.now()
    query = Q()
    q = (q or "").strip()
    if q:
        query &= Q(name__istartswith=q) | Q(subdomain__startswith=q.lower())
    if state:
        query &= state_filter(state, now)
    found = paginate(Tenant.objects(query).order_by("subdomain"), page, PAGE_SIZE)
    stats = clinic_stats([t.pk for t in found.items])
    rows = [ClinicRow(t, clinic_state(t, now), **stats.get(t.pk, {})) for t in found.items]
    return ClinicPage(rows, found.number, found.pages, found.total)


def clinic_stats(tenant_ids):
    """{tenant id: {users, patients, last_activity}} for these clinics, in three aggregates."""
    if not tenant_ids:
        return {}
    out = {tid: {"users": 0, "patients": 0, "last_activity": None} for tid in tenant_ids}
    users = User.all_tenants().filter(tenant_id__in=tenant_ids).aggregate(
        [{"$group": {"_id": "$tenantId", "n": {"$sum": 1}, "last": {"$max": "$lastLoginAt"}}}])
    for row in users:
        out[row["_id"]].update(users=row["n"], last_activity=as_utc(row.get("last")))
    seen = UserSession.all_tenants().filter(tenant_id__in=tenant_ids).aggregate(
        [{"$group": {"_id": "$tenantId", "last": {"$max": "$lastSeenAt"}}}])
    for row in seen:
        last, current = as_utc(row.get("last")), out[row["_id"]]["last_activity"]
        if last is not None and (current is None or last > current):
            out[row["_id"]]["last_activity"] = last
    patients = Patient.all_tenants().filter(tenant_id__in=tenant_ids).aggregate(
        [{"$group": {"_id": "$tenantId", "n": {"$sum": 1}}}])
    for row in patients:
        out[row["_id"]]["patients"] = row["n"]
    return out


def _snapshot(tenant):
    return {"status": tenant.status, "plan": tenant.subscription.plan,
            "expires_at": as_utc(tenant.subscription.expires_at)}


def _changed(operator, action, before, updated, reason, ip):
    """Audit a change that went through, and drop the clinic from the resolver cache."""
    resolver().invalidate(updated.subdomain)
    return record_action(operator, action, tenant=updated, reason=reason, before=before,
                         after=_snapshot(updated), ip=ip)


def extend_trial(operator, tenant, days, reason, ip=None):
    """Move expires_at `days` later (from now when it has passed). Raises ActionRefused."""
    if not isinstance(days, int) or not 1 <= days <= MAX_EXTENSION_DAYS:
        raise ActionRefused(f"Extend by 1 to {MAX_EXTENSION_DAYS} days.")
    if tenant.status == "provisioning":
        raise ActionRefused("This clinic is still being created.")
    before = _snapshot(tenant)
    old = before["expires_at"]
    new = max(old, clock.now()) + timedelta(days=days)
    # Conditional on the value read, so two operators extending at once cannot lose one extension.
    updated = Tenant.objects(pk=tenant.pk, subscription__expires_at=old).modify(
        new=True, set__subscription__expires_at=new)
    if updated is None:
        raise ActionRefused("The clinic changed while you were looking at it. Reload and try again.")
    return _changed(operator, "clinic.extend", before, updated, reason, ip)


def suspend_clinic(operator, tenant, reason, ip=None):
    """Operator suspension: the clinic shows the suspended page whatever its plan. Raises ActionRefused."""
    return _set_status(operator, tenant, "clinic.suspend", ["active", "inactive"], "suspended", reason, ip,
                       "Only an active clinic can be suspended.")


def reactivate_clinic(operator, tenant, reason, ip=None):
    """Lift an operator suspension (the dates decide access again). Raises ActionRefused."""
    return _set_status(operator, tenant, "clinic.reactivate", ["suspended", "inactive"], "active", reason, ip,
                       "Only a suspended or inactive clinic can be reactivated.")


def _set_status(operator, tenant, action, from_statuses, to_status, reason, ip, refusal):
    before = _snapshot(tenant)
    updated = Tenant.objects(pk=tenant.pk, status__in=from_statuses).modify(new=True, set__status=to_status)
    if updated is None:
        raise ActionRefused(refusal)
    return _changed(operator, action, before, updated, reason, ip)


# -- the RQ queue -------------------------------------------------------------


@dataclass
class FailedJob:
    id: str
    func_name: str
    description: str
    error: str
    enqueued_at: object
    ended_at: object


def queue_overview():
    """Counts of the app's RQ queue and its registries."""
    queue = get_queue()
    return {
        "name": queue.name,
        "queued": queue.count,
        "scheduled": queue.scheduled_job_registry.count,
        "started": queue.started_job_registry.count,
        "deferred": queue.deferred_job_registry.count,
        "failed": queue.failed_job_registry.count,
    }


def failed_jobs(page=1):
    """One page of the failed registry, newest first -> (jobs, page, pages)."""
    registry = get_queue().failed_job_registry
    pages = max(1, -(-registry.count // PAGE_SIZE))
    page = min(max(1, page), pages)
    start = (page - 1) * PAGE_SIZE
    ids = registry.get_job_ids(start, start + PAGE_SIZE - 1, desc=True)
    jobs = Job.fetch_many(ids, connection=registry.connection)
    return [_describe_job(job_id, job) for job_id, job in zip(ids, jobs)], page, pages


def _describe_job(job_id, job):
    if job is None:  # its data expired before its registry entry
        return FailedJob(job_id, "?", "", "(job data expired)", None, None)
    return FailedJob(job.id, job.func_name or "?", job.description or "", _error_line(job),
                     job.enqueued_at, job.ended_at)


def _error_line(job):
    """The exception line of the last failure ("NoTenantBound: ..."), not the "Traceback" header."""
    result = job.latest_result()
    text = (getattr(result, "exc_string", None) or "").strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip()[:300] if lines else ""


def _failed_job(job_id):
    registry = get_queue().failed_job_registry
    if not isinstance(job_id, str) or job_id not in registry:
        raise JobNotFound(job_id)
    try:
        job = Job.fetch(job_id, connection=registry.connection)
    except NoSuchJobError:
        job = None
    return registry, job, _describe_job(job_id, job)


def requeue_failed_job(operator, job_id, ip=None):
    """Put a failed job back on its queue (audited). Raises JobNotFound."""
    registry, job, info = _failed_job(job_id)
    if job is None:
        raise JobNotFound(job_id)
    try:
        registry.requeue(job)
    except (InvalidJobOperation, NoSuchJobError):
        raise JobNotFound(job_id) from None  # another operator got there first
    return record_action(operator, "job.requeue", target=job_id, ip=ip,
                         before={"func": info.func_name, "error": info.error}, after={"queue": job.origin})


def delete_failed_job(operator, job_id, ip=None):
    """Remove a failed job for good (audited). Raises JobNotFound."""
    registry, job, info = _failed_job(job_id)
    if not registry.remove(job_id):
        raise JobNotFound(job_id)
    if job is not None:
        job.delete(remove_from_queue=False)
    return record_action(operator, "job.delete", target=job_id, ip=ip,
                         before={"func": info.func_name, "error": info.error})


# -- outbox delivery statistics -----------------------------------------------

WINDOWS = (("24h", timedelta(hours=24)), ("7d", timedelta(days=7)))


def message_stats(now=None, top=10):
    """Outbox counts by kind and status for the last 24 h and 7 d, and the clinics failing most (7 d)."""
    now = now or clock.now()
    windows = {}
    for label, span in WINDOWS:
        rows = OutboundMessage.all_tenants().filter(created_at__gte=now - span).aggregate(
            [{"$group": {"_id": {"kind": "$kind", "status": "$status"}, "n": {"$sum": 1}}}])
        by_kind, by_status = {}, {}
        for row in rows:
            kind, status, n = row["_id"].get("kind"), row["_id"].get("status"), row["n"]
            by_kind.setdefault(kind, {})[status] = n
            by_status[status] = by_status.get(status, 0) + n
        windows[label] = {"by_kind": dict(sorted(by_kind.items())), "by_status": by_status,
                          "total": sum(by_status.values())}
    failing = list(OutboundMessage.all_tenants().filter(status="failed", created_at__gte=now - WINDOWS[1][1])
                   .aggregate([{"$group": {"_id": "$tenantId", "n": {"$sum": 1}}},
                               {"$sort": {"n": -1, "_id": 1}}, {"$limit": top}]))
    names = {t.pk: t for t in Tenant.objects(pk__in=[r["_id"] for r in failing]).only("name", "subdomain")}
    top_failing = [{"tenant": names.get(r["_id"]), "tenant_id": r["_id"], "failed": r["n"]} for r in failing]
    return {"windows": windows, "top_failing": top_failing}
