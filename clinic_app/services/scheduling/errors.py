"""What the scheduling use cases raise."""


class Refused(Exception):
    """Booking or rescheduling broke a rule; `errors` maps form field -> message."""

    def __init__(self, errors):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class InvalidTransition(Exception):
    """A status change that TRANSITIONS does not allow (or that lost a race)."""
