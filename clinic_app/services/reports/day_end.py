"""Day-end reconciliation: money received by method and by staff member, refunds, the cash the till
should hold, invoices issued, credit notes, voids, credit used, deleted payments."""
from ...models.invoicing import REFUND_METHODS
from . import money
from .common import Column, Report, clinic_range

TITLE = "Day-end reconciliation"
COLUMNS = [Column("section", "Section"), Column("item", "Item"), Column("count", "Count", "int"),
           Column("amount", "Amount", "money")]


def run(start, end, **options):
    r, settings = clinic_range(start, end)
    rows = []
    by_method, by_staff = money.payments(r, "method"), money.payments(r, "receivedBy")
    for section, kind, grouped, label, sign in (
            ("Received by method", "received", by_method, lambda key: REFUND_METHODS.get(key, key), 1),
            ("Received by staff member", "received", by_staff, lambda key: key or "—", 1),
            ("Refunded by method", "refunded", by_method, lambda key: REFUND_METHODS.get(key, key), -1),
            ("Refunded by staff member", "refunded", by_staff, lambda key: key or "—", -1)):
        for (k, key), v in sorted(grouped.items(), key=lambda kv: kv[0][1] or ""):
            if k == kind:
                rows.append({"section": section, "item": label(key), "count": v["count"], "amount": sign * v["amount"]})
    s = money.summary(r)
    to_credit = by_method.get(("to_credit", "credit"), {"count": 0})
    deleted = money.deleted_payments(r)
    applied = money.credit_applied(r)
    rows += [
        {"section": "Totals", "item": "Received", "count": None, "amount": s["received"]},
        {"section": "Totals", "item": "Refunded", "count": None, "amount": s["refunded"]},
        {"section": "Totals", "item": "Net collected", "count": None, "amount": s["net_collected"]},
        {"section": "Totals", "item": "Net cash expected in the till", "count": None, "amount": s["cash_expected"]},
        {"section": "Not money", "item": "Refunded to patient credit", "count": to_credit["count"],
         "amount": s["refunded_to_credit"]},
        {"section": "Not money", "item": "Patient credit used on invoices", "count": applied["count"],
         "amount": s["credit_applied"]},
        {"section": "Invoicing", "item": "Invoices issued", "count": s["invoiced_count"], "amount": s["invoiced"]},
        {"section": "Invoicing", "item": "Credit notes", "count": s["credit_notes_count"], "amount": s["credit_notes"]},
        {"section": "Invoicing", "item": "Invoices voided", "count": s["voided_count"], "amount": s["voided"]},
        {"section": "Invoicing", "item": "Net invoiced", "count": None, "amount": s["net_invoiced"]},
        {"section": "Deleted (not counted)", "item": "Payments deleted", "count": deleted["count"],
         "amount": deleted["amount"]},
    ]
    return Report("day_end", TITLE, COLUMNS, rows, totals=None, currency=settings.currency, start=start, end=end,
                  notes=["Net collected = received − refunded by a payment method. Refunds to patient credit and "
                         "credit used move no money. Deleted payments are listed, not counted."],
                  options={"summary": s})
