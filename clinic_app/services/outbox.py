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

Scale: only clinics whose `Tenant.outbox_pending_since` has come are visited
(an index on the tenants collection; `queue_email` keeps it with `$min`), and
each clinic's unsent messages are read on its {tenantId, status, createdAt}
index, so the job never scans the whole outbox.
"""
import logging
from collections import Counter
from datetime import timedelta

from .. import clock
from ..models import OutboundMessage, Tenant
from ..pagination import paginate
from ..tenancy import tenant_context
from .notifications import GAVE_UP, UNKNOWN_OUTCOME, enqueue_delivery, max_attempts, outcome_unknown

log = logging.getLogger(__name__)

QUEUED_GRACE = timedelta(minutes=1)  # a fresh message's own job is still on its way
PAGE_SIZE = 50


UNSENT = ("queued", "sending", "failed")


def _candidates(now):
    """The bound clinic's messages that lost their job (one indexed query per status)."""
    stale_queued = OutboundMessage.objects(status="queued", created_at__lt=now - QUEUED_GRACE)
    failed = OutboundMessage.objects(status="failed")
    sending = OutboundMessage.objects(status="sending")
    fields = ("id", "tenant_id", "status", "attempts", "last_error", "lease_until", "kind", "to", "created_at")
    for qs in (stale_queued, failed, sending):
        for message in qs.only(*fields).order_by("created_at").no_cache().batch_size(500):
            if message.status == "failed" and (message.attempts >= max_attempts()
                                               or (message.last_error or "").startswith(GAVE_UP)):
                continue
            if message.status == "sending" and (message.lease_until is None
                                                or clock.as_utc(message.lease_until) >= now):
                continue
            yield message


def _refresh_pending(tenant):
    """Set the clinic's outbox_pending_since to its oldest message still in flight, or unset it."""
    def oldest():
        for status in ("queued", "sending"):
            first = OutboundMessage.objects(status=status).order_by("created_at").only("created_at").first()
            if first is not None:
                yield first.created_at
        for msg in OutboundMessage.objects(status="failed").order_by("created_at").only(
                "created_at", "attempts", "last_error").no_cache():
            if msg.attempts < max_attempts() and not (msg.last_error or "").startswith(GAVE_UP):
                yield msg.created_at
                break

    found = min(oldest(), default=None)
    if found is None:
        Tenant.objects(pk=tenant.pk).update(unset__outbox_pending_since=True)
    else:
        Tenant.objects(pk=tenant.pk).update(set__outbox_pending_since=found)
    # A message written while we looked must not be forgotten.
    newest = OutboundMessage.objects(status="queued").order_by("created_at").only("created_at").first()
    if newest is not None:
        Tenant.objects(pk=tenant.pk).update(min__outbox_pending_since=newest.created_at)


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
    due = Tenant.objects(outbox_pending_since__lte=now).only(
        "id", "name", "subdomain", "status", "subscription").no_cache().batch_size(200)
    for tenant in due:
        with tenant_context(tenant):
            for message in _candidates(now):
                if message.status == "sending":
                    outcome = _recover_lease(message, now)
                else:
                    outcome = (f"{message.status}_requeued" if enqueue_delivery(message)
                               else f"{message.status}_has_job")
                counts[outcome] += 1
            _refresh_pending(tenant)
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
    qs = OutboundMessage.objects
    if status:
        qs = qs.filter(status=status)
    return paginate(qs.order_by("-created_at").exclude("text_body", "html_body"), page, per_page)
