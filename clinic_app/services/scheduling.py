"""Appointment use cases: the day/week calendar, booking and rescheduling with the clinic's
rules, status changes, and small read models for the dashboard.

Times are stored as aware UTC datetimes. Every "day" is a clinic-local calendar day whose
bounds come from `combine_local`, so a daylight-saving day has 23 or 25 hours.
"""
import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from bson import ObjectId
from bson.errors import InvalidId

from .. import clock
from ..localtime import clinic_settings, clinic_zone, combine_local, to_local
from ..tenancy import current_tenant, prefetch
from ..models import Appointment, Patient, Role, User
from ..models.scheduling import OPEN_STATUSES, STATUSES, TRANSITIONS
from . import audit, reminders
from .patients import search

log = logging.getLogger(__name__)

UTC = timezone.utc
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ACTION_LABELS = {
    "checked_in": "Check in",
    "in_progress": "Start",
    "completed": "Complete",
    "no_show": "No-show",
    "cancelled": "Cancel appointment",
}
STATUS_LABELS = {"scheduled": "Scheduled", "checked_in": "Checked in", "in_progress": "In progress",
                 "completed": "Completed", "cancelled": "Cancelled", "no_show": "No-show"}
# "This appointment is <state>, so it cannot be <done>."
STATE = {"scheduled": "scheduled", "checked_in": "checked in", "in_progress": "in progress",
         "completed": "completed", "cancelled": "cancelled", "no_show": "marked as a no-show"}
DONE = {"scheduled": "set back to scheduled", "checked_in": "checked in", "in_progress": "started",
        "completed": "completed", "cancelled": "cancelled", "no_show": "marked as a no-show"}
DOCTOR_ROLE = "Doctor"


class Refused(Exception):
    """Booking or rescheduling broke a rule; `errors` maps form field -> message."""

    def __init__(self, errors):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class InvalidTransition(Exception):
    """A status change that TRANSITIONS does not allow (or that lost a race)."""


# -- doctors -------------------------------------------------------------------------------


def bookable_doctors():
    """Active users who can be booked: role "Doctor", plus the clinic's Admins, by name."""
    roles = {r.pk: r for r in Role.objects(name__in=[DOCTOR_ROLE, "Admin"]) if r.name == DOCTOR_ROLE or r.is_admin}
    if not roles:
        return []
    doctors = list(User.objects(role__in=list(roles), status="active").order_by("name"))
    for d in doctors:  # labels need the role: no query per doctor
        d._data["role"] = roles.get(getattr(d._data["role"], "id", d._data["role"]), d._data["role"])
    return doctors


def doctor_label(user):
    """'Dr Jane Roe' for users with the Doctor role, the plain name for the others (Admins)."""
    name = user.name
    if user.role.name == DOCTOR_ROLE and not name.lower().startswith(("dr ", "dr.")):
        return f"Dr {name}"
    return name


def _oid(value):
    if not isinstance(value, str):
        return None
    try:
        return ObjectId(value)
    except (InvalidId, TypeError):
        return None


def find_doctor(doctor_id, bookable_only=True):
    """The doctor with this id in the bound clinic, or None (also for other clinics' ids)."""
    oid = _oid(doctor_id)
    if oid is None:
        return None
    if bookable_only:
        return next((d for d in bookable_doctors() if d.pk == oid), None)
    return User.objects(pk=oid).first()


def find_patient(patient_id):
    oid = _oid(patient_id)
    return Patient.objects(pk=oid).first() if oid else None


PICKER_LIMIT = 10


def patient_options(selected_id=None, q="", limit=PICKER_LIMIT):
    """(patients, more) for the booking form's picker: the chosen patient first, then up to
    `limit` matches of `q` (the patient register's own search); `more` when there are others."""
    chosen = find_patient(selected_id)
    found = list(search(q[:100]).limit(limit + 1)) if (q or "").strip() else []
    more = len(found) > limit
    patients = ([chosen] if chosen else []) + [p for p in found[:limit] if not chosen or p.pk != chosen.pk]
    return patients, more


