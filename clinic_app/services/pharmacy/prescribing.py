"""Prescriptions from a visit: lines, quantity computation, plain-language rendering, the allergy and
duplicate-therapy checks (an allergy match blocks until overridden with a reason, audited), issuing,
cancelling, and the amendment a prescription added to a signed visit becomes."""
import math
from datetime import timedelta

from bson import ObjectId

from ... import clock
from ...localtime import local_date
from ...models import Medicine, Prescription, Visit
from ...models.clinical import Amendment
from ...models.pharmacy import AllergyOverride, PrescriptionLine
from .. import audit
from .. import errors as refusals
from ..visits import ref_id
from .allergies import conflicts, drug_text

# code -> (plain language, doses per day or None when it cannot be counted)
FREQUENCIES = {
    "OD": ("once a day", 1), "BD": ("twice a day", 2), "TDS": ("three times a day", 3),
    "QID": ("four times a day", 4), "MANE": ("every morning", 1), "NOCTE": ("at night", 1),
    "QXH": ("every N hours", None), "PRN": ("when needed", None), "STAT": ("once, now", None),
}
ROUTES = ("by mouth", "on the skin", "in the eye", "in the ear", "in the nose", "inhaled", "by injection (IM)",
          "by injection (IV)", "by injection (SC)", "under the tongue", "rectally", "vaginally")
DOSE_UNITS = ("tablet", "capsule", "ml", "mg", "g", "mcg", "puff", "drop", "sachet", "patch", "unit",
              "application")
# Dispensing units handed over whole whatever the dose: a tube of cream is one unit.
WHOLE_UNITS = {"tube", "vial", "unit"}
ACTIVE = ("issued", "partly_dispensed", "dispensed")


class PrescriptionError(refusals.Refused):
    """A refused use case: str(exc) is for the user; `errors` maps line index -> message."""

    def __init__(self, message, errors=None):
        super().__init__(message)
        self.errors = errors or {}


class LineError(str):
    """A line's problem (a str, as the API shows it) that knows the form field it belongs beside."""

    def __new__(cls, message, field="medicine_id"):
        error = super().__new__(cls, message)
        error.field = field
        return error


class Conflict(PrescriptionError, refusals.Conflict):
    """Not a draft any more, or a signed visit without an amendment reason (409)."""


class NeedsOverride(PrescriptionError):
    """Allergy matches without an override reason, or duplicates not acknowledged.

    `allergy`: {line index: [reasons]}; `duplicates`: {line index: [reasons]}."""

    status = 409

    def __init__(self, allergy, duplicates):
        super().__init__("Check the warnings below before saving this prescription.")
        self.allergy, self.duplicates = allergy, duplicates


def per_day(frequency, every_hours=None):
    if frequency == "QXH":
        return 24 / every_hours if every_hours else None
    return FREQUENCIES.get(frequency, (None, None))[1]


def compute_quantity(unit, dose, dose_unit, frequency, every_hours=None, duration_days=None):
    """Units to hand over: dose x doses a day x days, in the dispensing unit; None when that
    cannot be worked out (PRN, a dose in mg of a tablet, no duration). Whole units (a tube of
    cream, a vial) are 1. STAT is one dose."""
    if unit in WHOLE_UNITS:
        return 1
    if not dose or dose_unit != unit:
        return None
    if frequency == "STAT":
        return math.ceil(dose)
    daily = per_day(frequency, every_hours)
    if not daily or not duration_days:
        return None
    return math.ceil(round(dose * daily * duration_days, 6))


def frequency_text(line):
    if line.frequency == "QXH":
        return f"every {line.every_hours} hours" if line.every_hours else "every few hours"
    return FREQUENCIES.get(line.frequency, (line.frequency or "", None))[0]


_UNCOUNTED = ("ml", "mg", "g", "mcg")


def _plural(unit):
    return unit if not unit or unit in _UNCOUNTED else f"{unit}s"


def amount_text(value, unit):
    """A quantity in a unit, for people: '336 tablets', '1 tube', '250 ml'."""
    if value is None:
        return ""
    shown = f"{int(value):,}" if value == int(value) else f"{value:g}"
    return f"{shown} {unit if value == 1 else _plural(unit)}".strip() if unit else shown


def line_text(line):
    """'Take 1 capsule by mouth three times a day for 5 days.' for the patient and the print-out."""
    parts = []
    if line.dose:
        verb = "Apply" if line.route == "on the skin" else "Use" if line.route in ("inhaled", "in the eye",
                                                                                  "in the ear", "in the nose") \
            else "Take"
        parts.append(f"{verb} {amount_text(line.dose, line.dose_unit)}")
    if line.route:
        parts.append(line.route)
    if line.frequency:
        parts.append(frequency_text(line))
    if line.duration_days:
        parts.append(f"for {line.duration_days} day{'s' if line.duration_days != 1 else ''}")
    text = " ".join(parts)
    return (text[:1].upper() + text[1:] + ".") if text else ""


