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
"""
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from ..clock import as_utc

DAY = timedelta(days=1)
TRIAL_DAYS = 7
GRACE_DAYS = 7


class State(StrEnum):
    TRIAL = "trial"
    ACTIVE = "active"
    GRACE = "grace"
    SUSPENDED = "suspended"
    INACTIVE = "inactive"


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
    access_until = expires_at + DAY
    suspends_at = access_until + GRACE_DAYS * DAY
    if tenant.status == "inactive":
        state = State.INACTIVE
    elif tenant.status == "suspended":
        state = State.SUSPENDED
    elif now < access_until:
        state = State.TRIAL if sub.plan == "trial" else State.ACTIVE
    elif now < suspends_at:
        state = State.GRACE
    else:
        state = State.SUSPENDED
    return Standing(state, sub.plan, expires_at, access_until, suspends_at, now)
