"""Clinic-local calendar days, working hours and slots.

Times are stored as aware UTC datetimes. Every "day" is a clinic-local calendar day whose
bounds come from `combine_local`, so a daylight-saving day has 23 or 25 hours.
"""
from datetime import date, datetime, time, timedelta, timezone

from ... import clock
from ...localtime import clinic_settings, clinic_zone, combine_local, to_local

UTC = timezone.utc
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# The days a calendar shows or an appointment may be on: wide enough for any clinic, narrow
# enough that a day plus or minus a week, and its bounds in any time zone, stay inside
# datetime's range (date.max + 1 day is an OverflowError, i.e. a 500).
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)
OUT_OF_RANGE = f"Choose a date from {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}."


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