def line_name(line):
    return line.medicine_name if line.is_catalogue else line.free_text


def line_quantity_text(line):
    if line.quantity is None:
        return ""
    return amount_text(line.quantity, line.unit or "") if line.is_catalogue else str(line.quantity)


def _line_summary(line):
    """A line as the audit log keeps it: 'name — directions (quantity)'."""
    return f"{line_name(line)} — {line_text(line)} ({line_quantity_text(line)})"


# -- building lines -------------------------------------------------------------------


def build_line(data):
    """A PrescriptionLine from form/API data: {medicine_id | free_text, dose, dose_unit, route, frequency,
    every_hours, duration_days, quantity (None: computed), refills, instructions}; (line, medicine, error)."""
    medicine = None
    if data.get("medicine_id"):
        # Checked before the query: a malformed id must read as "not in the catalogue", not fail.
        if not ObjectId.is_valid(str(data["medicine_id"])):
            return None, None, LineError("Choose a medicine from this clinic's catalogue.")
        medicine = Medicine.objects(pk=str(data["medicine_id"]), active=True).first()
        if medicine is None:
            return None, None, LineError("Choose a medicine from this clinic's catalogue.")
    elif not (data.get("free_text") or "").strip():
        return None, None, LineError("Choose a medicine or write one in.")
    line = PrescriptionLine(
        dose=data.get("dose"), dose_unit=data.get("dose_unit") or None, route=data.get("route") or None,
        frequency=data.get("frequency") or None, every_hours=data.get("every_hours") or None,
        duration_days=data.get("duration_days") or None, refills=data.get("refills") or 0,
        instructions=(data.get("instructions") or "").strip() or None, dispensed=0)
    if line.frequency == "QXH" and not line.every_hours:
        return None, medicine, LineError("Say every how many hours.", "every_hours")
    if medicine is not None:
        line.medicine_id, line.medicine_name, line.form = medicine.pk, medicine.label, medicine.form
        line.generic_lc, line.unit = medicine.generic_lc or medicine.name_lc, medicine.dispensing_unit
    else:
        line.free_text = data["free_text"].strip()
    quantity = data.get("quantity")
    if quantity is None and medicine is not None:
        quantity = compute_quantity(line.unit, line.dose, line.dose_unit, line.frequency, line.every_hours,
                                    line.duration_days)
        if quantity is None:
            return line, medicine, LineError(f"Enter the quantity in {_plural(line.unit)}: it cannot be worked "
                                             "out from this dose, frequency and duration.", "quantity")
    line.quantity = quantity
    return line, medicine, None


def warnings_for(patient, lines, medicines, exclude=None):
    """({index: [allergy reasons]}, {index: [duplicate-therapy reasons]}) for these lines."""
    allergy, duplicates = {}, {}
    generics = [ln.generic_lc for ln in lines if ln.generic_lc]
    active = {}
    if generics:
        qs = Prescription.objects(patient=patient, status__in=list(ACTIVE), generics__in=generics,
                                  active_until__gte=clock.now())
        if exclude is not None:
            qs = qs.filter(pk__ne=exclude)
        for p in qs.only("id", "generics", "lines", "created_at").limit(20):
            for g in p.generics:
                active.setdefault(g, p)
    seen = {}
    for i, (line, medicine) in enumerate(zip(lines, medicines)):
        found = conflicts(patient.allergies, drug_text(medicine, line.free_text), line_name(line))
        if found:
            allergy[i] = found
        g = line.generic_lc
        if g and g in active:
            duplicates.setdefault(i, []).append(
                f"{patient.full_name} already has an active prescription of {g} "
                f"(from {local_date(active[g].created_at)}).")
        if g and g in seen:
            duplicates.setdefault(i, []).append(f"{g} is already on line {seen[g] + 1} of this prescription.")
        seen.setdefault(g, i)
    return allergy, duplicates


def warnings_of(prescription):
    """warnings_for() the lines a prescription already has (a draft being reviewed or issued)."""
    ids = [ln.medicine_id for ln in prescription.lines if ln.is_catalogue]
    found = {m.pk: m for m in Medicine.objects(pk__in=ids)} if ids else {}
    medicines = [found.get(ln.medicine_id) for ln in prescription.lines]
    return warnings_for(prescription.patient, prescription.lines, medicines, exclude=prescription.pk)


