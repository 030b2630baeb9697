"""Outstanding balances aged 0-30, 31-60, 61-90 and 90+ days from the invoice date, with patient and invoice."""
import heapq

from ...models import Invoice
from ...models.invoicing import OPEN_STATUSES
from .common import Column, Report, clinic_range, local_day

TITLE = "Outstanding balances (aged)"
BUCKETS = (("b0_30", "0–30 days", 30), ("b31_60", "31–60 days", 60), ("b61_90", "61–90 days", 90),
           ("b90", "Over 90 days", None))
COLUMNS = [Column("number", "Invoice"), Column("issued", "Issued", "date"), Column("patient", "Patient"),
           Column("record_number", "Record number"), Column("total", "Total", "money"), Column("age", "Age (days)",
                                                                                              "int")] + [
    Column(key, label, "money") for key, label, _ in BUCKETS]


def bucket(age):
    for key, _, limit in BUCKETS:
        if limit is None or age <= limit:
            return key
    return BUCKETS[-1][0]


def _each(qs):
    """Iterate a QuerySet without its result cache (a plain generator: heapq.merge needs one per stream)."""
    yield from qs.no_cache()


def _rows(as_of, totals):
    # One equality query per open status on {tenantId, status, issuedAt}, merged in date order
    # (an $in on the status is not served by that index on SecantusDB).
    fields = ("number", "issued_at", "patient_name", "record_number", "total", "balance")
    streams = [_each(Invoice.objects(status=status).only(*fields).order_by("issued_at").batch_size(500))
               for status in OPEN_STATUSES]
    for inv in heapq.merge(*streams, key=lambda i: i.issued_at):
        if inv.balance <= 0:  # cannot happen for an open status (settle() calls it paid); kept safe
            continue
        issued = local_day(inv.issued_at)
        age = max(0, (as_of - issued).days)
        row = {"number": inv.number, "issued": issued, "patient": inv.patient_name, "record_number": inv.record_number,
               "total": inv.total, "age": age, **{key: 0 for key, _, _ in BUCKETS}}
        row[bucket(age)] = inv.balance
        for key, _, _ in BUCKETS:
            totals[key] += row[key]
        totals["total"] += inv.total
        yield row


def run(start, end, **options):
    """Balances as they stand now, aged at `end` (the "as of" day)."""
    _, settings = clinic_range(start, end)
    totals = {"total": 0, **{key: 0 for key, _, _ in BUCKETS}}
    rows = _rows(end, totals)
    if not options.get("stream"):
        rows = list(rows)
    return Report("outstanding", TITLE, COLUMNS, rows, totals=totals, currency=settings.currency, start=start,
                  end=end, notes=[f"Open invoices with a balance due as they stand now, aged at {end.isoformat()} "
                                  "from their invoice date."])
