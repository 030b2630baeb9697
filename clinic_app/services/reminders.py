"""Appointment reminders by email, planned in the clinic's time zone.

- Lead times come from settings (`reminder_leads`, default 24 h and 2 h).
- send_at = start - lead, computed on absolute (UTC) time, so "24 hours
  before" stays 24 real hours across a daylight-saving change; quiet hours are
  checked on the clinic's local wall clock: a reminder that would fall in quiet
  hours is sent at the last minute before they begin, or skipped when that is
  already past (or earlier than a longer lead's reminder).
- One Reminder per (appointment, lead, planned start) (unique index), one
  outbox email per reminder key: re-runs and retries never send twice.
- Booking plans them, rescheduling cancels the old ones and plans new ones,
  cancelling cancels them; the dispatcher re-checks the appointment just
  before sending, and sends nothing for suspended clinics.
"""
import logging
from datetime import datetime, time, timedelta, timezone

from mongoengine import NotUniqueError

from .. import clock
from ..clock import as_utc
from ..localtime import clinic_settings, clinic_zone, local_time
from ..models import Appointment, Reminder, Tenant
from ..tenancy import current_tenant, tenant_context
from ..web import canonical_url
from .notifications import queue_email, render_email
from .subscription import standing

log = logging.getLogger(__name__)

DEFAULT_LEADS = (24 * 60, 2 * 60)
REMIND_STATUSES = ("scheduled", "checked_in")


def _leads(settings):
    leads = getattr(settings, "reminder_leads", None) or DEFAULT_LEADS
    return sorted({int(m) for m in leads if int(m) > 0}, reverse=True)


def _quiet(settings):
    start = getattr(settings, "quiet_start", None) or "21:00"
    end = getattr(settings, "quiet_end", None) or "08:00"
    return time.fromisoformat(start), time.fromisoformat(end)


def _in_quiet(local, quiet_start, quiet_end):
    t = local.time()
    if quiet_start <= quiet_end:
        return quiet_start <= t < quiet_end
    return t >= quiet_start or t < quiet_end  # overnight, e.g. 21:00-08:00


def _before_quiet(local, quiet_start, zone):
    """The last minute before the quiet period that contains `local` began (UTC)."""
    day = local.date() if local.time() >= quiet_start else local.date() - timedelta(days=1)
    begins = datetime.combine(day, quiet_start, tzinfo=zone)
    return (begins - timedelta(minutes=1)).astimezone(timezone.utc)


def plan_times(start, now, settings=None, zone=None):
    """[(lead_minutes, send_at or None, note)] for an appointment starting at `start` (UTC)."""
    settings = settings or clinic_settings()
    zone = zone or clinic_zone()
    quiet_start, quiet_end = _quiet(settings)
    plans, previous = [], None
    for lead in _leads(settings):
        send_at = as_utc(start) - timedelta(minutes=lead)
        note = None
        local = send_at.astimezone(zone)
        if _in_quiet(local, quiet_start, quiet_end):
            send_at = _before_quiet(local, quiet_start, zone)
            note = "moved before quiet hours"
        if send_at <= now:
            plans.append((lead, None, "too late"))
            continue
        if previous is not None and send_at <= previous:
            plans.append((lead, None, "covered by an earlier reminder"))
            continue
        plans.append((lead, send_at, note))
        previous = send_at
    return plans


def sync(appointment, now=None):
    """Make the appointment's pending reminders match its current start and status."""
    now = now or clock.now()
    start = as_utc(appointment.start)
    stale = Reminder.objects(appointment=appointment, status="pending", start__ne=start)
    stale.update(set__status="cancelled", set__note="rescheduled")
    if appointment.status not in REMIND_STATUSES:
        Reminder.objects(appointment=appointment, status="pending").update(
            set__status="cancelled", set__note=f"appointment {appointment.status}")
        return []
    if not (appointment.patient.email or ""):
        return []
    planned = []
    for lead, send_at, note in plan_times(start, now):
        if send_at is None:
            continue
        try:
            planned.append(Reminder(appointment=appointment, lead_minutes=lead, start=start, send_at=send_at,
                                    note=note).save())
        except NotUniqueError:
            continue  # already planned for this start
        Tenant.objects(pk=appointment.tenant_id).update(min__next_reminder_at=send_at)
    return planned


