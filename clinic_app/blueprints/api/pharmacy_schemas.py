"""Pharmacy API bodies (strict, extra="forbid") and the JSON of its records."""
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from ...services.pharmacy.prescribing import DOSE_UNITS, FREQUENCIES, ROUTES, line_name, line_text
from ...services.visits import ref_id
from .schemas import ObjectIdStr, Strict, iso_or_none

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class LineIn(Strict):
    medicine_id: ObjectIdStr | None = None
    free_text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=250)] | None = None
    dose: Annotated[float, Field(gt=0, le=10000)] | None = None
    dose_unit: Literal[DOSE_UNITS] | None = None
    route: Literal[ROUTES] | None = None
    frequency: Literal[tuple(FREQUENCIES)] | None = None
    every_hours: Annotated[int, Field(ge=1, le=72)] | None = None
    duration_days: Annotated[int, Field(ge=1, le=365)] | None = None
    quantity: Annotated[int, Field(ge=0, le=100000)] | None = None  # null: computed
    refills: Annotated[int, Field(ge=0, le=12)] = 0
    instructions: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


class DraftIn(Strict):
    """A draft's new lines (PUT replaces them all), checked as when it was written; `issue` issues it too."""
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=10)]
    issue: bool = False
    # Line number (1-based, as a string key) -> reason to prescribe despite an allergy match.
    allergy_overrides: dict[Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]?$")], Reason] = {}
    confirm_duplicates: bool = False
    amendment_reason: Reason | None = None


class PrescriptionIn(DraftIn):
    visit_id: ObjectIdStr
    issue: bool = True


class CancelIn(Strict):
    reason: Reason


class DispenseIn(Strict):
    line: Annotated[int, Field(ge=1, le=10)]  # 1-based, as shown on the prescription
    quantity: Annotated[int, Field(ge=1, le=100000)]



def medicine_json(m, on_hand=None):
    return {"id": str(m.pk), "name": m.name, "generic_name": m.generic_name, "form": m.form, "strength": m.strength,
            "dispensing_unit": m.dispensing_unit, "pack_size": m.pack_size, "sale_price": m.sale_price,
            "reorder_level": m.reorder_level, "active": m.active,
            **({"usable_on_hand": on_hand} if on_hand is not None else {})}


def line_json(i, ln):
    return {"line": i + 1, "medicine_id": str(ln.medicine_id) if ln.medicine_id else None, "name": line_name(ln),
            "free_text": ln.free_text, "dose": ln.dose, "dose_unit": ln.dose_unit, "route": ln.route,
            "frequency": ln.frequency, "every_hours": ln.every_hours, "duration_days": ln.duration_days,
            "quantity": ln.quantity, "unit": ln.unit, "refills": ln.refills, "instructions": ln.instructions,
            "dispensed": ln.dispensed or 0, "remaining": ln.remaining if ln.is_catalogue else None,
            "directions": line_text(ln)}


def prescription_json(rx):
    visit_id = ref_id(rx, "visit")
    return {"id": str(rx.pk), "visit_id": str(visit_id) if visit_id else None,
            "patient_id": str(ref_id(rx, "patient")), "prescriber_id": str(ref_id(rx, "prescriber")),
            "status": rx.status, "created_at": iso_or_none(rx.created_at), "issued_at": iso_or_none(rx.issued_at),
            "after_signing": rx.after_signing, "cancel_reason": rx.cancel_reason,
            "allergy_overrides": [{"line": o.line + 1, "reason": o.reason, "matches": o.matches} for o in rx.overrides],
            "lines": [line_json(i, ln) for i, ln in enumerate(rx.lines)]}


def movement_json(m):
    return {"id": str(m.pk), "batch_id": str(ref_id(m, "batch")),
            "kind": m.kind, "quantity": m.quantity, "at": iso_or_none(m.at)}


def batch_json(b, today):
    return {"id": str(b.pk), "medicine_id": str(b.medicine.pk), "medicine": b.medicine.label, "lot": b.lot,
            "expiry": b.expiry.isoformat(), "expired": b.expiry < today, "on_hand": b.on_hand,
            "unit_cost": b.unit_cost, "supplier": b.supplier}
