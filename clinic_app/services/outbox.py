"""Outbox recovery and reading: nothing written to the outbox is lost.

`requeue_unsent(now)` runs every 2 minutes (clinic_app/cron.py) and, for
every clinic, re-enqueues what lost its job:
- `queued` for more than a minute with no live RQ job (Redis was down when
  the message was written, or Redis lost its data);
- `failed` with automatic attempts left and no live RQ job (its RQ retry was
  lost);
- `sending` whose lease expired (the worker died mid-send): back to `queued`
  ONCE, noted "Outcome unknown", then re-sent with the same Message-ID; a
  second expiry makes it `failed`, "Not re-sent automatically", for an
  operator (`retry`). The policy and why: services/notifications.py.
It is safe to run any number of times, concurrently too: a live job is never
doubled, and `deliver` claims atomically, so the worst case is a job that finds
nothing to claim.

Scale note: the unsent messages are found with one cross-tenant query on
`status` (no tenant-prefixed index can serve it). Unsent messages are few, but
the scan reads the whole collection; bench/REPORT.md measures it and names the
partial index it wants on a large outbox.
"""
import logging
from collections import Counter
from datetime import timedelta

from mongoengine.queryset.visitor import Q

from .. import clock
from ..models import OutboundMessage, Tenant
from ..tenancy import tenant_context
from .notifications import GAVE_UP, UNKNOWN_OUTCOME, enqueue_delivery, max_attempts, outcome_unknown

log = logging.getLogger(__name__)

QUEUED_GRACE = timedelta(minutes=1)  # a fresh message's own job is still on its way
PAGE_SIZE = 50


def _candidates(now):
    stale_queued = Q(status="queued") & Q(created_at__lt=now - QUEUED_GRACE)
    retryable = Q(status="failed") & Q(attempts__lt=max_attempts()) & Q(last_error__not__startswith=GAVE_UP)
    expired = Q(status="sending") & Q(lease_until__lt=now)
    return (OutboundMessage.all_tenants()  # cross-tenant on purpose: a sweep
            .filter(stale_queued | retryable | expired)
            .only("id", "tenant_id", "status", "attempts", "last_error", "lease_until", "kind", "to")
            .no_cache().batch_size(500))


def _recover_lease(message, now):
    """An expired lease: re-send once with the same Message-ID, or give up the second time."""
    expired = OutboundMessage.objects(pk=message.pk, status="sending", lease_until__lt=now,
                                      attempts=message.attempts)
    if not outcome_unknown(message):
        note = (f"{UNKNOWN_OUTCOME} the worker stopped during attempt {message.attempts} (lease expired); "
                "re-sent once with the same Message-ID")
        if expired.update(set__status="queued", set__last_error=note, unset__lease_until=True):
            # A new job id: the dead worker's job may still look "started" to RQ.
            enqueue_delivery(message, job_id=f"email-{message.pk}-lease{message.attempts}")
            return "lease_resent"
        return "raced"
    note = (f"{GAVE_UP} the worker stopped during attempt {message.attempts}, after an earlier attempt "
            "whose outcome is unknown too; retry it by hand if it did not arrive")
    return "lease_gave_up" if expired.update(set__status="failed", set__last_error=note,
                                             unset__lease_until=True) else "raced"


def requeue_unsent(now=None):
    """Re-enqueue every message that lost its job; returns counts by outcome."""
    now = now or clock.now()
    counts = Counter()
    tenant = None
    for message in _candidates(now):
        if tenant is None or tenant.pk != message.tenant_id:
            tenant = Tenant.objects(pk=message.tenant_id).only("id", "name", "subdomain", "status",
                                                                "subscription").first()
            if tenant is None:
                counts["orphaned"] += 1
                continue
        with tenant_context(tenant):
            if message.status == "sending":
                outcome = _recover_lease(message, now)
            else:
                outcome = f"{message.status}_requeued" if enqueue_delivery(message) else f"{message.status}_has_job"
        counts[outcome] += 1
    if counts:
        log.info("requeue_unsent: %s", dict(counts))
    return dict(counts)


def retry(message_id):
    """An operator's retry of a failed message (bound tenant): back to `queued` and enqueued.

    Returns the message, or None when it is not (or no longer) failed.
    """
    message = OutboundMessage.objects(pk=message_id, status="failed").modify(
        new=True, set__status="queued", set__last_error="Retried by hand.")
    if message is not None:
        enqueue_delivery(message)
    return message


def message_page(status=None, page=1, per_page=PAGE_SIZE):
    """This clinic's outbox, newest first, optionally one status; served by a tenant-prefixed index."""
    from .staff import Page

    qs = OutboundMessage.objects
    if status:
        qs = qs.filter(status=status)
    total = qs.count()
    pages = max(1, -(-total // per_page))
    number = min(max(1, page), pages)
    items = list(qs.order_by("-created_at").skip((number - 1) * per_page).limit(per_page)
                 .exclude("text_body", "html_body"))
    return Page(items, number, pages, total)
