"""Email through the outbox: write once under an idempotency key, then deliver by job.

Guarantees: one OutboundMessage per (tenant, key), however often it is
queued; delivery claims the message atomically (queued/failed -> sending,
with a lease), so two workers or a re-run never send it twice while the
lease holds. The Message-ID is fixed when the message is written, so a
re-send after a crash between SMTP acceptance and the `sent` mark carries
the same Message-ID and can be recognised as a duplicate downstream.
"""
import logging
import smtplib
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app, render_template
from mongoengine import NotUniqueError
from mongoengine.queryset.visitor import Q
from redis.exceptions import RedisError

from .. import clock
from ..extensions import get_queue
from ..models import OutboundMessage
from ..tenancy import current_tenant

log = logging.getLogger(__name__)

SEND_LEASE = timedelta(minutes=5)
RETRY_INTERVALS = [10, 60, 300, 900, 3600]


def render_email(template, **context):
    """Render emails/<template>.txt (and .html when present) -> (text, html)."""
    from jinja2 import TemplateNotFound

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
    enqueue_delivery(message)
    return message


def enqueue_delivery(message):
    """Enqueue delivery; a Redis outage only delays it (the message stays queued)."""
    from rq import Retry

    from ..jobs import deliver_email

    try:
        get_queue().enqueue(
            deliver_email,
            str(message.tenant_id),
            str(message.pk),
            job_id=f"email-{message.pk}",
            retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
            description=f"deliver {message.kind} to {message.to}",
        )
        return True
    except RedisError as exc:
        log.warning("could not enqueue message %s (%s); it stays queued", message.pk, exc)
        return False


def _claim(message_id, now):
    claimable = Q(status__in=["queued", "failed"]) | Q(status="sending", lease_until__lt=now)
    return OutboundMessage.objects(Q(pk=message_id) & claimable).modify(
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


def deliver(message_id):
    """Send one outbox message over SMTP; returns 'sent' or 'skipped'. Raises on SMTP failure."""
    message = _claim(message_id, clock.now())
    if message is None:
        return "skipped"  # already sent, cancelled, or another worker holds the lease
    try:
        with _smtp() as conn:
            conn.send_message(_build(message))
    except Exception as exc:
        OutboundMessage.objects(pk=message.pk, status="sending").update(
            set__status="failed", set__last_error=f"{type(exc).__name__}: {exc}"[:500], unset__lease_until=True
        )
        raise
    OutboundMessage.objects(pk=message.pk, status="sending").update(
        set__status="sent", set__sent_at=clock.now(), unset__lease_until=True, unset__last_error=True
    )
    return "sent"
