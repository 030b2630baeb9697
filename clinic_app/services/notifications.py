"""Email through the outbox: write once under an idempotency key, then deliver by job.

Guarantees:
- One OutboundMessage per (tenant, key), however often it is queued.
- Delivery claims the message atomically (`queued`, or `failed` with attempts
  left -> `sending` with a 5-minute lease and attempts + 1). A re-run job, an
  RQ retry, a duplicate job or a second worker finds nothing to claim while
  the message is `sending` or `sent`, so it sends nothing.
- The outcome is written fenced on the attempt number: a late worker never
  overwrites a newer attempt's result.
- A Redis outage delays mail and loses none: the message is in MongoDB before
  any job exists, and `services.outbox.requeue_unsent` (every 2 minutes)
  re-enqueues messages that have no live job.

Policy when SMTP accepted a message but the worker died before marking it
`sent` (the one step SMTP cannot make exactly-once): the message stays
`sending` until its lease expires (5 minutes, longer than the delivery job's
timeout, so a live worker never loses its lease). `requeue_unsent` then puts
it back to `queued` ONCE, noted "Outcome unknown", and it is re-sent with the
same Message-ID: at-least-once, at most one extra copy, recognisable
downstream by its Message-ID. If the re-send's lease expires too, the message
becomes `failed` ("Not re-sent automatically") and waits for an operator
(`services.outbox.retry`). Why not "never re-send": the worker cannot tell
"SMTP accepted it" from "SMTP never saw it" (connect and TLS take most of a
send, so a killed worker usually died before the hand-over), and a silently
lost password reset or appointment reminder hurts more than a duplicate with
the same Message-ID.
"""
import logging
import smtplib
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app, render_template
from jinja2 import TemplateNotFound
from mongoengine import NotUniqueError
from mongoengine.queryset.visitor import Q
from redis.exceptions import RedisError
from rq import Retry

from .. import clock
from ..extensions import get_queue
from ..models import OutboundMessage, Tenant
from ..queueing import enqueue_unique
from ..tenancy import current_tenant

log = logging.getLogger(__name__)

SEND_LEASE = timedelta(minutes=5)
RETRY_INTERVALS = [10, 60, 300, 900, 3600]  # RQ retries after the first attempt (seconds)
DELIVERY_TIMEOUT = 120  # RQ job timeout (seconds); must stay well inside SEND_LEASE
# Prefixes of `last_error` that steer recovery (see the module docstring).
UNKNOWN_OUTCOME = "Outcome unknown:"
GAVE_UP = "Not re-sent automatically:"
# The delivery job, by dotted path: clinic_app.jobs sits above the services (it imports them),
# so naming it here keeps the layers one-way. tests/test_layers.py checks the path resolves.
DELIVER_JOB = "clinic_app.jobs.deliver_email"


def retry_intervals():
    """Seconds between delivery attempts (config OUTBOX_RETRY_INTERVALS, else RETRY_INTERVALS)."""
    return list(current_app.config.get("OUTBOX_RETRY_INTERVALS") or RETRY_INTERVALS)


def max_attempts():
    """Automatic attempts per message: the first one plus one per RQ retry."""
    return len(retry_intervals()) + 1


def outcome_unknown(message):
    """True once a lease of this message expired: an earlier attempt may have been delivered."""
    return (message.last_error or "").startswith(UNKNOWN_OUTCOME)


def render_email(template, **context):
    """Render emails/<template>.txt (and .html when present) -> (text, html)."""
    text = render_template(f"emails/{template}.txt", **context)
    try:
        html = render_template(f"emails/{template}.html", **context)
    except TemplateNotFound:
        html = None
    return text, html


def queue_email(*, key, kind, to, subject, text_body, html_body=None):
    """Write the message to the outbox once per `key`, then enqueue its delivery."""
    domain = current_app.config["BASE_DOMAIN"]
    message = OutboundMessage(
        key=key,
        kind=kind,
        to=to,
        subject=subject,
        text_body=text_body,
        html_body=html_body,
        message_id=make_msgid(domain=domain if "." in domain else None),
    )
    try:
        message.save()
    except NotUniqueError:
        return OutboundMessage.objects.get(key=key)
    # Lets the requeue job find this clinic without scanning the whole outbox.
    Tenant.objects(pk=message.tenant_id).update(min__outbox_pending_since=message.created_at)
    enqueue_delivery(message)
    return message