def draft_rows(prescription):
    """The form's data for editing a draft: {"lines": [row, ...]}. A quantity that was worked out
    is left blank, so it is worked out again when the dose or the duration changes."""
    rows = []
    for ln in prescription.lines:
        computed = compute_quantity(ln.unit, ln.dose, ln.dose_unit, ln.frequency, ln.every_hours, ln.duration_days)
        rows.append({"medicine_id": str(ln.medicine_id) if ln.medicine_id else "", "free_text": ln.free_text,
                     "dose": f"{ln.dose:g}" if ln.dose else None, "dose_unit": ln.dose_unit or "", "route": ln.route or "",
                     "frequency": ln.frequency or "", "every_hours": ln.every_hours,
                     "duration_days": ln.duration_days,
                     "quantity": None if ln.is_catalogue and ln.quantity == computed else ln.quantity,
                     "refills": ln.refills or None, "instructions": ln.instructions})
    return {"lines": rows}


def _active_until(lines, now):
    days = max([ln.duration_days or 0 for ln in lines] or [0]) or 30  # no duration: treat as a month
    return now + timedelta(days=days)


def _overrides(overrides):
    return {int(k): (v or "").strip() for k, v in (overrides or {}).items() if (v or "").strip()}


def _checked(patient, rows, overrides, confirm_duplicates, exclude=None):
    """(lines, allergy matches, duplicates) for line `rows` once every check has passed.

    Raises PrescriptionError (bad lines, with per-line errors) or NeedsOverride."""
    if not rows:
        raise PrescriptionError("Add at least one line.")
    lines, medicines, errors = [], [], {}
    for i, row in enumerate(rows):
        line, medicine, error = build_line(row)
        if error:
            errors[i] = error
        lines.append(line)
        medicines.append(medicine)
    if errors:
        raise PrescriptionError("Some lines need attention.", errors)
    allergy, duplicates = warnings_for(patient, lines, medicines, exclude=exclude)
    if any(i not in overrides for i in allergy) or (duplicates and not confirm_duplicates):
        raise NeedsOverride(allergy, duplicates)
    return lines, allergy, duplicates


def _record_warnings(prescription, lines, allergy, duplicates):
    for o in prescription.overrides:
        if o.line in allergy:
            audit.record("prescription.allergy_override", target=prescription, changes={
                "line": o.line + 1, "medicine": line_name(lines[o.line]), "reason": o.reason,
                "matches": o.matches})
    if duplicates:
        audit.record("prescription.duplicate_confirmed", target=prescription,
                     changes={"lines": [i + 1 for i in sorted(duplicates)]})


def create(visit, rows, user, issue=True, overrides=None, confirm_duplicates=False, amendment_reason=None):
    """A prescription for `visit`'s patient from line `rows`; returns it.

    overrides: {line index: reason} for allergy matches. Raises PrescriptionError (bad lines, with
    per-line errors), NeedsOverride (allergy matches without a reason, duplicates unconfirmed),
    Conflict (a signed visit without an amendment reason).
    """
    overrides = _overrides(overrides)
    patient = visit.patient
    lines, allergy, duplicates = _checked(patient, rows, overrides, confirm_duplicates)
    if visit.locked and not (amendment_reason or "").strip():
        raise Conflict("This visit is signed: a prescription added now is an amendment. Give the reason.")
    now = clock.now()
    prescription = Prescription(
        visit=visit, patient=patient, prescriber=user, lines=lines, status="issued" if issue else "draft",
        generics=sorted({ln.generic_lc for ln in lines if ln.generic_lc}), created_at=now,
        issued_at=now if issue else None, active_until=_active_until(lines, now),
        overrides=[AllergyOverride(line=i, reason=overrides[i], matches=allergy[i], by_id=user.pk, at=now)
                   for i in sorted(allergy)],
        after_signing=visit.locked,
        amendment_reason=((amendment_reason or "").strip() or None) if visit.locked else None)
    prescription.save()
    audit.record("prescription.create", target=prescription, changes={
        "visit": str(visit.pk), "patient": str(patient.pk), "status": prescription.status,
        "lines": [line_name(ln) for ln in lines]})
    _record_warnings(prescription, lines, allergy, duplicates)
    if visit.locked:
        _amend_visit(visit, prescription, user)
    return prescription


def may_edit(prescription, user):
    """A draft can be edited by the doctor who wrote it, or by an Admin."""
    return prescription.status == "draft" and (user.pk == ref_id(prescription, "prescriber") or user.role.is_admin)


