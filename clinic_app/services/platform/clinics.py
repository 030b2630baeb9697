"""Clinics across tenants for the console: the list (filtered by state, with counts in a constant
number of aggregates per page) and the operator actions on one clinic (extend, suspend, reactivate)."""
from dataclasses import dataclass
from datetime import timedelta

from mongoengine.queryset.visitor import Q

from ... import clock
from ...clock import as_utc
from ...hosts import resolver
from ...models import Patient, Tenant, User, UserSession
from ...pagination import paginate
from ..subscription import State, standing, standing_query
from .actions import record_action

PAGE_SIZE = 25
MAX_EXTENSION_DAYS = 60
PROVISIONING = "provisioning"  # a clinic half-created by onboarding: shown as such, not by its dates
STATE_FILTERS = (*(s.value for s in State), PROVISIONING)


class ActionRefused(ValueError):
    """An operator action does not apply to the clinic as it is now (message for the operator)."""


@dataclass
class ClinicRow:
    tenant: object
    state: str
    users: int = 0
    patients: int = 0
    last_activity: object = None


def clinic_state(tenant, now):
    """The state the console shows: 'provisioning' for half-created clinics, else the standing."""
    if tenant.status == PROVISIONING:
        return PROVISIONING
    return standing(tenant, now).state.value


def state_filter(state, now):
    """A Tenant query matching exactly the clinics `clinic_state()` puts in `state`.

    The subscription states are services.subscription.standing_query (the state machine's own
    translation); this only keeps half-created clinics apart, as clinic_state does.
    """
    if state == PROVISIONING:
        return Q(status=PROVISIONING)
    try:
        return standing_query(state, now) & Q(status__ne=PROVISIONING)
    except ValueError:
        raise ValueError(f"unknown state {state!r}") from None


def clinic_page(q="", state="", page=1, now=None):
    """One Page (25) of ClinicRows, by subdomain, with their counts and last activity.

    `q` is a prefix of the name (any case) or the subdomain. Reads the page's
    tenants only, plus three aggregates over the page's tenant ids, and counts
    the matching clinics: an operator needs that total (how many in grace...),
    and it is a count over tenants, not over a clinic's records.
    """
    now = now or clock.now()
    query = Q()
    q = (q or "").strip()
    if q:
        query &= Q(name__istartswith=q) | Q(subdomain__startswith=q.lower())
    if state:
        query &= state_filter(state, now)
    found = paginate(Tenant.objects(query).order_by("subdomain"), page, PAGE_SIZE, count=True)
    stats = clinic_stats([t.pk for t in found.items])
    found.items = [ClinicRow(t, clinic_state(t, now), **stats.get(t.pk, {})) for t in found.items]
    return found


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
    if tenant.status == PROVISIONING:
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
