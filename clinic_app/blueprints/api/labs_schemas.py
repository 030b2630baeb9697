"""Strict request bodies and JSON shapes of the laboratory API."""
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from ...models.labs import PRIORITIES, ReferenceRange
from ...services.visits import ref_id
from .schemas import ObjectIdStr, Strict, iso_or_none

Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)]
# A numeric result may come as a JSON number or a string ("5.1"); choice/text results as strings.
Value = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)] | int | float


class LabOrderIn(Strict):
    patient_id: ObjectIdStr
    visit_id: ObjectIdStr | None = None
    test_ids: Annotated[list[ObjectIdStr], Field(max_length=60)] = []
    panel_ids: Annotated[list[ObjectIdStr], Field(max_length=20)] = []
    priority: Literal[PRIORITIES] = "routine"
    note: Note | None = None
    # The ordering clinician: defaults to the signed-in user; required with an API token (it orders on
    # someone's behalf, and that person's dashboard gets the results).
    ordered_by_id: ObjectIdStr | None = None

    @model_validator(mode="after")
    def something_ordered(self):
        if not self.test_ids and not self.panel_ids:
            raise ValueError("give test_ids and/or panel_ids")
        return self


class ResultIn(Strict):
    test_id: ObjectIdStr
    value: Value


class ResultsIn(Strict):
    """POST /lab-orders/<id>/results: values only; flags are computed by the server."""

    results: Annotated[list[ResultIn], Field(min_length=1, max_length=60)]



def _range_json(r):
    if r is None:
        return None
    return {f: getattr(r, f) for f in ReferenceRange.FIELDS}


def lab_test_json(t):
    return {"id": str(t.pk), "code": t.code, "name": t.name, "loinc": t.loinc, "specimen": t.specimen,
            "result_type": t.result_type, "unit": t.unit, "decimals": t.decimals, "choices": list(t.choices or []),
            "normal_choices": list(t.normal_choices or []), "price": t.price, "active": t.active,
            "ranges": [_range_json(r) for r in t.ranges]}


def lab_result_json(r):
    return {"id": str(r.pk), "test_id": str(r.test_id), "code": r.code, "name": r.name,
            "result_type": r.result_type, "value": r.value, "unit": r.unit, "flag": r.flag,
            "range": _range_json(r.range), "range_text": r.range_text, "collected_at": iso_or_none(r.collected_at),
            "resulted_at": iso_or_none(r.resulted_at), "resulted_by": r.resulted_by, "needs_acknowledgement": r.needs_ack,
            "acknowledged_at": iso_or_none(r.acknowledged_at), "amendments": len(r.amendments or [])}


def lab_order_json(o, results=None):
    visit_id = ref_id(o, "visit")
    data = {
        "id": str(o.pk), "number": o.number, "patient_id": str(ref_id(o, "patient")),
        "visit_id": str(visit_id) if visit_id else None, "ordered_by_id": str(ref_id(o, "ordered_by")),
        "ordered_by": o.ordered_by_name, "ordered_at": iso_or_none(o.ordered_at), "priority": o.priority, "note": o.note,
        "status": o.status,
        "items": [{"test_id": str(i.test_id), "code": i.code, "name": i.name, "unit": i.unit,
                   "result_type": i.result_type, "price": i.price, "panel": i.panel} for i in o.items],
        "total_price": o.total_price,
        "specimen": None if o.specimen is None else {
            "collected_at": iso_or_none(o.specimen.collected_at), "collected_by": o.specimen.collected_by,
            "label": o.specimen.label},
        "resulted_at": iso_or_none(o.resulted_at), "reviewed_at": iso_or_none(o.reviewed_at), "reviewed_by": o.reviewed_by,
        "cancelled_at": iso_or_none(o.cancelled_at), "cancel_reason": o.cancel_reason,
        "abnormal_count": o.abnormal_count, "critical_count": o.critical_count,
    }
    if results is not None:
        data["results"] = [lab_result_json(r) for r in results]
    return data
