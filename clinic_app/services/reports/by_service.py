"""Invoiced by service: the lines of invoices finalised in the range, by price list item or description."""
from ...models import Invoice
from .common import Column, Report, clinic_range

TITLE = "Revenue by service (invoiced)"
COLUMNS = [Column("kind", "Kind"), Column("code", "Code"), Column("service", "Service"),
           Column("quantity", "Quantity", "int"), Column("net", "Net", "money"), Column("tax", "Tax", "money"),
           Column("total", "Total", "money")]
KINDS = {"service": "Service", "medicine": "Medicine", "lab": "Lab test", "other": "Other"}


def run(start, end, **options):
    r, settings = clinic_range(start, end)
    rows = Invoice.objects(**r.filter("issued_at")).aggregate([
        {"$unwind": "$lines"},
        {"$group": {"_id": {"kind": "$lines.kind", "code": "$lines.code", "name": "$lines.description"},
                    "quantity": {"$sum": "$lines.quantity"}, "net": {"$sum": "$lines.net"},
                    "tax": {"$sum": "$lines.tax"}}}])
    merged = {}
    for row in rows:  # a price list item is one row whatever its lines were called; free text by its words
        g = row["_id"]
        key = (g.get("kind"), g.get("code") or None, None if g.get("code") else g.get("name"))
        cur = merged.setdefault(key, {"kind": KINDS.get(g.get("kind"), g.get("kind") or ""),
                                      "code": g.get("code") or "", "service": g.get("name") or "",
                                      "quantity": 0, "net": 0, "tax": 0})
        cur["service"] = min(cur["service"], g.get("name") or "") or cur["service"]
        for k in ("quantity", "net", "tax"):
            cur[k] += row[k]
    out = [{**v, "total": v["net"] + v["tax"]} for v in merged.values()]
    out.sort(key=lambda x: (-x["total"], x["service"]))
    totals = {k: sum(x[k] for x in out) for k in ("quantity", "net", "tax", "total")}
    return Report("by_service", TITLE, COLUMNS, out, totals=totals, currency=settings.currency, start=start, end=end,
                  notes=["Lines of invoices finalised in the period (accrual), before credit notes and voids."])
