"""Booking and rescheduling under the clinic's rules (hours, working days, overlaps, double booking),
serialised per doctor and patient by Redis locks, and re-checked after the write."""
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from redis.exceptions import LockError, RedisError

from ... import clock
from ...extensions import redis_conn
from ...localtime import clinic_settings, clinic_zone, combine_local, to_local
from ...models import Appointment, Patient, User
from ...models.scheduling import OPEN_STATUSES
from ...tenancy import current_tenant
from .. import audit, reminders
from .days import (
    DAY_NAMES, FIRST_DAY, LAST_DAY, OUT_OF_RANGE, is_working_day, local_today, wall_time_exists, working_hours,
)
from .errors import InvalidTransition, Refused
from .people import doctor_label, find_doctor, find_patient
from .status import STATE

log = logging.getLogger(__name__)


def _span(a):
    return f"{to_local(a.start).strftime('%H:%M')}–{to_local(a.end).strftime('%H:%M')}"


def _overlapping(start, end, exclude=None, **who):
    qs = Appointment.objects(status__in=OPEN_STATUSES, start__lt=end, end__gt=start, **who)
    if exclude is not None:
        qs = qs.filter(pk__ne=exclude.pk)
    return qs.order_by("start").first()


def _doctor_clash(doctor, start, end, exclude):
    other = _overlapping(start, end, exclude, doctor=doctor)
    return other and f"{doctor_label(doctor)} already has {other.patient.full_name} at {_span(other)}."


def _patient_clash(patient, start, end, exclude):
    other = _overlapping(start, end, exclude, patient=patient)
    return other and (f"{patient.full_name} already has an appointment with {doctor_label(other.doctor)} "
                      f"at {_span(other)}.")


@dataclass
class Plan:
    """A checked booking: what to write, and warnings to show."""

    patient: Patient
    doctor: User
    start: datetime
    end: datetime
    reason: str
    warnings: list


def check(data, appointment=None, now=None):
    """Apply the clinic's rules to form data; returns a Plan or raises Refused(field -> message).

    `data`: patient_id (booking only), doctor (id), date, time, duration (minutes), reason.
    When rescheduling, `appointment` is excluded from the overlap checks.
    """
    settings, zone = clinic_settings(), clinic_zone()
    now = now or clock.now()
    errors = {}
    if appointment is None:
        patient = find_patient(data.get("patient_id"))
        if patient is None:
            errors["patient_id"] = "Patient not found in this clinic. Search and choose one."
        elif not patient.active:
            errors["patient_id"] = f"{patient.full_name} is archived. Restore the record before booking."
    else:
        patient = appointment.patient
    doctor = find_doctor(data.get("doctor"))
    if doctor is None and appointment is not None and str(appointment.doctor.pk) == data.get("doctor"):
        doctor = appointment.doctor  # keep a doctor who is no longer bookable on an existing booking
    if doctor is None:
        errors["doctor"] = "Doctor not found in this clinic. Choose one from the list."
    day, at, minutes = data["date"], data["time"], data["duration"]
    start = end = None
    opens, closes = working_hours(settings)
    if not FIRST_DAY <= day <= LAST_DAY:
        errors["date"] = OUT_OF_RANGE
    elif not wall_time_exists(day, at, zone):
        errors["time"] = f"{at:%H:%M} does not exist on {day.isoformat()}: the clocks go forward. Pick another time."
    else:
        start = combine_local(day, at, zone)
        end = start + timedelta(minutes=minutes)
        closing = combine_local(day, closes, zone)
        # Editing the reason of an appointment already under way (or booked before the hours
        # changed) must not trip the rules about when it starts.
        unchanged = appointment is not None and clock.as_utc(appointment.start) == start
        if not unchanged and day < local_today(now):
            errors["date"] = "That date is in the past."
        elif not unchanged and start < now:
            errors["time"] = "That time has already passed."
        elif not unchanged and not is_working_day(day, settings):
            errors["date"] = f"The clinic is closed on {DAY_NAMES[day.weekday()]}s."
        elif not unchanged and (at < opens or start >= closing):
            errors["time"] = f"Choose a time within working hours ({opens:%H:%M}–{closes:%H:%M})."
        elif end <= start:
            errors["duration"] = "The appointment must end after it starts."
        elif end > closing:
            errors["duration"] = f"The appointment would end after closing time ({closes:%H:%M})."
    warnings = []
    if start is not None and not errors:
        clash = _doctor_clash(doctor, start, end, appointment)
        if clash and settings.allow_double_booking:
            warnings.append(f"Double-booked: {clash}")
        elif clash:
            errors["time"] = clash
        clash = _patient_clash(patient, start, end, appointment)
        if clash:
            errors["patient_id" if appointment is None else "time"] = clash
    if errors:
        raise Refused(errors)
    return Plan(patient, doctor, start, end, (data.get("reason") or "").strip() or None, warnings)


