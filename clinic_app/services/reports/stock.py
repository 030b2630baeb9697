"""Stock: on-hand value at cost, expiring batches, low stock, and dispensed quantities per medicine."""
from collections import defaultdict

from ...models import Dispense, Medicine, StockBatch
from ..pharmacy import stock as pharmacy_stock
from ..visits import ref_id
from .common import Column, Report, clinic_range

VALUE_COLUMNS = [Column("medicine", "Medicine"), Column("on_hand", "On hand", "int"),
                 Column("batches", "Batches", "int"), Column("value", "Value at cost", "money")]
EXPIRING_COLUMNS = [Column("medicine", "Medicine"), Column("lot", "Lot"), Column("expiry", "Expiry", "date"),
                    Column("on_hand", "On hand", "int"), Column("value", "Value at cost", "money")]
LOW_COLUMNS = [Column("medicine", "Medicine"), Column("on_hand", "Usable on hand", "int"),
               Column("reorder_level", "Reorder level", "int")]
DISPENSED_COLUMNS = [Column("medicine", "Medicine"), Column("dispenses", "Dispenses", "int"),
                     Column("quantity", "Quantity", "int"), Column("value", "Value at sale price", "money")]


def _labels(ids):
    return {m.pk: m.label for m in Medicine.objects(pk__in=list(ids)).only("name", "strength", "form")} if ids else {}


def value(start, end, **options):
    """What is on the shelf now, valued at each batch's unit cost."""
    _, settings = clinic_range(start, end)
    per = defaultdict(lambda: {"on_hand": 0, "batches": 0, "value": 0})
    for b in StockBatch.objects(on_hand__gt=0).only("medicine", "on_hand", "unit_cost").no_cache():
        row = per[ref_id(b, "medicine")]
        row["on_hand"] += b.on_hand
        row["batches"] += 1
        row["value"] += b.on_hand * (b.unit_cost or 0)
    labels = _labels(per)
    out = sorted(({"medicine": labels.get(k, "?"), **v} for k, v in per.items()), key=lambda x: x["medicine"])
    return Report("stock_value", "Stock on hand at cost", VALUE_COLUMNS, out,
                  totals={k: sum(x[k] for x in out) for k in ("on_hand", "batches", "value")},
                  currency=settings.currency, start=start, end=end,
                  notes=["As it stands now: one row per medicine with stock."])


def expiring(start, end, **options):
    """Batches with stock expiring within the clinic's window (Settings: pharmacy expiry window)."""
    _, settings = clinic_range(start, end)
    batches = list(pharmacy_stock.batches("expiring"))
    labels = _labels({ref_id(b, "medicine") for b in batches})
    out = [{"medicine": labels.get(ref_id(b, "medicine"), "?"), "lot": b.lot,
            "expiry": b.expiry, "on_hand": b.on_hand, "value": b.on_hand * (b.unit_cost or 0)} for b in batches]
    return Report("stock_expiring", f"Expiring within {settings.expiry_window_days} days", EXPIRING_COLUMNS, out,
                  totals={"on_hand": sum(x["on_hand"] for x in out), "value": sum(x["value"] for x in out)},
                  currency=settings.currency, start=start, end=end)


def low(start, end, **options):
    _, settings = clinic_range(start, end)
    out = [{"medicine": m.label, "on_hand": n, "reorder_level": m.reorder_level or 0}
           for m, n in pharmacy_stock.low_stock()]
    return Report("stock_low", "Low stock", LOW_COLUMNS, out, currency=settings.currency, start=start, end=end,
                  notes=["Active medicines whose usable (unexpired) stock is at or below their reorder level."])


def dispensed(start, end, **options):
    r, settings = clinic_range(start, end)
    rows = Dispense.objects(status="active", **r.filter("at")).aggregate([
        {"$group": {"_id": "$medicine", "n": {"$sum": 1}, "quantity": {"$sum": "$quantity"},
                    "value": {"$sum": {"$multiply": ["$quantity", "$unitPrice"]}}}}])
    rows = list(rows)
    labels = _labels({row["_id"] for row in rows})
    out = sorted(({"medicine": labels.get(row["_id"], "?"), "dispenses": row["n"], "quantity": row["quantity"],
                   "value": row["value"]} for row in rows), key=lambda x: (-x["quantity"], x["medicine"]))
    return Report("dispensed", "Dispensed per medicine", DISPENSED_COLUMNS, out,
                  totals={k: sum(x[k] for x in out) for k in ("dispenses", "quantity", "value")},
                  currency=settings.currency, start=start, end=end, notes=["Cancelled dispenses are not counted."])
