"""Gap-free per-clinic number series (invoices, credit notes), taken in the transaction that uses them.

`{prefix}-{year}-{n:06d}`, e.g. INV-2026-000123. The counter lives in the clinic's `counters`
collection (`invoice:2026`, or `invoice` when the clinic does not restart yearly); the year is the
clinic-local year at the moment of finalising. The increment and the write that puts the number on
its document run in ONE pymongo transaction: if anything fails (a conflict, the document changed, the
process dies) the transaction aborts and the increment with it, so no number is lost and none is
given twice. Concurrent finalisations conflict on the counter document; the loser's transaction is
retried by pymongo's `with_transaction` (TransientTransactionError / UnknownTransactionCommitResult).
"""
from zoneinfo import ZoneInfo

import mongoengine
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from ...models import Counter
from ...tenancy import current_tenant_id

SERIES = {"invoice": "invoice_prefix", "credit_note": "credit_note_prefix"}


class Changed(Exception):
    """The document was changed (or finalised) by someone else meanwhile; nothing was written."""


def local_year(now, timezone):
    """The clinic-local calendar year of `now` (31 Dec 23:59 in Tokyo is already next year in UTC-terms)."""
    return now.astimezone(ZoneInfo(timezone)).year


def series_name(kind, year, yearly_reset):
    return f"{kind}:{year}" if yearly_reset else kind


def format_number(prefix, year, n):
    return f"{prefix}-{year}-{n:06d}"


def transaction(callback):
    """Run `callback(session)` in one transaction on the default connection; returns its result.

    pymongo retries the whole callback on transient errors (write conflicts) and retries the
    commit when its outcome is unknown; any other exception aborts and propagates.
    """
    client = mongoengine.get_connection()
    with client.start_session() as session:
        return session.with_transaction(callback)


def _ensure_series(name):
    """Create the counter at 0 if missing, outside any transaction (an upsert inside one races:
    two first finalisations would both insert and one fail on the unique index)."""
    counters = Counter._get_collection()
    try:
        counters.update_one({"tenantId": current_tenant_id(), "name": name}, {"$setOnInsert": {"value": 0}},
                            upsert=True)
    except DuplicateKeyError:
        pass  # another request created it first


def prepare(kind, settings, now):
    """(series name, prefix, year) for a number of `kind` taken at `now`; creates the counter."""
    year = local_year(now, settings.timezone)
    name = series_name(kind, year, settings.invoice_yearly_reset)
    _ensure_series(name)
    return name, getattr(settings, SERIES[kind]), year


def take(session, name):
    """The next value of series `name`, inside the caller's transaction."""
    doc = Counter._get_collection().find_one_and_update(
        {"tenantId": current_tenant_id(), "name": name}, {"$inc": {"value": 1}},
        return_document=ReturnDocument.AFTER, session=session)
    return doc["value"]


def peek(kind, settings, now):
    """The number the next finalisation at `now` would get (for display only: not reserved)."""
    year = local_year(now, settings.timezone)
    doc = Counter.objects(name=series_name(kind, year, settings.invoice_yearly_reset)).first()
    return format_number(getattr(settings, SERIES[kind]), year, (doc.value if doc else 0) + 1)
