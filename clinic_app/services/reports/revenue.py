"""Revenue by day, week or month: invoiced (accrual basis) and collected (cash basis) side by side."""
from collections import defaultdict

from ...models import CreditNote, Invoice, Payment
from .common import Column, Report, clinic_range, local_day, period_start, periods

TITLE = "Revenue by period"
COLUMNS = [
    Column("period", "Period starting", "date"),
    Column("invoiced", "Invoiced (accrual)", "money"),
    Column("credit_notes", "Credit notes (accrual)", "money"),
    Column("voided", "Voided (accrual)", "money"),
    Column("net_invoiced", "Net invoiced (accrual)", "money"),
    Column("tax", "Tax in net invoiced", "money"),
    Column("received", "Received (cash)", "money"),
    Column("refunded", "Refunded (cash)", "money"),
    Column("net_collected", "Net collected (cash)", "money"),
]
KEYS = [c.key for c in COLUMNS[1:]]


def run(start, end, period="day", **options):
    r, settings = clinic_range(start, end)
    rows = {p: defaultdict(int) for p in periods(start, end, period)}

    def add(at, key, amount):
        rows[period_start(local_day(at), period)][key] += amount

    for inv in Invoice.objects(**r.filter("issued_at")).only("issued_at", "total", "tax_total"):
        add(inv.issued_at, "invoiced", inv.total)
        add(inv.issued_at, "tax", inv.tax_total)
    for inv in Invoice.objects(**r.filter("voided_at")).only("voided_at", "status", "total", "tax_total"):
        if inv.status != "void":
            continue
        add(inv.voided_at, "voided", inv.total)
        add(inv.voided_at, "tax", -inv.tax_total)
    for cn in CreditNote.objects(**r.filter("issued_at")).only("issued_at", "total", "tax_total"):
        add(cn.issued_at, "credit_notes", cn.total)
        add(cn.issued_at, "tax", -cn.tax_total)
    for p in Payment.objects(**r.filter("received_at")).only("received_at", "amount", "method", "status"):
        if p.status != "recorded" or p.method == "credit":  # deleted, or a refund to credit: no money moved
            continue
        add(p.received_at, "received" if p.amount > 0 else "refunded", abs(p.amount))
    out = []
    for day in sorted(rows):
        row = rows[day]
        row["net_invoiced"] = row["invoiced"] - row["credit_notes"] - row["voided"]
        row["net_collected"] = row["received"] - row["refunded"]
        out.append({"period": day, **{k: row[k] for k in KEYS}})
    totals = {k: sum(x[k] for x in out) for k in KEYS}
    return Report("revenue", TITLE, COLUMNS, out, totals=totals, currency=settings.currency, start=start, end=end,
                  options={"period": period},
                  notes=["Accrual: what was invoiced, when it was finalised (credit notes and voids on their own "
                         "dates). Cash: money received and paid back, when it moved (refunds to patient credit "
                         "are not cash)."])