# -- clinic-local days and working hours ----------------------------------------------------


def local_today(now=None):
    return to_local(now or clock.now()).date()


def day_bounds(day, zone=None):
    """(start, end) in UTC of the clinic-local calendar day `day` (23/24/25 hours long)."""
    zone = zone or clinic_zone()
    return combine_local(day, time(0), zone), combine_local(day + timedelta(days=1), time(0), zone)


def week_start(day):
    return day - timedelta(days=day.weekday())


def working_hours(settings=None):
    settings = settings or clinic_settings()
    return time.fromisoformat(settings.work_day_start or "08:00"), time.fromisoformat(settings.work_day_end or "18:00")


def is_working_day(day, settings=None):
    settings = settings or clinic_settings()
    return day.isoweekday() in (settings.working_days or range(1, 8))


def wall_time_exists(day, at, zone):
    """False for wall times skipped by a spring-forward change (02:30 on a US DST day)."""
    wall = datetime.combine(day, at)
    return combine_local(day, at, zone).astimezone(zone).replace(tzinfo=None) == wall


def slot_starts(day, settings=None, zone=None):
    """UTC instants of the day's slots, from opening to closing in slot_minutes steps of wall time.

    Wall times that do not exist that day are skipped; ones that happen twice (the fall-back
    hour) appear twice, once per offset, so each row is one real stretch of time.
    """
    settings = settings or clinic_settings()
    zone = zone or clinic_zone()
    opens, closes = working_hours(settings)
    step = timedelta(minutes=settings.slot_minutes)
    wall, last = datetime.combine(day, opens), datetime.combine(day, closes)
    found = set()
    while wall < last:
        for fold in (0, 1):
            instant = wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)
            if instant.astimezone(zone).replace(tzinfo=None) == wall:
                found.add(instant)
        wall += step
    return sorted(found)


# -- reading the calendar ------------------------------------------------------------------


def _prefetch(appointments):
    """Load the patients, doctors and the doctors' roles of `appointments` in three queries."""
    return prefetch(appointments, "patient", "doctor.role")


def appointments_between(start, end, doctor=None):
    """Appointments starting in [start, end), any status, by start; served by the
    {tenantId, doctor, start} or {tenantId, start} index."""
    qs = Appointment.objects(doctor=doctor) if doctor is not None else Appointment.objects
    return _prefetch(list(qs.filter(start__gte=start, start__lt=end).order_by("start")))


@dataclass
class Row:
    start: datetime  # UTC
    label: str
    time: str  # HH:MM to pre-fill the booking form
    cells: list  # one list of appointments per doctor column
    bookable: bool = False
    kind: str = "slot"  # slot | before | after


@dataclass
class DayView:
    day: date
    doctors: list
    rows: list
    open: bool
    count: int = 0


@dataclass
class WeekDay:
    day: date
    appointments: list = field(default_factory=list)
    open: bool = True


