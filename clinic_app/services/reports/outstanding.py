"""Outstanding balances aged 0-30, 31-60, 61-90 and 90+ days from the invoice date, with patient and invoice.

Not bounded by a date range (every open invoice counts), so the page reads one page of invoices and
the totals come from one aggregation on the server; the CSV streams every row.
"""
import heapq
from datetime import timedelta
from itertools import islice

from ...models import Invoice
from ...models.invoicing import OPEN_STATUSES
from ...pagination import Page
from .common import Column, Range, Report, clinic_range, local_day

TITLE = "Outstanding balances (aged)"
BUCKETS = (("b0_30", "0–30 days", 30), ("b31_60", "31–60 days", 60), ("b61_90", "61–90 days", 90),
           ("b90", "Over 90 days", None))
COLUMNS = [Column("number", "Invoice"), Column("issued", "Issued", "date"), Column("patient", "Patient"),
           Column("record_number", "Record number"), Column("total", "Total", "money"), Column("age", "Age (days)",
                                                                                              "int")] + [
    Column(key, label, "money") for key, label, _ in BUCKETS]
PER_PAGE = 50
FIELDS = ("number", "issued_at", "patient_name", "record_number", "total", "balance")


def bucket(age):
    for key, _, limit in BUCKETS:
        if limit is None or age <= limit:
            return key
    return BUCKETS[-1][0]


def _each(qs):
    """Iterate a QuerySet without its result cache (a plain generator: heapq.merge needs one per stream)."""
    yield from qs.no_cache()


def _open(until, batch):
    """Open invoices issued before `until`, oldest first: one equality query per open status on
    {tenantId, status, issuedAt}, merged in date order (an $in on the status is not served by that index
    on SecantusDB)."""
    streams = [_each(Invoice.objects(status=status, issued_at__lt=until, balance__gt=0).only(*FIELDS)
                     .order_by("issued_at").batch_size(batch)) for status in OPEN_STATUSES]
    return heapq.merge(*streams, key=lambda i: i.issued_at)


def _row(inv, as_of):
    issued = local_day(inv.issued_at)
    age = max(0, (as_of - issued).days)
    row = {"number": inv.number, "issued": issued, "patient": inv.patient_name, "record_number": inv.record_number,
           "total": inv.total, "age": age, **{key: 0 for key, _, _ in BUCKETS}}
    row[bucket(age)] = inv.balance
    return row


def _totals(r, as_of):
    """The totals row from one aggregation: balances summed per age bucket (bucket edges are clinic-local
    midnights, so they agree with each row's age in days)."""
    edges = [(key, Range(as_of - timedelta(days=limit), as_of, r.zone).since) for key, _, limit in BUCKETS if limit]
    branches = [{"case": {"$gte": ["$issuedAt", since]}, "then": key} for key, since in edges]
    rows = Invoice.objects(status__in=list(OPEN_STATUSES), issued_at__lt=r.until, balance__gt=0).aggregate([
        {"$group": {"_id": {"$switch": {"branches": branches, "default": BUCKETS[-1][0]}},
                    "n": {"$sum": 1}, "balance": {"$sum": "$balance"}, "total": {"$sum": "$total"}}}])
    totals = {"total": 0, **{key: 0 for key, _, _ in BUCKETS}}
    for row in rows:
        totals[row["_id"]] += row["balance"]
        totals["total"] += row["total"]
    return totals


def run(start, end, page=None, stream=False, **options):
    """Balances as they stand now of the invoices issued up to `end` (the "as of" day), aged at `end`.

    `page` (1-based): that page of PER_PAGE rows, with the totals of all; else every row (a generator
    when `stream`)."""
    _, settings = clinic_range(start, end)
    r = Range(end, end, settings.timezone)
    totals = _totals(r, end)
    paged = None
    if page is not None:
        skip = (page - 1) * PER_PAGE
        rows = [_row(inv, end) for inv in islice(_open(r.until, min(500, skip + PER_PAGE + 1)), skip,
                                                   skip + PER_PAGE + 1)]
        paged = Page(rows[:PER_PAGE], page, PER_PAGE, len(rows) > PER_PAGE)
        rows = paged.items
    else:
        rows = (_row(inv, end) for inv in _open(r.until, 500))
        if not stream:
            rows = list(rows)
    return Report("outstanding", TITLE, COLUMNS, rows, totals=totals, currency=settings.currency, start=start,
                  end=end, page=paged,
                  notes=[f"Open invoices issued by {end.isoformat()}, with their balance due as it stands now, "
                         "aged at that day from their invoice date."])
