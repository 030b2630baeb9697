"""Stock batches and the movement ledger: receive, adjust, write off, and the lists built on them.

A batch's on-hand changes only through `move()`: one conditional `$inc` (a decrement carries an
`onHand >= n` guard, so stock never goes negative, also under concurrent requests; no
read-modify-write) followed by the append-only StockMovement insert. If the insert fails the
`$inc` is undone, so on-hand equals the sum of the batch's movements (`check_ledger()` proves it).
"""
import json
import logging
from datetime import datetime, timedelta

from mongoengine.errors import NotUniqueError
from redis.exceptions import RedisError

from ... import clock
from ...extensions import redis_conn
from ...localtime import clinic_settings, clinic_zone, local_date
from ...models import Medicine, StockBatch, StockMovement
from ...models.pharmacy import ADJUST_REASONS
from ...tenancy import current_tenant
from .. import audit
from ..errors import FieldRefused


class StockError(FieldRefused):
    """A refused stock operation; str(exc) is the message for the user, `field` the form field it is
    about (None: the whole operation)."""


class NotEnoughStock(StockError):
    status = 409


def today():
    """Today's date in the clinic's time zone ("expired" means expiry < today)."""
    return clock.now().astimezone(clinic_zone()).date()


def expiry_window_days():
    return getattr(clinic_settings(), "expiry_window_days", None) or 90


def _actor(user):
    return {"by_id": getattr(user, "pk", None), "by": getattr(user, "name", None)}


def _inc(batch_id, delta, **guard):
    # Raw $inc: the field's min_value=0 would refuse a negative increment as a value.
    return StockBatch.objects(pk=batch_id, **guard).update_one(__raw__={"$inc": {"onHand": delta}})


def _append(movement, undo):
    """Insert the movement of a change already made to its batch; should that fail, `undo()` the change
    (no movement, no change)."""
    try:
        StockMovement.objects.insert(movement, load_bulk=False)
    except Exception:
        undo()
        raise
    finally:
        forget_counts()


def move(batch_id, medicine_id, delta, kind, user=None, **fields):
    """Change a batch's on-hand by `delta` and append the movement; returns the StockMovement.

    Raises NotEnoughStock when a decrement would take the batch below zero (nothing changes).
    """
    if delta == 0:
        raise StockError("A stock movement must change the quantity.")
    guard = {"on_hand__gte": -delta} if delta < 0 else {}
    if not _inc(batch_id, delta, **guard):
        raise NotEnoughStock("There is not that much stock in this batch.", "quantity")
    movement = StockMovement(batch=batch_id, medicine=medicine_id, kind=kind, quantity=delta, at=clock.now(),
                             **_actor(user), **fields)
    _append(movement, lambda: _inc(batch_id, -delta))
    return movement


def receive(medicine, lot, expiry, quantity, unit_cost, supplier, user):
    """Receive `quantity` units of a lot (a lot received again adds to its batch); returns the batch.

    Raises StockError for a non-positive quantity, an archived medicine, an expiry in the past, or a
    known lot with another expiry date.
    """
    lot = (lot or "").strip()
    if quantity is None or quantity <= 0:
        raise StockError("Enter a quantity of at least 1.", "quantity")
    if not medicine.active:
        raise StockError("This medicine is archived: restore it before receiving stock.")
    if expiry < today():
        raise StockError("This lot has already expired: expired stock cannot be received.", "expiry")
    batch = StockBatch.objects(medicine=medicine, lot=lot).first()
    if batch is None:
        try:
            batch = StockBatch(medicine=medicine, lot=lot, expiry=expiry, on_hand=0, unit_cost=unit_cost or 0,
                               supplier=(supplier or "").strip() or None, received_at=clock.now()).save()
        except NotUniqueError:  # the same lot received at the same moment elsewhere
            batch = StockBatch.objects.get(medicine=medicine, lot=lot)
    if batch.expiry != expiry:
        raise StockError(f"Lot {lot} is already in stock with expiry {local_date(batch.expiry)}; "
                         "check the lot number or the date.", "expiry")
    move(batch.pk, medicine.pk, quantity, "receive", user)
    batch.reload()
    audit.record("stock.receive", target=batch, changes={
        "medicine": medicine.label, "lot": lot, "quantity": quantity, "expiry": expiry.isoformat(),
        "unit_cost": unit_cost or 0, "supplier": batch.supplier})
    return batch


def adjust(batch, delta, reason, note, user):
    """Add (+) or remove (-) units with a reason; returns the movement. Raises StockError/NotEnoughStock."""
    if reason not in ADJUST_REASONS:
        raise StockError("Choose a reason.", "reason")
    note = (note or "").strip() or None
    if reason == "other" and not note:
        raise StockError("Say why in the note when the reason is “other”.", "note")
    try:
        movement = move(batch.pk, batch.medicine.pk, delta, "adjust", user, reason=reason, note=note)
    except NotEnoughStock:
        left = StockBatch.objects(pk=batch.pk).only("on_hand").first()
        raise NotEnoughStock(f"Lot {batch.lot} has only {left.on_hand if left else 0} on hand: "
                             f"at most that can be removed.", "quantity") from None
    audit.record("stock.adjust", target=batch, changes={"quantity": delta, "reason": reason, "note": note})
    return movement


