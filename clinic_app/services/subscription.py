"""The subscription state machine (ARCHITECTURE §8) as pure functions of (tenant, now).

Days are whole 24-hour periods after `expires_at` (for a trial,
expires_at = start + 7 days, so "day 7" of the trial is the day that
contains expires_at):

| when                                   | state     | access      |
|----------------------------------------|-----------|-------------|
| now < expires_at + 1 day  (days 0–7)   | trial / active | full   |
| now < expires_at + 8 days (days 8–14)  | grace     | read-only   |
| later (day 15 on)                      | suspended | subscription page only |

Operator status `suspended`/`inactive` on the tenant overrides all of it.

`standing(tenant, now)` decides one clinic; `standing_query(state, now)` is the
same rule turned round for the database (the operator console's state filter):
`now < expires_at + X` is `expires_at > now - X`, with the same offsets and the
same operator statuses, so a list filtered by state and the state shown per
clinic cannot disagree (tests/test_platform.py checks every day boundary).
"""
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from mongoengine.queryset.visitor import Q

from ..clock import as_utc
from ..models.tenant import STATUSES

DAY = timedelta(days=1)
TRIAL_DAYS = 7
GRACE_DAYS = 7
FULL_ACCESS_AFTER_EXPIRY = DAY  # the day that contains expires_at ("day 7" of a trial) is still full access
GRACE = GRACE_DAYS * DAY


class State(StrEnum):
    TRIAL = "trial"
    ACTIVE = "active"
    GRACE = "grace"
    SUSPENDED = "suspended"
    INACTIVE = "inactive"


# Operator statuses that shut a clinic whatever its dates; every other status leaves the dates in charge.
SHUT = {"inactive": State.INACTIVE, "suspended": State.SUSPENDED}
DATED = tuple(status for status in STATUSES if status not in SHUT)


@dataclass(frozen=True)
class Standing:
    state: State
    plan: str
    expires_at: object  # datetime, UTC
    access_until: object  # end of full access
    suspends_at: object  # end of grace
    now: object

    @property
    def full_access(self):
        return self.state in (State.TRIAL, State.ACTIVE)

    @property
    def read_only(self):
        return self.state is State.GRACE

    @property
    def suspended(self):
        return self.state in (State.SUSPENDED, State.INACTIVE)

    @property
    def days_left(self):
        """Whole days of full access left (0 on the last day)."""
        if not self.full_access:
            return 0
        return max(0, (self.access_until - self.now) // DAY)

    @property
    def grace_days_left(self):
        if not self.read_only:
            return 0
        return max(0, (self.suspends_at - self.now) // DAY)


def trial_expiry(start):
    return as_utc(start) + TRIAL_DAYS * DAY


def standing(tenant, now):
    """The tenant's subscription standing at `now`."""
    sub = tenant.subscription
    expires_at = as_utc(sub.expires_at)
    access_until = expires_at + FULL_ACCESS_AFTER_EXPIRY
    suspends_at = access_until + GRACE
    if tenant.status in SHUT:
        state = SHUT[tenant.status]
    elif now < access_until:
        state = State.TRIAL if sub.plan == "trial" else State.ACTIVE
    elif now < suspends_at:
        state = State.GRACE
    else:
        state = State.SUSPENDED
    return Standing(state, sub.plan, expires_at, access_until, suspends_at, now)


def standing_query(state, now):
    """A Tenant query matching exactly the tenants whose `standing(tenant, now).state` is `state`.

    Raises ValueError for a value that is not a State.
    """
    state = State(state)
    access_from = now - FULL_ACCESS_AFTER_EXPIRY  # full access while expires_at > access_from
    grace_from = access_from - GRACE  # read-only while expires_at > grace_from
    shut = Q(status__in=[status for status, shut_as in SHUT.items() if shut_as is state])
    dated = Q(status__in=DATED)
    if state is State.INACTIVE:
        return shut
    if state is State.TRIAL:
        return dated & Q(subscription__plan="trial", subscription__expires_at__gt=access_from)
    if state is State.ACTIVE:
        return dated & Q(subscription__plan__ne="trial", subscription__expires_at__gt=access_from)
    if state is State.GRACE:
        return dated & Q(subscription__expires_at__lte=access_from, subscription__expires_at__gt=grace_from)
    return shut | (dated & Q(subscription__expires_at__lte=grace_from))  # State.SUSPENDED
