"""Visit use cases: list, start (directly or from an appointment), edit a draft, sign, amend."""
from bson import DBRef
from mongoengine.errors import NotUniqueError, SaveConditionError
from mongoengine.queryset.visitor import Q

from .. import clock
from ..models import Appointment, Visit
from ..models.clinical import VITALS, Amendment, Vitals
from ..models.scheduling import TRANSITIONS
from . import audit, reminders
from .errors import Conflict, NotAllowed, Refused

PER_PAGE = 25
SOAP = ("subjective", "objective", "assessment", "plan")
DIAGNOSIS = ("diagnosis", "diagnosis_code")
FIELDS = SOAP + tuple(VITALS) + DIAGNOSIS
LABELS = {
    "subjective": "Subjective", "objective": "Objective", "assessment": "Assessment", "plan": "Plan",
    "diagnosis": "Diagnosis", "diagnosis_code": "Diagnosis code",
    **{key: spec[0] for key, spec in VITALS.items()},
}
UNITS = {key: spec[1] for key, spec in VITALS.items()}
STATUS_FILTERS = ("draft", "signed")
SIGNED_MEANWHILE = ("This visit was signed while you were editing, so your changes were not saved. "
                    "To change it now, give a reason and save them as an amendment.")


# Visits' names for the shared refusals (services/errors.py); Conflict: the record is not in a state that
# allows this (signed, finished appointment, changed meanwhile); NotProvider: another provider's draft.
VisitError = Refused
NotProvider = NotAllowed


def ref_id(doc, field):
    """The id stored in reference `field`, without loading the referenced document."""
    value = doc._data.get(field)
    return value.id if isinstance(value, DBRef) else getattr(value, "pk", value)


# -- reading ------------------------------------------------------------------


def recent(provider=None, status=None):
    """Newest-first visits, optionally one provider's and/or one status's.

    Each shape has its equality-then-sort index: {tenantId, -startedAt},
    {tenantId, status, -startedAt}, {tenantId, provider, -startedAt},
    {tenantId, provider, status, -startedAt}.
    """
    qs = Visit.objects
    if provider is not None:
        qs = qs.filter(provider=provider)
    if status in STATUS_FILTERS:
        qs = qs.filter(status=status)
    return qs.order_by("-started_at")


def values_of(visit):
    """{field: value} of the note as it stands (SOAP, vitals, diagnosis)."""
    vitals = visit.vitals or Vitals()
    values = {f: getattr(visit, f) or None for f in SOAP + DIAGNOSIS}
    values.update({k: getattr(vitals, k) for k in VITALS})
    return values


def as_signed(visit):
    """The note's values as originally signed: the current values with every amendment undone."""
    values = values_of(visit)
    for amendment in reversed(visit.amendments or []):
        for field, change in (amendment.changes or {}).items():
            values[field] = change.get("old")
    return values


def may_edit_draft(visit, user):
    """Only a draft's provider, or an Admin, edits it; everyone else with visit rights reads it."""
    return ref_id(visit, "provider") == user.pk or user.role.is_admin


def not_yours(visit):
    """The refusal for someone else's draft (403)."""
    return NotProvider(f"This draft is {visit.provider.name}'s: only they or an Admin can edit it. "
                       "You can still read it on the visit's page.")


def open_draft_for(appointment):
    return Visit.objects(appointment=appointment, status="draft").first()


# -- starting -----------------------------------------------------------------


def _path_exists(source, target):
    """True when TRANSITIONS lead from `source` to `target` (e.g. scheduled -> checked_in -> in_progress)."""
    seen, todo = set(), [source]
    while todo:
        status = todo.pop()
        for nxt in TRANSITIONS.get(status, ()):
            if nxt == target:
                return True
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False


def move_appointment(appointment_id, sources, target):
    """Move an appointment from one of `sources` to `target`, atomically.

    Returns the status it moved from, or None when it was in none of `sources`
    (including a concurrent change).
    """
    before = Appointment.objects(pk=appointment_id, status__in=list(sources)).modify(
        new=False, set__status=target, set__updated_at=clock.now())
    if before is None:
        return None
    old_status = before.status
    audit.record("appointment.status", target=before,
                 changes={"status": {"old": before.status, "new": target}, "via": "visit"})
    before.status = target
    reminders.sync(before)  # an appointment under way needs no more reminders
    return old_status


# Appointment statuses a visit moves to in_progress (scheduled implies the check-in).
STARTABLE = tuple(s for s in TRANSITIONS if _path_exists(s, "in_progress"))


def _check_patient(patient):
    if not patient.active:
        raise Conflict(f"{patient.full_name} is archived. Restore the patient before starting a visit.")


def start_for_patient(patient, provider):
    """A new draft visit for `patient`. Raises Conflict when the patient is archived."""
    _check_patient(patient)
    visit = Visit(patient=patient, provider=provider, started_at=clock.now()).save()
    audit.record("visit.create", target=visit, changes={"patient": str(patient.pk), "appointment": None})
    return visit


