"""The subscription sweep: moves every clinic along the lifecycle (ARCHITECTURE §8) and tells its Admins.

For each clinic (operator status `active`), with E = subscription.expires_at
and `standing(tenant, now)` from services/subscription.py:

| occasion      | plans    | sent when                               | template / kind  |
|---------------|----------|-----------------------------------------|------------------|
| trial_warning | trial    | now in [E − 2 d, E − 1 d)  (day 5)      | trial_warning    |
| trial_today   | trial    | now in [E, E + 1 d)        (day 7)      | trial_today      |
| renewal_7d    | paid     | now in [E − 7 d, E − 6 d)               | renewal_reminder |
| renewal_1d    | paid     | now in [E − 1 d, E)                     | renewal_reminder |
| expired       | any      | state is grace, first seen (day 8)      | trial_expired    |
| suspended     | any      | state is suspended, first seen (day 15) | suspended        |

Exactly once per clinic, occasion, expiry date and recipient, however often
the sweep runs (it runs hourly; concurrent runs are fine): each email goes
through the outbox under the key `sub:{occasion}:{E:%Y%m%d}:{user id}`, unique
per clinic. A renewal moves E, so the next cycle has fresh keys.

Catch-up: a dated reminder is sent only inside its window (a "2 days left"
email on day 6 would be wrong, and day 7 has its own); a state-change email
(grace, suspended) is sent whenever the sweep first sees that state, even
late, and only for the state the clinic is in now (a clinic first seen
suspended is not told it is read-only).

Recorded status: `tenant.subscription.status` (active/grace/suspended) is
written with an atomic single-field update after the emails are queued, so a
crash in between only repeats the (idempotent) emails. The gate never reads
it: it computes the state from E and the clock.

Recipients: the clinic's active users whose role is the system Admin role.
Memory: the clinics are streamed with a cursor (`only`, `no_cache`,
`batch_size`), each handled inside `tenant_context` and dropped; a clinic with
nothing due costs no query beyond the cursor. A failing clinic does not stop
the others; the sweep raises `SweepIncomplete` at the end so RQ retries it.
"""
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

from .. import clock
from ..models import OutboundMessage, Role, Settings, Tenant, User
from ..tenancy import tenant_context
from ..web import canonical_url
from .notifications import queue_email, render_email
from .subscription import DAY, State, standing

log = logging.getLogger(__name__)

BATCH = 500
TENANT_FIELDS = ("id", "name", "subdomain", "status", "subscription")
RECORDED = {State.TRIAL: "active", State.ACTIVE: "active", State.GRACE: "grace", State.SUSPENDED: "suspended"}


class SweepIncomplete(RuntimeError):
    """Some clinics failed in this run; the rest were swept. Re-running is safe."""


@dataclass(frozen=True)
class Occasion:
    name: str
    template: str
    kind: str
    subject: str  # format() with clinic=
    plans: str  # "trial", "paid" or "any"
    window: tuple = None  # (start, end) offsets from E, for dated reminders
    state: State = None  # for state-change emails

    def applies(self, st, recorded):
        if (self.plans == "trial" and st.plan != "trial") or (self.plans == "paid" and st.plan == "trial"):
            return False
        if self.window is not None:
            start, end = self.window
            return st.state in (State.TRIAL, State.ACTIVE) and st.expires_at + start <= st.now < st.expires_at + end
        return st.state is self.state and recorded != RECORDED[self.state]


OCCASIONS = (
    Occasion("trial_warning", "trial_warning", "trial_warning", "{clinic}: your free trial ends in 2 days",
             "trial", window=(-2 * DAY, -1 * DAY)),
    Occasion("trial_today", "trial_today", "trial_today", "{clinic}: your free trial ends today",
             "trial", window=(timedelta(0), DAY)),
    Occasion("renewal_7d", "renewal_reminder", "renewal_reminder", "{clinic}: your subscription ends in 7 days",
             "paid", window=(-7 * DAY, -6 * DAY)),
    Occasion("renewal_1d", "renewal_reminder", "renewal_reminder", "{clinic}: your subscription ends tomorrow",
             "paid", window=(-1 * DAY, timedelta(0))),
    Occasion("expired", "trial_expired", "trial_expired", "{clinic} is read-only: {ended}",
             "any", state=State.GRACE),
    Occasion("suspended", "suspended", "suspended", "{clinic} is suspended: renew to continue",
             "any", state=State.SUSPENDED),
)


