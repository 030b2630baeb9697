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
"""
from ...models import CreditNote, Invoice, PatientCredit, Payment


def invoiced(r, by=None):
    """[{key, count, amount, tax}] of invoices finalised in range `r` (key: None, or `by`'s stored field)."""
    rows = Invoice.objects.aggregate([
        {"$match": {**r.match("issuedAt"), "number": {"$exists": True}}},
        {"$group": {"_id": f"${by}" if by else None, "n": {"$sum": 1}, "total": {"$sum": "$total"},
                    "tax": {"$sum": "$taxTotal"}}}])
    return {row["_id"]: {"count": row["n"], "amount": row["total"], "tax": row["tax"]} for row in rows}


def voided(r, by=None):
    rows = Invoice.objects.aggregate([
        {"$match": {**r.match("voidedAt"), "status": "void"}},
        {"$group": {"_id": f"${by}" if by else None, "n": {"$sum": 1}, "total": {"$sum": "$total"},
                    "tax": {"$sum": "$taxTotal"}}}])
    return {row["_id"]: {"count": row["n"], "amount": row["total"], "tax": row["tax"]} for row in rows}


def credit_notes(r, by=None):
    rows = CreditNote.objects.aggregate([
        {"$match": r.match("issuedAt")},
        {"$group": {"_id": f"${by}" if by else None, "n": {"$sum": 1}, "total": {"$sum": "$total"},
                    "tax": {"$sum": "$taxTotal"}}}])
    return {row["_id"]: {"count": row["n"], "amount": row["total"], "tax": row["tax"]} for row in rows}


def payments(r, by="method"):
    """{(kind, key): {count, amount}}: kind "received" (amount > 0), "refunded" (< 0, by a payment
    method) or "to_credit" (refunds to patient credit), grouped by `by` (a stored field: method,
    receivedBy, practitionerId)."""
    out = {}
    for sign, cond in (("+", {"$gt": 0}), ("-", {"$lt": 0})):
        rows = Payment.objects.aggregate([
            {"$match": {**r.match("receivedAt"), "status": "recorded", "amount": cond}},
            {"$group": {"_id": {"key": f"${by}", "method": "$method"}, "n": {"$sum": 1},
                        "total": {"$sum": "$amount"}}}])
        for row in rows:
            g = row["_id"]
            kind = "received" if sign == "+" else ("to_credit" if g.get("method") == "credit" else "refunded")
            cur = out.setdefault((kind, g.get("key")), {"count": 0, "amount": 0})
            cur["count"] += row["n"]
            cur["amount"] += row["total"]
    return out


def deleted_payments(r):
    """Payments deleted whose recording fell in the range: listed on the day-end, counted nowhere else."""
    row = next(Payment.objects.aggregate([
        {"$match": {**r.match("receivedAt"), "status": "deleted"}},
        {"$group": {"_id": None, "n": {"$sum": 1}, "total": {"$sum": "$amount"}}}]), None)
    return {"count": row["n"], "amount": row["total"]} if row else {"count": 0, "amount": 0}


def credit_applied(r):
    row = next(PatientCredit.objects.aggregate([
        {"$match": {**r.match("at"), "kind": "applied"}},
        {"$group": {"_id": None, "n": {"$sum": 1}, "total": {"$sum": "$amount"}}}]), None)
    return {"count": row["n"], "amount": -row["total"]} if row else {"count": 0, "amount": 0}


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
