"""What the scheduling use cases raise: refusals of the shared hierarchy (services/errors.py)."""
from .. import errors as refusals


class Refused(refusals.Refused):
    """Booking or rescheduling broke a rule; `errors` (and the shared `fields`) map form field -> message."""

    def __init__(self, errors):
        super().__init__("; ".join(errors.values()), errors)
        self.errors = errors


class InvalidTransition(refusals.Conflict):
    """A status change that TRANSITIONS does not allow (or that lost a race)."""
