"""The clinic's time zone and date format, for display and for reading form input.

Every date and time a person sees goes through `local_time` / `local_date`
(Jinja globals of the same names): the clinic's zone, the clinic's format.
"""
import re
from datetime import datetime, time, timezone
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo, available_timezones

from flask import g, has_request_context
from wtforms.fields.choices import SelectChoice

from . import clock
from .clock import as_utc
from .models import Settings
from .models.settings import DATE_FORMATS


def clinic_settings():
    """This clinic's Settings, read once per request."""
    if has_request_context():
        if "clinic_settings" not in g:
            g.clinic_settings = Settings.current()
        return g.clinic_settings
    return Settings.current()


def clinic_zone():
    return ZoneInfo(clinic_settings().timezone)


def to_local(value):
    return as_utc(value).astimezone(clinic_zone()) if value else None


def _date_format():
    return DATE_FORMATS[clinic_settings().date_format]


def local_time(value, with_date=True):
    """'03/02/2026 09:30' in the clinic's zone and date format ('' for None)."""
    if value is None:
        return ""
    local = to_local(value)
    return local.strftime(f"{_date_format()} %H:%M" if with_date else "%H:%M")


def local_date(value):
    """A date in the clinic's format ('' for None); a datetime is first moved to the clinic's zone."""
    if not value:
        return ""
    if isinstance(value, datetime):
        value = to_local(value).date()
    return value.strftime(_date_format())


def date_pattern():
    """How the clinic writes dates, for hints and placeholders: 'DD/MM/YYYY'."""
    return clinic_settings().date_format


_LOOKS_LIKE_DATE = re.compile(r"^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}$")


def parse_local_date(text):
    """A date typed in the clinic's format (or ISO YYYY-MM-DD); None when it is not one."""
    text = (text or "").strip()
    if not _LOOKS_LIKE_DATE.match(text):
        return None
    fmt = _date_format()
    separator = next(c for c in fmt if c in "./-")
    # 31.12.1980, 31-12-1980 and 31/12/1980 all mean the same to a person who writes DD/MM/YYYY.
    for candidate, pattern in ((re.sub(r"[./-]", separator, text), fmt), (text, "%Y-%m-%d")):
        try:
            return datetime.strptime(candidate, pattern).date()
        except ValueError:
            continue
    return None


def combine_local(day, at, zone=None):
    """A clinic-local date + wall time -> aware UTC datetime (DST-correct via zoneinfo).

    Wall times that do not exist (spring-forward gap) move forward by the gap,
    as zoneinfo's fold=0 gives; ambiguous ones (fall-back) take the first.
    """
    zone = zone or clinic_zone()
    local = datetime.combine(day, at if isinstance(at, time) else time.fromisoformat(at), tzinfo=zone)
    return local.astimezone(timezone.utc)


# -- the time-zone list ---------------------------------------------------------------

# tzdata's own regions; everything else in available_timezones() is a legacy alias
# (US/Eastern, EST5EDT, Factory, Etc/GMT+5 ...) that only confuses a person choosing.
REGIONS = ("Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe", "Indian",
           "Pacific")
UTC = "UTC"  # offered too: the default of a clinic that never chose


def _zone_tab():
    """tzdata's zone.tab (one canonical zone per region of each country), or '' when not found."""
    try:
        return resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        pass
    try:
        return Path("/usr/share/zoneinfo/zone.tab").read_text(encoding="utf-8")
    except OSError:
        return ""


@cache
def canonical_zones():
    """The zones offered to people: Area/City names from zone.tab that this system can load, plus UTC."""
    known = available_timezones()
    listed = {line.split("\t")[2] for line in _zone_tab().splitlines()
              if line and not line.startswith("#") and line.count("\t") >= 2}
    if not listed:  # no zone.tab: fall back to the Area/City shape (may keep a few old aliases)
        listed = {z for z in known if z.split("/", 1)[0] in REGIONS and "/" in z}
    return frozenset(z for z in listed if z in known and z.split("/", 1)[0] in REGIONS) | {UTC}


def _offset(zone, at):
    minutes = int(at.astimezone(ZoneInfo(zone)).utcoffset().total_seconds() // 60)
    sign = "+" if minutes >= 0 else "−"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def zone_label(zone, at=None):
    """'New York (UTC−05:00)' for America/New_York, at `at` (now by default)."""
    at = at or clock.now()
    if zone == UTC:
        return "UTC (no daylight saving)"
    place = " / ".join(part.replace("_", " ") for part in zone.split("/")[1:])
    return f"{place} ({_offset(zone, at)})"


def timezone_choices(current=None, at=None):
    """SelectChoices for a time-zone <select>: canonical zones grouped by region (<optgroup>),
    by place name; `current` is kept (under "Current") when it is an older name not offered."""
    at = at or clock.now()
    choices = list(_grouped_choices(at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)))
    if current and current not in canonical_zones() and current in available_timezones():
        choices.insert(0, SelectChoice(current, f"{current} (older name)", optgroup="Current"))
    return choices


@lru_cache(maxsize=4)
def _grouped_choices(at):
    """The offered zones labelled with their offset at `at` (a quarter hour: offsets change at most that often)."""
    by_region = {}
    for zone in canonical_zones():
        region = "Other" if zone == UTC else zone.split("/", 1)[0]
        by_region.setdefault(region, []).append(SelectChoice(zone, zone_label(zone, at), optgroup=region))
    return tuple(c for region in (*REGIONS, "Other") for c in sorted(by_region.get(region, []), key=lambda c: c.label))


def is_offered_zone(value, current=None):
    return isinstance(value, str) and (value in canonical_zones() or (value == current and value is not None))