def day_view(day, doctor=None, now=None, doctors=None):
    """The day's grid: one row per slot (plus before/after hours rows when used) x doctor columns
    (`doctor` alone, else `doctors`, by default the bookable ones)."""
    settings, zone = clinic_settings(), clinic_zone()
    now = now or clock.now()
    start, end = day_bounds(day, zone)
    items = appointments_between(start, end, doctor)
    if doctor is not None:
        doctors = [doctor]
    else:
        doctors = list(doctors) if doctors is not None else bookable_doctors()
        known = {d.pk for d in doctors}
        for a in items:  # a former doctor (deactivated, role changed) still gets a column
            if a.doctor.pk not in known:
                known.add(a.doctor.pk)
                doctors.append(a.doctor)
    column = {d.pk: i for i, d in enumerate(doctors)}
    open_day = is_working_day(day, settings)
    starts = slot_starts(day, settings, zone)
    walls = [to_local(s).strftime("%H:%M") for s in starts]
    rows = [
        Row(start=s, label=w + (to_local(s).strftime(" %Z") if walls.count(w) > 1 else ""), time=w,
            cells=[[] for _ in doctors], bookable=open_day and s >= now)
        for s, w in zip(starts, walls)
    ]
    closes = combine_local(day, working_hours(settings)[1], zone)
    before = Row(start=start, label="Before hours", time="", cells=[[] for _ in doctors], kind="before")
    after = Row(start=closes, label="After hours", time="", cells=[[] for _ in doctors], kind="after")
    for a in items:
        target = after if a.start >= closes else before
        if a.start < closes:
            for row in rows:
                if row.start <= a.start:
                    target = row
                else:
                    break
        target.cells[column[a.doctor.pk]].append(a)
    if any(any(c) for c in before.cells):
        rows.insert(0, before)
    if any(any(c) for c in after.cells):
        rows.append(after)
    return DayView(day=day, doctors=doctors, rows=rows, open=open_day, count=len(items))


def week_view(day, doctor=None):
    """Monday..Sunday of `day`'s week, each with its clinic-local day's appointments."""
    settings, zone = clinic_settings(), clinic_zone()
    monday = week_start(day)
    days = [WeekDay(day=monday + timedelta(days=i), open=is_working_day(monday + timedelta(days=i), settings))
            for i in range(7)]
    start, _ = day_bounds(monday, zone)
    _, end = day_bounds(monday + timedelta(days=6), zone)
    for a in appointments_between(start, end, doctor):
        days[(to_local(a.start).date() - monday).days].appointments.append(a)
    return days


def upcoming_for_doctor(user, now, limit=10):
    """The doctor's next open appointments from `now` on (dashboard)."""
    return _prefetch(list(Appointment.objects(doctor=user, start__gte=now, status__in=OPEN_STATUSES)
                          .order_by("start").limit(limit)))


def today_by_status(now):
    """{status: count} of appointments in the clinic-local day containing `now` (every status listed)."""
    start, end = day_bounds(local_today(now))
    counts = dict.fromkeys(STATUSES, 0)
    for row in Appointment.objects(start__gte=start, start__lt=end).aggregate(
            [{"$group": {"_id": "$status", "n": {"$sum": 1}}}]):
        counts[row["_id"]] = row["n"]
    return counts


# -- booking and rescheduling -------------------------------------------------------------


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
    if not wall_time_exists(day, at, zone):
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
    from redis.exceptions import LockError, RedisError

    from ..extensions import redis_conn

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


# -- status ----------------------------------------------------------------------------------


def actions_for(appointment):
    """(status, button label) for each move TRANSITIONS allows from the current status."""
    return [(s, ACTION_LABELS[s]) for s in TRANSITIONS[appointment.status]]


def change_status(appointment, status, cancel_reason=None):
    """Move to `status` if TRANSITIONS allows it; raises InvalidTransition (nothing changed) otherwise."""
    current = appointment.status
    if status not in STATUSES:
        raise InvalidTransition(f"{status!r} is not an appointment status.")
    if not appointment.can_move_to(status):
        raise InvalidTransition(f"This appointment is {STATE[current]}, so it cannot be {DONE[status]}.")
    updates = {"set__status": status, "set__updated_at": clock.now()}
    reason = (cancel_reason or "").strip()[:300] or None
    if status == "cancelled":
        updates["set__cancel_reason"] = reason
    # Conditional on the status we checked, so two clicks (or two desks) cannot both apply.
    if not Appointment.objects(pk=appointment.pk, status=current).update(**updates):
        raise InvalidTransition("The appointment changed meanwhile; reload the page and try again.")
    appointment.status = status
    changes = {"status": {"old": current, "new": status}}
    if status == "cancelled":
        appointment.cancel_reason = reason
        if reason:
            changes["cancel_reason"] = reason
    audit.record("appointment.status", target=appointment, changes=changes)
    reminders.sync(appointment, clock.now())
    return changes
