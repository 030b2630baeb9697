"""The clinic's time zone and date format, for display and for reading form input."""
from datetime import datetime, time, timezone
from zoneinfo import ZoneInfo

from flask import g, has_request_context

from .clock import as_utc


def clinic_settings():
    """This clinic's Settings, read once per request."""
    from .models import Settings

    if has_request_context():
        if "clinic_settings" not in g:
            g.clinic_settings = Settings.current()
        return g.clinic_settings
    return Settings.current()


def clinic_zone():
    return ZoneInfo(clinic_settings().timezone)


def to_local(value):
    return as_utc(value).astimezone(clinic_zone()) if value else None


def local_time(value, with_date=True):
    """'03/02/2026 09:30' in the clinic's zone and date format ('' for None)."""
    if value is None:
        return ""
    from .models.settings import DATE_FORMATS

    local = to_local(value)
    fmt = DATE_FORMATS[clinic_settings().date_format]
    return local.strftime(f"{fmt} %H:%M" if with_date else "%H:%M")


def local_date(value):
    from .models.settings import DATE_FORMATS

    return value.strftime(DATE_FORMATS[clinic_settings().date_format]) if value else ""


def combine_local(day, at, zone=None):
    """A clinic-local date + wall time -> aware UTC datetime (DST-correct via zoneinfo).

    Wall times that do not exist (spring-forward gap) move forward by the gap,
    as zoneinfo's fold=0 gives; ambiguous ones (fall-back) take the first.
    """
    zone = zone or clinic_zone()
    local = datetime.combine(day, at if isinstance(at, time) else time.fromisoformat(at), tzinfo=zone)
    return local.astimezone(timezone.utc)