def write_off(batch, user):
    """Remove everything left in a batch (e.g. expired stock); returns the movement or None if empty."""
    before = StockBatch.objects(pk=batch.pk, on_hand__gt=0).modify(new=False, set__on_hand=0)
    if before is None:
        return None
    movement = StockMovement(batch=batch.pk, medicine=before.medicine.pk, kind="write_off",
                             quantity=-before.on_hand, reason="expired" if before.expiry < today() else None,
                             at=clock.now(), **_actor(user))
    _append(movement, lambda: _inc(batch.pk, before.on_hand))
    audit.record("stock.write_off", target=before, changes={"quantity": -before.on_hand, "lot": before.lot})
    return movement


# -- reading ----------------------------------------------------------------------


def usable_on_hand(medicine_ids=None):
    """{medicine id: units in unexpired batches} in one aggregate (for the page's medicines, or all)."""
    match = {"onHand": {"$gt": 0}, "expiry": {"$gte": _midnight(today())}}
    if medicine_ids is not None:
        match = {"medicine": {"$in": list(medicine_ids)}, **match}
    rows = StockBatch.objects.aggregate([{"$match": match}, {"$group": {"_id": "$medicine", "n": {"$sum": "$onHand"}}}])
    return {row["_id"]: row["n"] for row in rows}


def _midnight(day):
    return datetime(day.year, day.month, day.day)


def low_stock():
    """Active medicines whose usable on-hand is at or below their reorder level: [(medicine, on_hand)].

    Two queries whatever the catalogue's size (the catalogue is the clinic's shelf: hundreds, not millions).
    """
    totals = usable_on_hand()
    meds = Medicine.objects(active=True)
    rows = [(m, totals.get(m.pk, 0)) for m in meds if totals.get(m.pk, 0) <= (m.reorder_level or 0)]
    return sorted(rows, key=lambda r: (r[1] - (r[0].reorder_level or 0), r[0].name.lower()))


def batches(view="all"):
    """Batches with stock, by expiry: "all", "expiring" (within the clinic's window) or "expired"."""
    day = today()
    qs = StockBatch.objects(on_hand__gt=0)
    if view == "expiring":
        qs = qs.filter(expiry__gte=day, expiry__lte=day + timedelta(days=expiry_window_days()))
    elif view == "expired":
        qs = qs.filter(expiry__lt=day)
    return qs.order_by("expiry", "lot")


log = logging.getLogger(__name__)
# The dashboard and every stock page show these counts; working them out reads the whole catalogue
# and the clinic's batches, so they are kept in Redis for a minute and dropped whenever stock or the
# catalogue changes (forget_counts). What is left stale: a batch passing its expiry date, or a new
# expiry window, shows up within COUNTS_TTL seconds.
COUNTS_TTL = 60


def _counts_key():
    return f"clinic_app:pharmacy-counts:{current_tenant().pk}"


def compute_counts():
    """{"low": n, "expiring": n, "expired": n}, read from the database: 4 commands (and the clinic's
    settings, once per request)."""
    return {"low": len(low_stock()), "expiring": batches("expiring").count(), "expired": batches("expired").count()}


def counts():
    """Dashboard numbers {"low": n, "expiring": n, "expired": n}: one Redis read while cached."""
    key = _counts_key()
    try:
        cached = redis_conn().get(key)
        if cached:
            return json.loads(cached)
    except RedisError as exc:  # Redis away: the numbers still come, from the database
        log.warning("pharmacy counts cache unavailable: %s", exc)
        return compute_counts()
    found = compute_counts()
    try:
        redis_conn().set(key, json.dumps(found), ex=COUNTS_TTL)
    except RedisError:
        pass
    return found


def forget_counts():
    """Drop the cached counts of the bound clinic (after any change to stock or the catalogue)."""
    try:
        redis_conn().delete(_counts_key())
    except RedisError as exc:
        log.warning("pharmacy counts cache not cleared (stale for up to %s s): %s", COUNTS_TTL, exc)


def movements_of(batch):
    return StockMovement.objects(batch=batch).order_by("-at")


def check_ledger():
    """Batches whose on-hand differs from the sum of their movements: [(batch id, on_hand, ledger sum)].

    A mismatch is read twice (a movement being written at the first read is not a fault).
    """
    def sums():
        rows = StockMovement.objects.aggregate([{"$group": {"_id": "$batch", "n": {"$sum": "$quantity"}}}])
        return {row["_id"]: row["n"] for row in rows}

    def bad():
        ledger = sums()
        found = []
        for b in StockBatch.objects.only("id", "on_hand"):
            if ledger.get(b.pk, 0) != b.on_hand:
                found.append((b.pk, b.on_hand, ledger.get(b.pk, 0)))
        return found

    first = bad()
    if not first:
        return []
    again = {row[0]: row for row in bad()}
    return [again[pk] for pk, _, _ in first if pk in again]