def start_from_appointment(appointment, provider):
    """The appointment's open draft visit, else a new one; (visit, created).

    A new visit moves the appointment to in_progress (scheduled implies the
    check-in). Raises Conflict when the appointment is completed, cancelled or
    a no-show, or its patient is archived.
    """
    existing = open_draft_for(appointment)
    if existing is not None:
        return existing, False
    if appointment.status not in STARTABLE + ("in_progress",):
        raise Conflict(f"This appointment is {appointment.status.replace('_', ' ')}: "
                       "a visit cannot be started from it. Start the visit from the patient's page instead.")
    patient = appointment.patient
    _check_patient(patient)
    visit = Visit(patient=patient, provider=provider, appointment=appointment, started_at=clock.now())
    try:
        visit.save()  # the partial unique index admits one open draft per appointment
    except NotUniqueError:
        existing = open_draft_for(appointment)
        if existing is None:  # signed between our insert and this read: the appointment is done
            raise Conflict("This appointment's visit was just signed.") from None
        return existing, False
    changes = {"patient": str(patient.pk), "appointment": str(appointment.pk)}
    if appointment.status != "in_progress":
        moved_from = move_appointment(appointment.pk, STARTABLE, "in_progress")
        if moved_from is None:
            appointment.reload()
            if appointment.status != "in_progress":  # cancelled (or similar) meanwhile
                visit.delete()
                raise Conflict(f"This appointment was just marked {appointment.status.replace('_', ' ')}: "
                               "no visit was started.")
        else:
            changes["appointment_status"] = {"old": moved_from, "new": "in_progress"}
    audit.record("visit.create", target=visit, changes=changes)
    return visit, True


# -- editing, signing, amending --------------------------------------------------


def _changes(visit, values):
    current = values_of(visit)
    return {f: {"old": current[f], "new": values.get(f)} for f in FIELDS if current[f] != values.get(f)}


def _apply(visit, values):
    for field in SOAP + DIAGNOSIS:
        setattr(visit, field, values.get(field))
    if visit.vitals is None:
        visit.vitals = Vitals()
    for key in VITALS:
        setattr(visit.vitals, key, values.get(key))
    visit.updated_at = clock.now()


def update_draft(visit, values, user):
    """Save `user`'s new values on a draft; returns the changed fields ({} when nothing changed).

    Raises Conflict when the visit was signed meanwhile (nothing is saved), NotProvider
    when `user` is neither the draft's provider nor an Admin.
    """
    if visit.locked:
        raise Conflict("This visit is signed: changes must be made as an amendment.")
    if not may_edit_draft(visit, user):
        raise not_yours(visit)
    changes = _changes(visit, values)
    if not changes:
        return {}
    _apply(visit, values)
    try:
        visit.save(save_condition={"status": "draft"})
    except SaveConditionError:
        raise Conflict(SIGNED_MEANWHILE) from None
    audit.record("visit.update", target=visit, changes={"fields": sorted(changes)})
    return changes


def amend(visit, values, reason, user):
    """Apply new values to a signed visit, keeping the old ones in an Amendment; returns it.

    Raises VisitError when nothing changed, Conflict when the visit is not
    signed or was amended by someone else meanwhile.
    """
    if not visit.locked:
        raise Conflict("Only a signed visit is amended; this one is still a draft.")
    changes = _changes(visit, values)
    if not changes:
        raise VisitError("Nothing was changed, so there is nothing to amend.")
    count = len(visit.amendments or [])
    amendment = Amendment(at=clock.now(), by_id=user.pk, by=user.name, reason=reason.strip(), changes=changes)
    _apply(visit, values)
    visit.amendments.append(amendment)
    try:
        # "No amendment at position `count` yet" makes the old values recorded here the real
        # previous ones (it holds whether an empty list is stored or the field is absent).
        visit.save(save_condition={"status": "signed", "__raw__": {f"amendments.{count}": {"$exists": False}}})
    except SaveConditionError:
        raise Conflict("Someone amended this visit while you were editing, so your amendment was not saved. "
                       "Check the current note and try again.") from None
    audit.record("visit.amend", target=visit,
                 changes={"reason": amendment.reason, "fields": sorted(changes), "amendment": count + 1})
    return amendment


def sign(visit, user):
    """Sign a draft (only its provider may); completes a linked in-progress appointment.

    Raises NotProvider, Conflict (already signed) or VisitError (no assessment
    or diagnosis). The status change is one conditional update, so of two
    simultaneous signs exactly one succeeds.
    """
    if ref_id(visit, "provider") != user.pk:
        raise NotProvider(f"Only the visit's provider, {visit.provider.name}, can sign it.")
    now = clock.now()
    has_content = Q(assessment__gt="") | Q(diagnosis__gt="")
    signed = Visit.objects(Q(pk=visit.pk, status="draft") & has_content).modify(
        new=True, set__status="signed", set__signed_at=now, set__signed_by=user, set__updated_at=now)
    if signed is None:
        visit.reload()
        if visit.locked:
            raise Conflict(f"This visit was already signed by {visit.signed_by.name}; nothing was changed.")
        raise VisitError("Write an assessment or a diagnosis before signing.")
    changes = {"status": {"old": "draft", "new": "signed"}}
    appointment_id = ref_id(signed, "appointment")
    if appointment_id is not None and move_appointment(appointment_id, ("in_progress",), "completed"):
        changes["appointment_status"] = {"old": "in_progress", "new": "completed"}
    audit.record("visit.sign", target=signed, changes=changes)
    return signed