def _recheck(appointment, plan, patient_field):
    """After writing: a booking made at the same moment by another request may now overlap.

    The pre-check and the write are not atomic, so both requests could pass it; re-reading
    after the write catches that (at worst both refuse, never both succeed).
    """
    errors = {}
    if not plan.warnings and not clinic_settings().allow_double_booking:
        clash = _doctor_clash(plan.doctor, plan.start, plan.end, appointment)
        if clash:
            errors["time"] = clash
    clash = _patient_clash(plan.patient, plan.start, plan.end, appointment)
    if clash:
        errors[patient_field] = clash
    return errors


@contextmanager
def _serialised(*keys):
    """Hold a Redis lock per doctor/patient key (sorted, so two bookings cannot deadlock) while a
    booking is checked and written: of simultaneous bookings for one slot exactly one wins.

    Without Redis the booking goes ahead unlocked; the post-write re-check still never lets two
    overlapping bookings both stand (at worst both are refused).
    """
    tenant_id = current_tenant().pk
    held = []
    try:
        for key in sorted({str(k)[:64] for k in keys if k}):
            lock = redis_conn().lock(f"clinic_app:booking:{tenant_id}:{key}", timeout=15, blocking_timeout=8)
            if not lock.acquire():
                raise Refused({"time": "Another booking for this doctor or patient is being saved. Try again."})
            held.append(lock)
    except RedisError as exc:
        log.warning("booking lock unavailable (%s); relying on the re-check", exc)
    try:
        yield
    finally:
        for lock in reversed(held):
            try:
                lock.release()
            except (LockError, RedisError):
                pass  # expired or Redis gone: the lock times out by itself


def book(data, by=None, now=None):
    """Book an appointment; returns (appointment, warnings). Raises Refused."""
    with _serialised(f"doctor:{data.get('doctor')}", f"patient:{data.get('patient_id')}"):
        return _book(data, by, now)


def _book(data, by, now):
    plan = check(data, now=now)
    appointment = Appointment(patient=plan.patient, doctor=plan.doctor, start=plan.start, end=plan.end,
                              reason=plan.reason, status="scheduled", created_by=by)
    appointment.save()
    errors = _recheck(appointment, plan, "patient_id")
    if errors:
        appointment.delete()
        raise Refused(errors)
    audit.record("appointment.create", target=appointment, changes={
        "patient": str(plan.patient.pk), "doctor": str(plan.doctor.pk), "start": plan.start.isoformat(),
        "end": plan.end.isoformat(), "reason": plan.reason, "double_booked": bool(plan.warnings)})
    reminders.sync(appointment, clock.now())
    return appointment, plan.warnings


def can_reschedule(appointment):
    return appointment.status in OPEN_STATUSES


def reschedule(appointment, data, now=None):
    """Move/edit an open appointment; returns (changes, warnings). Raises Refused or InvalidTransition."""
    if not can_reschedule(appointment):
        raise InvalidTransition(f"This appointment is {STATE[appointment.status]}, so it cannot be rescheduled. "
                                "Book a new one instead.")
    with _serialised(f"doctor:{data.get('doctor')}", f"doctor:{appointment.doctor.pk}",
                     f"patient:{appointment.patient.pk}"):
        return _reschedule(appointment, data, now)


def _reschedule(appointment, data, now):
    plan = check(data, appointment=appointment, now=now)
    new = {"doctor": plan.doctor, "start": plan.start, "end": plan.end, "reason": plan.reason}
    old = {name: getattr(appointment, name) for name in new}
    changes = {}
    for name, value in new.items():
        before = old[name]
        if name == "doctor":
            if before.pk != value.pk:
                changes[name] = {"old": str(before.pk), "new": str(value.pk)}
        elif name in ("start", "end"):
            if clock.as_utc(before) != value:
                changes[name] = {"old": clock.as_utc(before).isoformat(), "new": value.isoformat()}
        elif (before or None) != value:
            changes[name] = {"old": before, "new": value}
    if not changes:
        return changes, plan.warnings
    fields = {f"set__{name}": new[name] for name in changes}
    # Only while the status is still open: a concurrent cancel/complete wins over the edit.
    if not Appointment.objects(pk=appointment.pk, status__in=OPEN_STATUSES).update(
            **fields, set__updated_at=clock.now()):
        raise InvalidTransition("The appointment was closed meanwhile; reload the page.")
    for name in changes:
        setattr(appointment, name, new[name])
    errors = _recheck(appointment, plan, "time")
    if errors:
        Appointment.objects(pk=appointment.pk).update(**{f"set__{n}": old[n] for n in changes})
        for name in changes:
            setattr(appointment, name, old[name])
        raise Refused(errors)
    audit.record("appointment.update", target=appointment, changes=changes)
    if "start" in changes:
        reminders.sync(appointment, clock.now())
    return changes, plan.warnings
