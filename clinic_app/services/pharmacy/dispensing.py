"""Dispensing a prescription line, first-expiry-first-out, and cancelling a dispense.

Order of writes, each conditional so concurrent desks cannot over-dispense or drive stock negative:
1. reserve the units on the prescription line (`dispensed <= allowed - n`, `$inc`);
2. take from batches FEFO (unexpired, with stock, earliest expiry first), each with the guarded
   `$inc` + movement pair of stock.move(); a batch emptied meanwhile is skipped;
3. record the Dispense (lots and quantities, unit price and currency for billing).
A shortfall undoes what was taken (a "return" movement per batch) and the reservation.
"""
from bson import ObjectId

from ... import clock
from ...localtime import clinic_settings, local_date
from ...models import Dispense, Medicine, Prescription, StockBatch
from ...models.pharmacy import DispensedBatch
from .. import audit
from ..visits import ref_id
from .prescribing import amount_text
from .stock import NotEnoughStock, StockError, move, today


class DispenseError(StockError):
    """A refused dispense; str(exc) is for the user."""


def _refresh_status(prescription_id):
    """issued / partly_dispensed / dispensed from the lines as they now stand (never from cancelled)."""
    p = Prescription.objects(pk=prescription_id).only("id", "status", "lines").first()
    if p is None or p.status in ("draft", "cancelled"):
        return p
    catalogue = [ln for ln in p.lines if ln.is_catalogue and ln.allowed]
    if catalogue and all(ln.dispensed >= ln.allowed for ln in catalogue):
        status = "dispensed"
    elif any(ln.dispensed for ln in p.lines):
        status = "partly_dispensed"
    else:
        status = "issued"
    if status != p.status:
        Prescription.objects(pk=p.pk, status__in=["issued", "partly_dispensed", "dispensed"]).update_one(
            set__status=status)
        p.status = status
    return p


def _reserve(prescription, index, quantity):
    line = prescription.lines[index]
    done = Prescription.objects(__raw__={
        "_id": prescription.pk, "status": {"$in": ["issued", "partly_dispensed"]},
        f"lines.{index}.dispensed": {"$lte": line.allowed - quantity}}).update_one(
        __raw__={"$inc": {f"lines.{index}.dispensed": quantity}})
    if not done:
        raise DispenseError(f"That is more than is left to dispense on this line "
                            f"({Prescription.objects.get(pk=prescription.pk).lines[index].remaining} left).")


def _release(prescription_id, index, quantity):
    Prescription.objects(pk=prescription_id).update_one(__raw__={"$inc": {f"lines.{index}.dispensed": -quantity}})


def fefo_batches(medicine):
    """Unexpired batches with stock, earliest expiry first (then oldest received)."""
    return list(StockBatch.objects(medicine=medicine, on_hand__gt=0, expiry__gte=today())
                .order_by("expiry", "received_at"))


def dispense(prescription, index, quantity, user):
    """Hand over `quantity` units of line `index`; returns the Dispense (with the movements as `.movements`).

    Raises DispenseError: not dispensable, free-text line, bad quantity, over-dispensing, only expired
    stock, or not enough stock (nothing is changed then).
    """
    if not prescription.dispensable:
        raise DispenseError(f"This prescription is {prescription.status.replace('_', ' ')}: it cannot be dispensed.")
    if not 0 <= index < len(prescription.lines):
        raise DispenseError("There is no such line on this prescription.")
    line = prescription.lines[index]
    if not line.is_catalogue:
        raise DispenseError("This line is for an outside pharmacy: it is not dispensed here.")
    if not isinstance(quantity, int) or quantity < 1:
        raise DispenseError("Enter a quantity of at least 1.")
    medicine = Medicine.objects(pk=line.medicine_id).first()
    if medicine is None:
        raise DispenseError("This medicine is no longer in the catalogue.")
    _reserve(prescription, index, quantity)
    dispense_id, taken, movements = ObjectId(), [], []
    try:
        need = quantity
        candidates = fefo_batches(medicine)
        if not candidates:
            expired = StockBatch.objects(medicine=medicine, on_hand__gt=0, expiry__lt=today()).first()
            if expired is not None:
                raise DispenseError(f"Only expired stock is left (lot {expired.lot}, expired "
                                    f"{local_date(expired.expiry)}): it cannot be dispensed. Write it off.")
        for batch in candidates:
            while need and batch.on_hand > 0:
                take = min(need, batch.on_hand)
                try:
                    movements.append(move(batch.pk, medicine.pk, -take, "dispense", user, dispense_id=dispense_id))
                except NotEnoughStock:  # another desk took from this batch meanwhile: read it again
                    batch.reload()
                    continue
                taken.append((batch, take))
                batch.on_hand -= take
                need -= take
            if not need:
                break
        if need:
            have = quantity - need
            raise DispenseError(f"Not enough usable stock of {medicine.label}: "
                                f"{amount_text(have, medicine.dispensing_unit)} in unexpired batches, "
                                f"{quantity} asked for.")
        record = Dispense(
            id=dispense_id, prescription=prescription, line=index, visit=prescription._data.get("visit"),
            patient=prescription._data.get("patient"), medicine=medicine, medicine_name=medicine.label,
            quantity=quantity, unit_price=medicine.sale_price or 0, currency=clinic_settings().currency,
            batches=[DispensedBatch(batch_id=b.pk, lot=b.lot, expiry=b.expiry, quantity=n) for b, n in taken],
            by_id=user.pk, by=user.name, at=clock.now())
        Dispense.objects.insert(record, load_bulk=False)
    except Exception:
        for batch, n in taken:  # give back what was taken, through the ledger
            move(batch.pk, medicine.pk, n, "return", user, dispense_id=dispense_id, note="dispense not completed")
        _release(prescription.pk, index, quantity)
        raise
    _refresh_status(prescription.pk)
    audit.record("prescription.dispense", target=prescription, changes={
        "line": index + 1, "medicine": medicine.label, "quantity": quantity, "dispense": str(dispense_id),
        "lots": {b.lot: n for b, n in taken}})
    record.movements = movements
    return record


def cancel(dispense_record, reason, user):
    """Cancel a dispense: its units go back to their batches through "return" movements. Raises DispenseError."""
    reason = (reason or "").strip() or None
    before = Dispense.objects(pk=dispense_record.pk, status="active").modify(
        new=False, set__status="cancelled", set__cancelled_at=clock.now(), set__cancel_reason=reason)
    if before is None:
        raise DispenseError("This dispense is already cancelled.")
    movements = [move(b.batch_id, ref_id(before, "medicine"), b.quantity, "return", user, dispense_id=before.pk,
                      note=reason or "dispense cancelled") for b in before.batches]
    prescription_id = ref_id(before, "prescription")
    _release(prescription_id, before.line, before.quantity)
    _refresh_status(prescription_id)
    audit.record("dispense.cancel", target=before, changes={
        "quantity": before.quantity, "lots": {b.lot: b.quantity for b in before.batches}, "reason": reason})
    dispense_record.reload()
    return movements


def of_prescription(prescription):
    return list(Dispense.objects(prescription=prescription).order_by("at"))
