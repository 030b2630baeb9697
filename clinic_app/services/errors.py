"""What a use case raises when it says no: one hierarchy for every area.

str(exc) is the message for the user and `status` the HTTP status that goes with it; `fields`
({name: message}, empty when none) says which inputs were at fault. The areas' own names are these classes
(billing's BillingError, labs' LabError, visits' VisitError and NotProvider are aliases) or thin
subclasses that add what the area's pages need (a form field, per-line errors). So a view or the API
that catches Refused also catches a refusal raised by another area inside the same call, and answers
it as a refusal rather than a 500.
"""


class Refused(Exception):
    """A use case refused: the input breaks a rule (422)."""

    status = 422

    def __init__(self, message, fields=None):
        super().__init__(message)
        self.fields = fields or {}


class Conflict(Refused):
    """The record is not in a state that allows this: finalised, signed, cancelled, or changed by someone
    else meanwhile (409)."""

    status = 409


class FieldRefused(Refused):
    """A refusal about one input: `field` names the form field its message belongs beside (None: the whole
    operation); `fields` is then {field: message}."""

    def __init__(self, message, field=None):
        super().__init__(message, {field: message} if field else None)
        self.field = field


class NotAllowed(Refused):
    """This user may not do this to this record, whatever their role's permissions say (403)."""

    status = 403
