"""Prescriptions from a visit: lines, quantity computation, plain-language rendering, the allergy and
duplicate-therapy checks (an allergy match blocks until overridden with a reason, audited), issuing,
cancelling, and the amendment a prescription added to a signed visit becomes."""
import math
from datetime import timedelta

from ... import clock
from ...models import Medicine, Prescription, Visit
from ...models.clinical import Amendment
from ...models.pharmacy import AllergyOverride, PrescriptionLine
from .. import audit
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


class PrescriptionError(Exception):
    """A refused use case: str(exc) is for the user; `errors` maps line index -> message."""

    status = 422

    def __init__(self, message, errors=None):
        super().__init__(message)
        self.errors = errors or {}


class Conflict(PrescriptionError):
    status = 409


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


def _amount(value, unit):
    if value is None:
        return ""
    shown = f"{value:g}"
    plural = unit and value != 1 and unit not in ("ml", "mg", "g", "mcg")
    return f"{shown} {unit}{'s' if plural else ''}".strip()


def line_text(line):
    """'Take 1 capsule by mouth three times a day for 5 days.' for the patient and the print-out."""
    parts = []
    if line.dose:
        verb = "Apply" if line.route == "on the skin" else "Use" if line.route in ("inhaled", "in the eye",
                                                                                  "in the ear", "in the nose") \
            else "Take"
        parts.append(f"{verb} {_amount(line.dose, line.dose_unit)}")
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
    return _amount(line.quantity, line.unit or "") if line.is_catalogue else str(line.quantity)


# -- building lines -------------------------------------------------------------------


def build_line(data):
    """A PrescriptionLine from form/API data: {medicine_id | free_text, dose, dose_unit, route, frequency,
    every_hours, duration_days, quantity (None: computed), refills, instructions}; (line, medicine, error)."""
    medicine = None
    if data.get("medicine_id"):
        medicine = Medicine.objects(pk=data["medicine_id"], active=True).first()
        if medicine is None:
            return None, None, "Choose a medicine from this clinic's catalogue."
    elif not (data.get("free_text") or "").strip():
        return None, None, "Choose a medicine or write one in."
    line = PrescriptionLine(
        dose=data.get("dose"), dose_unit=data.get("dose_unit") or None, route=data.get("route") or None,
        frequency=data.get("frequency") or None, every_hours=data.get("every_hours") or None,
        duration_days=data.get("duration_days") or None, refills=data.get("refills") or 0,
        instructions=(data.get("instructions") or "").strip() or None, dispensed=0)
    if line.frequency == "QXH" and not line.every_hours:
        return None, medicine, "Say every how many hours."
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
            return line, medicine, (f"Enter the quantity in {line.unit}s: it cannot be worked out from this "
                                    "dose, frequency and duration.")
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
        found = conflicts(patient.allergies, drug_text(medicine, line.free_text))
        if found:
            allergy[i] = found
        g = line.generic_lc
        if g and g in active:
            duplicates.setdefault(i, []).append(
                f"{patient.full_name} already has an active prescription of {g} "
                f"(from {active[g].created_at:%Y-%m-%d}).")
        if g and g in seen:
            duplicates.setdefault(i, []).append(f"{g} is already on line {seen[g] + 1} of this prescription.")
        seen.setdefault(g, i)
    return allergy, duplicates


def _active_until(lines, now):
    days = max([ln.duration_days or 0 for ln in lines] or [0]) or 30  # no duration: treat as a month
    return now + timedelta(days=days)


def create(visit, rows, user, issue=True, overrides=None, confirm_duplicates=False, amendment_reason=None):
    """A prescription for `visit`'s patient from line `rows`; returns it.

    overrides: {line index: reason} for allergy matches. Raises PrescriptionError (bad lines, with
    per-line errors), NeedsOverride (allergy matches without a reason, duplicates unconfirmed),
    Conflict (a signed visit without an amendment reason).
    """
    overrides = {int(k): (v or "").strip() for k, v in (overrides or {}).items() if (v or "").strip()}
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
    patient = visit.patient
    allergy, duplicates = warnings_for(patient, lines, medicines)
    if any(i not in overrides for i in allergy) or (duplicates and not confirm_duplicates):
        raise NeedsOverride(allergy, duplicates)
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
    for o in prescription.overrides:
        audit.record("prescription.allergy_override", target=prescription, changes={
            "line": o.line + 1, "medicine": line_name(lines[o.line]), "reason": o.reason, "matches": o.matches})
    if duplicates:
        audit.record("prescription.duplicate_confirmed", target=prescription,
                     changes={"lines": [i + 1 for i in sorted(duplicates)]})
    if visit.locked:
        _amend_visit(visit, prescription, user)
    return prescription


def _amend_visit(visit, prescription, user):
    """A prescription added to a signed visit is recorded on it as an amendment (the note is unchanged)."""
    summary = "; ".join(f"{line_name(ln)} — {line_text(ln)}".strip(" —") for ln in prescription.lines)
    amendment = Amendment(at=clock.now(), by_id=user.pk, by=user.name, reason=prescription.amendment_reason,
                          changes={"prescription": {"old": None, "new": summary}})
    Visit.objects(pk=visit.pk, status="signed").update_one(push__amendments=amendment)
    audit.record("visit.amend", target=visit, changes={
        "reason": prescription.amendment_reason, "fields": ["prescription"],
        "prescription": str(prescription.pk)})


def issue(prescription):
    """Draft -> issued (conditional: of two clicks one wins). Raises Conflict."""
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