def _refresh_next(tenant):
    """Set the clinic's next_reminder_at to its earliest pending reminder (or unset it)."""
    first = Reminder.objects(status="pending").order_by("send_at").only("send_at").first()
    if first is None:
        Tenant.objects(pk=tenant.pk).update(unset__next_reminder_at=True)
    else:
        Tenant.objects(pk=tenant.pk).update(set__next_reminder_at=first.send_at)
    # A reminder planned while we were reading must not be pushed back.
    latest = Reminder.objects(status="pending").order_by("send_at").only("send_at").first()
    if latest is not None:
        Tenant.objects(pk=tenant.pk).update(min__next_reminder_at=latest.send_at)


def _lead_text(minutes):
    if minutes % (24 * 60) == 0:
        days = minutes // (24 * 60)
        return "tomorrow" if days == 1 else f"in {days} days"
    if minutes % 60 == 0:
        return f"in {minutes // 60} hours"
    return f"in {minutes} minutes"


def send_one(reminder, now=None):
    """Re-check and queue one due reminder's email; returns what happened."""
    now = now or clock.now()
    tenant = current_tenant()
    appointment = Appointment.objects(pk=reminder.to_mongo().get("appointment")).first()
    if appointment is None or appointment.status not in REMIND_STATUSES \
            or as_utc(appointment.start) != as_utc(reminder.start):
        Reminder.objects(pk=reminder.pk, status="pending").update(set__status="cancelled",
                                                                 set__note="appointment changed")
        return "cancelled"
    if as_utc(appointment.start) <= now:
        Reminder.objects(pk=reminder.pk, status="pending").update(set__status="skipped", set__note="too late")
        return "skipped"
    if standing(tenant, now).suspended:
        return "held"  # stays pending; sent if the clinic pays before the appointment
    patient = appointment.patient
    if not patient.email:
        Reminder.objects(pk=reminder.pk, status="pending").update(set__status="skipped", set__note="no email")
        return "skipped"
    key = f"reminder:{appointment.pk}:{reminder.lead_minutes}:{as_utc(reminder.start):%Y%m%dT%H%M}"
    settings = clinic_settings()
    text, html = render_email("appointment_reminder", patient=patient, appointment=appointment,
                              when=local_time(appointment.start), zone=settings.timezone,
                              clinic=settings.clinic_name, lead=_lead_text(reminder.lead_minutes),
                              doctor=appointment.doctor.name, url=canonical_url(tenant, "/"))
    queue_email(key=key, kind="appointment_reminder", to=patient.email,
                subject=f"Reminder: your appointment at {settings.clinic_name} {_lead_text(reminder.lead_minutes)}",
                text_body=text, html_body=html)
    Reminder.objects(pk=reminder.pk, status="pending").update(set__status="queued", set__message_key=key)
    return "queued"


def dispatch_due(now=None):
    """Periodic job: send every due reminder. Visits only clinics whose next_reminder_at
    has come (an index on the tenants collection), then reads that clinic's due
    reminders on its {tenantId, status, sendAt} index. Streams; bounded memory."""
    now = now or clock.now()
    counts = {}
    due_tenants = Tenant.objects(next_reminder_at__lte=now).no_cache().batch_size(200)
    for tenant in due_tenants:
        with tenant_context(tenant):
            for reminder in Reminder.objects(status="pending", send_at__lte=now).order_by("send_at") \
                    .no_cache().batch_size(200):
                outcome = send_one(reminder, now)
                counts[outcome] = counts.get(outcome, 0) + 1
            _refresh_next(tenant)
    return counts