def enqueue_delivery(message, job_id=None):
    """Enqueue delivery unless its job (default id `email-<message id>`) is waiting or running.

    Returns True when a job was enqueued. A Redis outage only delays the
    message (it stays in the outbox for `requeue_unsent`); it never raises.
    """
    intervals = retry_intervals()
    try:
        _, created = enqueue_unique(
            get_queue(),
            DELIVER_JOB,
            str(message.tenant_id),
            str(message.pk),
            job_id=job_id or f"email-{message.pk}",
            retry=Retry(max=len(intervals), interval=intervals),
            job_timeout=DELIVERY_TIMEOUT,
            description=f"deliver {message.kind} to {message.to}",
        )
        return created
    except RedisError as exc:
        log.warning("could not enqueue message %s (%s); it stays in the outbox", message.pk, exc)
        return False


def _claimable():
    """Messages a worker may start sending: queued, or failed with automatic attempts left."""
    retryable = Q(status="failed") & Q(attempts__lt=max_attempts()) & Q(last_error__not__startswith=GAVE_UP)
    return Q(status="queued") | retryable


def _claim(message_id, now):
    # An expired `sending` lease is not claimable here: only requeue_unsent
    # recovers it, so the "re-send once" rule lives in one place.
    return OutboundMessage.objects(Q(pk=message_id) & _claimable()).modify(
        new=True,
        set__status="sending",
        set__lease_until=now + SEND_LEASE,
        inc__attempts=1,
    )


def _build(message):
    mail = EmailMessage()
    mail["From"] = current_app.config["MAIL_FROM"]
    mail["To"] = message.to
    mail["Subject"] = message.subject
    mail["Message-ID"] = message.message_id
    mail["X-Clinic"] = current_tenant().subdomain
    mail.set_content(message.text_body)
    if message.html_body:
        mail.add_alternative(message.html_body, subtype="html")
    return mail


def _smtp():
    cfg = current_app.config
    cls = smtplib.SMTP_SSL if cfg["SMTP_TLS"] == "ssl" else smtplib.SMTP
    conn = cls(cfg["SMTP_HOST"], cfg["SMTP_PORT"], timeout=cfg["SMTP_TIMEOUT"])
    if cfg["SMTP_TLS"] == "starttls":
        conn.starttls()
    if cfg["SMTP_USER"]:
        conn.login(cfg["SMTP_USER"], cfg["SMTP_PASSWORD"])
    return conn


def _failure_note(message, exc):
    note = f"attempt {message.attempts}: {type(exc).__name__}: {exc}"
    if outcome_unknown(message):
        # Keep the prefix: a later lease expiry must still count as the second one.
        note = f"{UNKNOWN_OUTCOME} an earlier attempt may have been delivered; {note}"
    return note[:500]


def deliver(message_id):
    """Send one outbox message over SMTP; returns 'sent' or 'skipped'. Raises on SMTP failure."""
    message = _claim(message_id, clock.now())
    if message is None:
        return "skipped"  # sent, cancelled, out of attempts, or another worker holds it
    this_attempt = OutboundMessage.objects(pk=message.pk, status="sending", attempts=message.attempts)
    try:
        with _smtp() as conn:
            conn.send_message(_build(message))
    except Exception as exc:
        this_attempt.update(set__status="failed", set__last_error=_failure_note(message, exc),
                            unset__lease_until=True)
        raise
    # SMTP accepted it: that is the truth whatever happened meanwhile (even if
    # recovery already put it back to `queued`, marking it sent stops a re-send).
    done = {"set__status": "sent", "set__sent_at": clock.now(), "unset__lease_until": True}
    if not outcome_unknown(message):
        done["unset__last_error"] = True  # the "Outcome unknown" note stays: a duplicate may exist
    OutboundMessage.objects(pk=message.pk, status__ne="sent").update(**done)
    return "sent"
