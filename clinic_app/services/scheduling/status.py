"""Appointment statuses: their labels, and the moves TRANSITIONS allows, applied conditionally."""
from ... import clock
from ...models import Appointment
from ...models.scheduling import STATUSES, TRANSITIONS
from .. import audit, reminders
from .errors import InvalidTransition

ACTION_LABELS = {
    "checked_in": "Check in",
    "in_progress": "Start",
    "completed": "Complete",
    "no_show": "No-show",
    "cancelled": "Cancel appointment",
}
STATUS_LABELS = {"scheduled": "Scheduled", "checked_in": "Checked in", "in_progress": "In progress",
                 "completed": "Completed", "cancelled": "Cancelled", "no_show": "No-show"}
# "This appointment is <state>, so it cannot be <done>."
STATE = {"scheduled": "scheduled", "checked_in": "checked in", "in_progress": "in progress",
         "completed": "completed", "cancelled": "cancelled", "no_show": "marked as a no-show"}
DONE = {"scheduled": "set back to scheduled", "checked_in": "checked in", "in_progress": "started",
        "completed": "completed", "cancelled": "cancelled", "no_show": "marked as a no-show"}


def actions_for(appointment):
    """(status, button label) for each move TRANSITIONS allows from the current status."""
    return [(s, ACTION_LABELS[s]) for s in TRANSITIONS[appointment.status]]


def change_status(appointment, status, cancel_reason=None):
    """Move to `status` if TRANSITIONS allows it; raises InvalidTransition (nothing changed) otherwise."""
    current = appointment.status
    if status not in STATUSES:
        raise InvalidTransition(f"{status!r} is not an appointment status.")
    if not appointment.can_move_to(status):
        raise InvalidTransition(f"This appointment is {STATE[current]}, so it cannot be {DONE[status]}.")
    updates = {"set__status": status, "set__updated_at": clock.now()}
    reason = (cancel_reason or "").strip()[:300] or None
    if status == "cancelled":
        updates["set__cancel_reason"] = reason
    # Conditional on the status we checked, so two clicks (or two desks) cannot both apply.
    if not Appointment.objects(pk=appointment.pk, status=current).update(**updates):
        raise InvalidTransition("The appointment changed meanwhile; reload the page and try again.")
    appointment.status = status
    changes = {"status": {"old": current, "new": status}}
    if status == "cancelled":
        appointment.cancel_reason = reason
        if reason:
            changes["cancel_reason"] = reason
    audit.record("appointment.status", target=appointment, changes=changes)
    reminders.sync(appointment, clock.now())
    return changes
