"""The money movements of a date range, queried once here and shared by every financial report
(day-end, revenue, by practitioner), so their numbers cannot disagree.

Definitions (a movement belongs to the clinic-local day it happened on):
- invoiced: totals of invoices finalised in the range, whatever happened to them later;
- voided: totals of invoices voided in the range; credit notes: totals of credit notes issued in it;
- net invoiced (accrual) = invoiced - credit notes - voided;
- received: positive payments recorded in the range (deleted payments excluded), by their method;
- refunded: refunds by a payment method (money paid back); refunds to patient credit move no money
  and are counted apart ("refunded to credit");
- net collected (cash) = received - refunded; cash expected in the till = cash received - cash refunded;
- credit applied: patient credit used on invoices (no new money: it was collected when paid).

Each query selects its rows by the range alone (the QuerySet filter, so the scoped $match that starts
the pipeline is served by a {tenantId, <date>} index) and narrows further in a later stage.
"""
from ...models import CreditNote, Invoice, PatientCredit, Payment


def _totals(qs, by, amount="$total", tax="$taxTotal", then=None):
    rows = qs.aggregate(([{"$match": then}] if then else []) + [
        {"$group": {"_id": f"${by}" if by else None, "n": {"$sum": 1}, "total": {"$sum": amount},
                    "tax": {"$sum": tax}}}])
    return {row["_id"]: {"count": row["n"], "amount": row["total"], "tax": row["tax"]} for row in rows}


def invoiced(r, by=None):
    """{key: {count, amount, tax}} of invoices finalised in range `r` (key None, or `by`'s stored field)."""
    return _totals(Invoice.objects(**r.filter("issued_at")), by)


def voided(r, by=None):
    return _totals(Invoice.objects(**r.filter("voided_at")), by, then={"status": "void"})


def credit_notes(r, by=None):
    return _totals(CreditNote.objects(**r.filter("issued_at")), by)


def payments(r, by="method"):
    """{(kind, key): {count, amount}}: kind "received" (amount > 0), "refunded" (< 0, by a payment
    method) or "to_credit" (refunds to patient credit), grouped by `by` (a stored field: method,
    receivedBy, practitionerId)."""
    rows = Payment.objects(**r.filter("received_at")).aggregate([
        {"$match": {"status": "recorded"}},
        {"$group": {"_id": {"key": f"${by}", "method": "$method", "refund": {"$lt": ["$amount", 0]}},
                    "n": {"$sum": 1}, "total": {"$sum": "$amount"}}}])
    out = {}
    for row in rows:
        g = row["_id"]
        kind = "received" if not g.get("refund") else ("to_credit" if g.get("method") == "credit" else "refunded")
        cur = out.setdefault((kind, g.get("key")), {"count": 0, "amount": 0})
        cur["count"] += row["n"]
        cur["amount"] += row["total"]
    return out


def deleted_payments(r):
    """Payments deleted whose recording fell in the range: listed on the day-end, counted nowhere else."""
    row = _totals(Payment.objects(**r.filter("received_at")), None, amount="$amount", tax="$applied",
                  then={"status": "deleted"}).get(None)
    return {"count": row["count"], "amount": row["amount"]} if row else {"count": 0, "amount": 0}


def credit_applied(r):
    row = _totals(PatientCredit.objects(**r.filter("at")), None, amount="$amount", tax="$amount",
                  then={"kind": "applied"}).get(None)
    return {"count": row["count"], "amount": -row["amount"]} if row else {"count": 0, "amount": 0}


def summary(r):
    """The headline figures of range `r` (see the module docstring for each definition)."""
    inv, vd, cn = invoiced(r).get(None, {}), voided(r).get(None, {}), credit_notes(r).get(None, {})
    pay = payments(r)
    received = sum(v["amount"] for (k, _), v in pay.items() if k == "received")
    refunded = -sum(v["amount"] for (k, _), v in pay.items() if k == "refunded")
    to_credit = -sum(v["amount"] for (k, _), v in pay.items() if k == "to_credit")
    cash_in = pay.get(("received", "cash"), {}).get("amount", 0)
    cash_out = -pay.get(("refunded", "cash"), {}).get("amount", 0)
    return {
        "invoiced": inv.get("amount", 0), "invoiced_count": inv.get("count", 0), "invoiced_tax": inv.get("tax", 0),
        "voided": vd.get("amount", 0), "voided_count": vd.get("count", 0), "voided_tax": vd.get("tax", 0),
        "credit_notes": cn.get("amount", 0), "credit_notes_count": cn.get("count", 0),
        "credit_notes_tax": cn.get("tax", 0),
        "net_invoiced": inv.get("amount", 0) - cn.get("amount", 0) - vd.get("amount", 0),
        "received": received, "refunded": refunded, "net_collected": received - refunded,
        "refunded_to_credit": to_credit, "cash_expected": cash_in - cash_out,
        "credit_applied": credit_applied(r)["amount"],
    }
