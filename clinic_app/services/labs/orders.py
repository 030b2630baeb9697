"""Lab orders: place (from a visit or a patient), collect the specimen, cancel; the outstanding lists.

Every status change is one conditional update on the current status, so two desks acting at once
cannot both win (the second gets Conflict).
"""
from ... import clock
from ...models import Counter, LabOrder
from ...models.labs import WAITING, OrderItem, Specimen
from .. import audit
from ..errors import Conflict, NotAllowed, Refused  # noqa: F401  (NotAllowed: the lab views catch it here)
from ..visits import ref_id
from .catalogue import resolve


# The lab's name for the shared refusal (services/errors.py); Conflict: the order is not in a state that
# allows this (collected, cancelled, changed meanwhile).
LabError = Refused


def _moved(order, expected, now_status, **sets):
    """Move `order` from one of `expected` to `now_status` atomically; the updated order or Conflict."""
    updated = LabOrder.objects(pk=order.pk, status__in=list(expected)).modify(
        new=True, set__status=now_status, **{f"set__{k}": v for k, v in sets.items()})
    if updated is None:
        order.reload()
        raise Conflict(f"This order is {order.status} now, so nothing was changed.")
    return updated


def place(patient, user, test_ids=(), panel_ids=(), priority="routine", note=None, visit=None):
    """Order tests and/or panels for `patient` (optionally from `visit`); returns the LabOrder.

    Prices, names and units are copied from the catalogue now: billing and the report read the order,
    not today's catalogue. Raises LabError (archived patient, visit of another patient, nothing picked).
    """
    if not patient.active:
        raise LabError(f"{patient.full_name} is archived. Restore the patient before ordering tests.")
    if visit is not None and ref_id(visit, "patient") != patient.pk:
        raise LabError("This visit belongs to another patient.")
    picked = resolve(test_ids, panel_ids)
    items = [OrderItem(test_id=t.pk, code=t.code, name=t.name, unit=t.unit, result_type=t.result_type,
                       specimen=t.specimen, price=t.price or 0, panel=panel) for t, panel in picked]
    order = LabOrder(number=f"L{Counter.next('lab_order'):06d}", patient=patient, visit=visit, ordered_by=user,
                     ordered_by_name=user.name, ordered_at=clock.now(), priority=priority,
                     note=(note or "").strip() or None, items=items).save()
    audit.record("lab_order.create", target=order, changes={
        "patient": str(patient.pk), "visit": str(visit.pk) if visit else None, "priority": priority,
        "tests": [i.code for i in items], "total_price": order.total_price})
    return order


def collect(order, user, label=None, note=None, collected_at=None):
    """Record the specimen (who, when, its id/barcode); ordered -> collected. Raises Conflict."""
    specimen = Specimen(collected_at=collected_at or clock.now(), collected_by_id=user.pk, collected_by=user.name,
                        label=(label or "").strip() or None, note=(note or "").strip() or None)
    updated = _moved(order, ("ordered",), "collected", specimen=specimen)
    audit.record("lab_order.collect", target=updated, changes={
        "status": {"old": "ordered", "new": "collected"}, "specimen": specimen.label,
        "collected_at": specimen.collected_at.isoformat()})
    return updated


def cancel(order, user, reason):
    """Cancel a waiting order with a reason (cancelled orders are not billed). Raises LabError/Conflict."""
    reason = (reason or "").strip()
    if not reason:
        raise LabError("Give the reason for cancelling.")
    old = order.status
    if old not in WAITING:
        raise Conflict(f"This order is {old}: only an order still waiting for its results can be cancelled.")
    updated = _moved(order, WAITING, "cancelled", cancelled_at=clock.now(), cancelled_by=user.name,
                     cancel_reason=reason)
    audit.record("lab_order.cancel", target=updated, changes={"status": {"old": old, "new": "cancelled"},
                                                              "reason": reason})
    return updated


# -- lists --------------------------------------------------------------------


def outstanding(status=None, patient=None):
    """Orders still waiting (ordered / collected), oldest first; urgent ones are tagged in the list.

    Served by {tenantId, status, orderedAt} (or the patient-first twin); results never appear here.
    """
    statuses = [status] if status in WAITING else list(WAITING)
    qs = LabOrder.objects(status__in=statuses)
    if patient is not None:
        qs = qs.filter(patient=patient)
    return qs.order_by("ordered_at")


def for_patient(patient):
    """All of a patient's orders, newest first ({tenantId, patient, -orderedAt})."""
    return LabOrder.objects(patient=patient).order_by("-ordered_at")


def for_visit(visit):
    return LabOrder.objects(visit=visit).order_by("-ordered_at")