@dataclass
class SweepResult:
    now: object
    clinics: int = 0
    emails: int = 0
    status_changes: int = 0
    failed: list = field(default_factory=list)  # "subdomain: error", the first 20

    def as_dict(self):
        return {"now": self.now.isoformat(), "clinics": self.clinics, "emails": self.emails,
                "status_changes": self.status_changes, "failed": list(self.failed)}


def active_admins():
    """The bound clinic's active Admin users (email recipients for the subscription)."""
    admin_role = Role.objects(name="Admin", system=True).only("id").first()
    if admin_role is None:
        return []
    return list(User.objects(role=admin_role, status="active").only("id", "email", "name"))


def _email_context(tenant, st):
    settings = Settings.current()
    zone = ZoneInfo(settings.timezone)

    def when(value):
        local = value.astimezone(zone)
        return f"{settings.format_date(local)} {local:%H:%M}"

    return {
        "clinic": settings.clinic_name, "zone": settings.timezone, "plan": st.plan,
        "trial": st.plan == "trial", "expires": when(st.expires_at), "access_until": when(st.access_until),
        "suspends_at": when(st.suspends_at), "days_left": st.days_left,
        "url": canonical_url(tenant, "/subscription"),
    }


def _send(tenant, st, occasion, admins):
    """Queue `occasion`'s email to each Admin that has not had it; returns how many were new."""
    keys = {admin.pk: f"sub:{occasion.name}:{st.expires_at:%Y%m%d}:{admin.pk}" for admin in admins}
    # A cheap indexed read first: an hourly sweep sees each window ~24 times. The
    # outbox's unique key, not this read, is what makes it exactly once.
    done = {m.key for m in OutboundMessage.objects(key__in=list(keys.values())).only("key")}
    todo = [admin for admin in admins if keys[admin.pk] not in done]
    if not todo:
        return 0
    ctx = _email_context(tenant, st)
    ended = "your free trial has ended" if st.plan == "trial" else "your subscription has ended"
    for admin in todo:
        text, html = render_email(occasion.template, occasion=occasion.name, admin=admin, **ctx)
        queue_email(key=keys[admin.pk], kind=occasion.kind, to=admin.email,
                    subject=occasion.subject.format(clinic=ctx["clinic"], ended=ended),
                    text_body=text, html_body=html)
    return len(todo)


def sweep_tenant(tenant, now):
    """Queue the emails due for one clinic and record its state; returns (emails, status changed)."""
    st = standing(tenant, now)
    recorded = tenant.subscription.status
    due = [occasion for occasion in OCCASIONS if occasion.applies(st, recorded)]
    sent = 0
    with tenant_context(tenant):
        if due:
            admins = active_admins()
            if not admins:
                log.warning("sweep: %s has no active Admin to tell about %s", tenant.subdomain,
                            [o.name for o in due])
            for occasion in due:
                sent += _send(tenant, st, occasion, admins)
        new = RECORDED.get(st.state)
        changed = new is not None and new != recorded
        if changed:
            Tenant.objects(pk=tenant.pk).update_one(set__subscription__status=new)
    return sent, changed


def sweep(now=None, batch_size=BATCH):
    """Sweep every active clinic once at `now`. Raises SweepIncomplete if any clinic failed."""
    now = now or clock.now()
    result = SweepResult(now)
    failures = 0
    clinics = Tenant.objects(status="active").only(*TENANT_FIELDS).no_cache().batch_size(batch_size)
    for tenant in clinics:
        result.clinics += 1
        try:
            emails, changed = sweep_tenant(tenant, now)
        except Exception as exc:  # one broken clinic must not hold up the others
            failures += 1
            log.exception("sweep: clinic %s failed", tenant.subdomain)
            if len(result.failed) < 20:
                result.failed.append(f"{tenant.subdomain}: {type(exc).__name__}: {exc}"[:300])
            continue
        result.emails += emails
        result.status_changes += int(changed)
    log.info("sweep at %s: %s", now.isoformat(), result.as_dict())
    if failures:
        raise SweepIncomplete(f"{failures} of {result.clinics} clinics failed: " + "; ".join(result.failed))
    return result