def update_draft(prescription, rows, user, issue=False, overrides=None, confirm_duplicates=False,
                 amendment_reason=None):
    """Replace a draft's lines, with the same checks as writing it (allergy, duplicate therapy);
    `issue`: issue it in the same step. Returns the prescription.

    The write is conditional on the prescription still being a draft, so an edit racing an
    "Issue" or a cancel loses instead of changing an issued prescription. A draft of a signed
    visit is part of that visit: changing it is an amendment, with a reason. Raises
    PrescriptionError, NeedsOverride, Conflict (no longer a draft; signed visit without a reason).
    """
    if prescription.status != "draft":
        raise Conflict("Only a draft can be edited; an issued prescription cannot change.")
    overrides = _overrides(overrides)
    visit = prescription.visit
    lines, allergy, duplicates = _checked(prescription.patient, rows, overrides, confirm_duplicates,
                                          exclude=prescription.pk)
    signed = visit is not None and visit.locked
    reason = (amendment_reason or "").strip() or None
    if signed and not reason:
        raise Conflict("This visit is signed: changing its prescription is an amendment. Give the reason.")
    now = clock.now()
    old = [_line_summary(ln) for ln in prescription.lines]
    new_overrides = [AllergyOverride(line=i, reason=overrides[i], matches=allergy[i], by_id=user.pk, at=now)
                     for i in sorted(allergy)]
    fields = {"set__lines": lines, "set__generics": sorted({ln.generic_lc for ln in lines if ln.generic_lc}),
              "set__overrides": new_overrides, "set__active_until": _active_until(lines, now)}
    if signed:
        fields.update(set__after_signing=True, set__amendment_reason=reason)
    if issue:
        fields.update(set__status="issued", set__issued_at=now)
    if not Prescription.objects(pk=prescription.pk, status="draft").update_one(**fields):
        raise Conflict("This prescription was issued or cancelled meanwhile: it can no longer be edited.")
    prescription.reload()
    audit.record("prescription.update", target=prescription, changes={
        "lines": {"old": old, "new": [_line_summary(ln) for ln in lines]},
        **({"status": {"old": "draft", "new": "issued"}} if issue else {})})
    _record_warnings(prescription, lines, allergy, duplicates)
    if signed:
        _amend_visit(visit, prescription, user, old="; ".join(old))
    return prescription


def _amend_visit(visit, prescription, user, old=None):
    """A prescription added to (or a draft changed on) a signed visit is recorded on it as an
    amendment (the note is unchanged)."""
    summary = "; ".join(f"{line_name(ln)} — {line_text(ln)}".strip(" —") for ln in prescription.lines)
    amendment = Amendment(at=clock.now(), by_id=user.pk, by=user.name, reason=prescription.amendment_reason,
                          changes={"prescription": {"old": old, "new": summary}})
    Visit.objects(pk=visit.pk, status="signed").update_one(push__amendments=amendment)
    audit.record("visit.amend", target=visit, changes={
        "reason": prescription.amendment_reason, "fields": ["prescription"],
        "prescription": str(prescription.pk)})


def issue(prescription):
    """Draft -> issued (conditional: of two clicks one wins). Raises Conflict, also when a line now
    matches an allergy recorded since the draft was saved (the draft's edit page reviews it)."""
    if prescription.status == "draft":
        allergy, _ = warnings_of(prescription)
        overridden = {o.line for o in prescription.overrides}
        new = {i: r for i, r in allergy.items() if i not in overridden}
        if new:
            raise Conflict(" ".join(f"Line {i + 1}: {r[0]}" for i, r in sorted(new.items()))
                           + " Recorded since this draft was saved: edit the draft to review it before issuing.")
    now = clock.now()
    done = Prescription.objects(pk=prescription.pk, status="draft").update_one(set__status="issued",
                                                                              set__issued_at=now)
    if not done:
        raise Conflict("Only a draft prescription can be issued; this one has moved on.")
    prescription.reload()
    audit.record("prescription.issue", target=prescription, changes={"status": {"old": "draft", "new": "issued"}})
    return prescription


def cancel(prescription, reason):
    """Cancel with a reason (nothing more can be dispensed; what was dispensed stays). Raises PrescriptionError/Conflict."""
    reason = (reason or "").strip()
    if not reason:
        raise PrescriptionError("Give the reason for cancelling.")
    before = Prescription.objects(pk=prescription.pk, status__in=["draft", "issued", "partly_dispensed"]).modify(
        new=False, set__status="cancelled", set__cancel_reason=reason, set__cancelled_at=clock.now())
    if before is None:
        raise Conflict("This prescription is already fully dispensed or cancelled.")
    prescription.reload()
    audit.record("prescription.cancel", target=prescription,
                 changes={"status": {"old": before.status, "new": "cancelled"}, "reason": reason})
    return prescription


def recent(status=None, patient=None):
    qs = Prescription.objects
    if patient is not None:
        qs = qs.filter(patient=patient)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at")


def queue():
    """Prescriptions waiting at the dispensary, oldest first."""
    return Prescription.objects(status__in=["issued", "partly_dispensed"]).order_by("created_at")
