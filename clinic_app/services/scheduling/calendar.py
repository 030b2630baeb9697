"""Reading the calendar: the day grid and the week, the API's appointment list, the dashboard's counts."""
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from ... import clock
from ...localtime import clinic_settings, clinic_zone, combine_local, to_local
from ...models import Appointment
from ...models.prefetch import prefetch
from ...models.scheduling import OPEN_STATUSES, STATUSES
from .days import day_bounds, is_working_day, local_today, slot_starts, week_start, working_hours
from .errors import Refused
from .people import bookable_doctors, parse_id


def _prefetch(appointments):
    """Load the patients, doctors and the doctors' roles of `appointments` in three queries."""
    return prefetch(appointments, "patient", "doctor.role")


def appointments_between(start, end, doctor=None):
    """Appointments starting in [start, end), any status, by start; served by the
    {tenantId, doctor, start} or {tenantId, start} index."""
    qs = Appointment.objects(doctor=doctor) if doctor is not None else Appointment.objects
    return _prefetch(list(qs.filter(start__gte=start, start__lt=end).order_by("start")))


LIST_MAX_DAYS = 93


def appointment_list(first, last, doctor_id=None, patient_id=None, status=None):
    """A QuerySet of appointments starting on the clinic-local days first..last (inclusive), by
    start, optionally one doctor's, one patient's and/or one status's (the API's list).

    Raises Refused(field -> message) for a backwards or too long range, a malformed id or an
    unknown status. Served by {tenantId, doctor, start}, {tenantId, patient, start} or {tenantId, start}.
    """
    errors = {}
    if last < first or (last - first).days >= LIST_MAX_DAYS:
        errors["to"] = f"Use a range of at most {LIST_MAX_DAYS} days with from <= to."
    filters = {}
    for name, field_name, raw in (("doctor_id", "doctor", doctor_id), ("patient_id", "patient", patient_id)):
        if raw is not None:
            filters[field_name] = parse_id(raw)
            if filters[field_name] is None:
                errors[name] = "Not an id."
    if status is not None:
        if status not in STATUSES:
            errors["status"] = f"One of {', '.join(STATUSES)}."
        filters["status"] = status
    if errors:
        raise Refused(errors)
    start, end = day_bounds(first)[0], day_bounds(last)[1]
    return Appointment.objects(**filters).filter(start__gte=start, start__lt=end).order_by("start")


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
