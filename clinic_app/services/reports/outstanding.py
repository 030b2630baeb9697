"""Outstanding balances aged 0-30, 31-60, 61-90 and 90+ days from the invoice date, with patient and invoice,
as they stood at the end of the "as of" day.

Not bounded by a date range (every open invoice counts), so the page reads one page of invoices and
the totals come from one aggregation on the server; the CSV streams every row. A balance at a past day is
today's plus what was taken off it since (payments net of refunds, patient credit used, credit notes), and a
voided invoice counts until the day it was voided: only the invoices that moved since are read for that,
so a report as of today or yesterday costs what it did.
"""
import heapq
from collections import defaultdict
from datetime import timedelta
from itertools import islice

from ... import clock
from ...models import CreditNote, Invoice, PatientCredit, Payment
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


def _open(until, batch, moved):
    """(invoice, balance) of the invoices open now and issued before `until` that have not moved since,
    oldest first: one equality query per open status on {tenantId, status, issuedAt}, merged in date
    order (an $in on the status is not served by that index on SecantusDB)."""
    streams = [_each(Invoice.objects(status=status, issued_at__lt=until, balance__gt=0).only(*FIELDS)
                     .order_by("issued_at").batch_size(batch)) for status in OPEN_STATUSES]
    return ((inv, inv.balance) for inv in heapq.merge(*streams, key=lambda i: i.issued_at) if inv.pk not in moved)


def _taken_off_since(until):
    """{invoice id: what payments (net of refunds), credit used and credit notes took off its balance from
    `until` on}. A deleted payment needs nothing: one can be deleted only on the day it was received."""
    back = defaultdict(int)
    for p in Payment.objects(received_at__gte=until, status="recorded").only("invoice", "applied").as_pymongo():
        back[p["invoice"]] += p["applied"]
    for c in PatientCredit.objects(at__gte=until, kind="applied").only("invoice_id", "amount").as_pymongo():
        back[c["invoiceId"]] -= c["amount"]  # credit used is a negative ledger entry
    for n in CreditNote.objects(issued_at__gte=until).only("invoice", "total").as_pymongo():
        back[n["invoice"]] += n["total"]
    return back


def _moved(until):
    """{invoice id: (invoice, its balance at `until`)} for the invoices issued before `until` whose balance
    has changed since (paid, refunded, credited, voided). Read once per report, whatever the page."""
    back = _taken_off_since(until)
    ids = set(back) | {v["_id"] for v in Invoice.objects(status="void", voided_at__gte=until,
                                                         issued_at__lt=until).only("id").as_pymongo()}
    if not ids:
        return {}
    moved = {}
    for inv in Invoice.objects(pk__in=list(ids), issued_at__lt=until).only(
            *FIELDS, "status", "paid", "credit_applied", "credited", "voided_at"):
        if inv.status == "draft" or (inv.status == "void" and inv.voided_at < until):
            continue
        # What was due before any void (voiding needs nothing paid, so a void's due is its total).
        due = inv.total - inv.paid - inv.credit_applied - inv.credited
        moved[inv.pk] = (inv, due + back.get(inv.pk, 0))
    return moved


def _then(until, batch, moved):
    """(invoice, balance at `until`) of every invoice open then, oldest first."""
    extra = sorted(((inv, due) for inv, due in moved.values() if due > 0), key=lambda pair: pair[0].issued_at)
    return heapq.merge(_open(until, batch, moved), extra, key=lambda pair: pair[0].issued_at)


def _row(inv, as_of, balance):
    issued = local_day(inv.issued_at)
    age = max(0, (as_of - issued).days)
    row = {"number": inv.number, "issued": issued, "patient": inv.patient_name, "record_number": inv.record_number,
           "total": inv.total, "age": age, **{key: 0 for key, _, _ in BUCKETS}}
    row[bucket(age)] = balance
    return row


def _totals(r, as_of, moved):
    """The totals row: one aggregation sums today's open balances per age bucket (bucket edges are
    clinic-local midnights, so they agree with each row's age in days); the invoices that moved since
    `as_of` then count with their balance at that day instead."""
    edges = [(key, Range(as_of - timedelta(days=limit), as_of, r.zone).since) for key, _, limit in BUCKETS if limit]
    branches = [{"case": {"$gte": ["$issuedAt", since]}, "then": key} for key, since in edges]
    rows = Invoice.objects(status__in=list(OPEN_STATUSES), issued_at__lt=r.until, balance__gt=0).aggregate([
        {"$group": {"_id": {"$switch": {"branches": branches, "default": BUCKETS[-1][0]}},
                    "n": {"$sum": 1}, "balance": {"$sum": "$balance"}, "total": {"$sum": "$total"}}}])
    totals = {"total": 0, **{key: 0 for key, _, _ in BUCKETS}}
    for row in rows:
        totals[row["_id"]] += row["balance"]
        totals["total"] += row["total"]
    for inv, due in moved.values():
        key = bucket(max(0, (as_of - local_day(inv.issued_at)).days))
        if inv.status in OPEN_STATUSES and inv.balance > 0:  # counted above with today's balance
            totals[key] -= inv.balance
            totals["total"] -= inv.total
        if due > 0:
            totals[key] += due
            totals["total"] += inv.total
    return totals


def run(start, end, page=None, stream=False, **options):
    """Balances at the end of `end` (the "as of" day) of the invoices issued up to it, aged at `end`.

    `page` (1-based): that page of PER_PAGE rows, with the totals of all; else every row (a generator
    when `stream`)."""
    _, settings = clinic_range(start, end)
    r = Range(end, end, settings.timezone)
    moved = _moved(r.until) if r.until <= clock.now() else {}  # as of today: nothing has happened since
    totals = _totals(r, end, moved)
    paged = None
    if page is not None:
        skip = (page - 1) * PER_PAGE
        rows = [_row(inv, end, due) for inv, due in islice(_then(r.until, min(500, skip + PER_PAGE + 1), moved),
                                                          skip, skip + PER_PAGE + 1)]
        paged = Page(rows[:PER_PAGE], page, PER_PAGE, len(rows) > PER_PAGE)
        rows = paged.items
    else:
        rows = (_row(inv, end, due) for inv, due in _then(r.until, 500, moved))
        if not stream:
            rows = list(rows)
    return Report("outstanding", TITLE, COLUMNS, rows, totals=totals, currency=settings.currency, start=start,
                  end=end, page=paged,
                  notes=[f"Open invoices issued by {end.isoformat()}, with the balance due at the end of that day "
                         "(payments, refunds, credit used and credit notes since then added back), aged at that "
                         "day from their invoice date."])
