"""Pure functions: a patient's age at collection, which reference range applies, and the flag.

No database, no clock: everything comes in as arguments, so every boundary is unit-tested.

Conventions (the tests pin each one):
- Bands are inclusive of their limits: a value exactly at a normal limit is normal ("N"), a value
  exactly at a critical limit is abnormal but not critical ("L"/"H"). Only values strictly past a
  limit move to the next band. A missing limit (None) means "no limit on that side"; 0 is a real
  value and a real limit.
  (So a value at a critical limit is never critical; it is L/H when the normal limit lies inside it.)
- Flags: "LL" critical low, "L" low, "N" normal, "H" high, "HH" critical high, "A" abnormal (a choice
  result that is not one of the normal choices), None when nothing can be said (no range applies,
  free-text result).
- Ages are completed units at the collection date: `age_min`..`age_max` are inclusive whole units, so
  "1-17 years" runs from the 1st birthday up to the day before the 18th birthday. A birthday that does
  not exist in a month or year (29 February, 31st) is reached on the 1st of the next month (the usual
  `(month, day) < (birth month, birth day)` rule).
"""
from datetime import datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

CRITICAL = ("LL", "HH")
ABNORMAL = ("LL", "L", "H", "HH", "A")


# -- age ----------------------------------------------------------------------


def local_collection_date(collected_at, zone):
    """The clinic-local calendar date of an aware UTC datetime (a date passes through)."""
    if isinstance(collected_at, datetime):
        tz = ZoneInfo(zone) if isinstance(zone, str) else zone
        return collected_at.astimezone(tz).date()
    return collected_at


def age_in(unit, born, on):
    """Completed `unit`s (days/months/years) from `born` to `on`; negative when `on` < `born`."""
    if unit == "days":
        return (on - born).days
    months = (on.year - born.year) * 12 + (on.month - born.month) - (1 if on.day < born.day else 0)
    if unit == "months":
        return months
    if unit == "years":
        return on.year - born.year - (1 if (on.month, on.day) < (born.month, born.day) else 0)
    raise ValueError(f"unknown age unit {unit!r}")


def describe_age(born, on):
    """'47 years', '8 months', '12 days' (completed units, as the ranges count them); '' when unknown."""
    if born is None or on is None or on < born:
        return ""
    months = age_in("months", born, on)
    if months < 1:
        n, unit = age_in("days", born, on), "day"
    elif months < 24:
        n, unit = months, "month"
    else:
        n, unit = age_in("years", born, on), "year"
    return f"{n} {unit}{'s' if n != 1 else ''}"


# -- which range ------------------------------------------------------------------


def _get(rng, name):
    return rng.get(name) if isinstance(rng, dict) else getattr(rng, name, None)


def range_matches(rng, sex, born, on):
    """True when `rng` (a ReferenceRange or dict) covers this sex and age.

    A range limited by age never matches a patient without a date of birth; a sex-specific range
    never matches a patient whose sex is not recorded as female or male.
    """
    rsex = _get(rng, "sex") or "any"
    if rsex != "any" and rsex != sex:
        return False
    lo, hi = _get(rng, "age_min"), _get(rng, "age_max")
    if lo is None and hi is None:
        return True
    if born is None or on is None:
        return False
    age = age_in(_get(rng, "age_unit") or "years", born, on)
    if age < 0:
        return False
    return (lo is None or age >= lo) and (hi is None or age <= hi)


# Rough lengths, only to compare age spans written in different units (never to compute an age).
_UNIT_DAYS = {"days": 1.0, "months": 30.4375, "years": 365.25}


def _age_span(rng):
    """[start, end) in approximate days of the ages `rng` covers."""
    unit = _UNIT_DAYS[_get(rng, "age_unit") or "years"]
    lo, hi = _get(rng, "age_min"), _get(rng, "age_max")
    return (lo or 0) * unit, float("inf") if hi is None else (hi + 1) * unit


def ranges_overlap(a, b):
    """True when some patient could match both ranges (same or "any" sex, intersecting age spans)."""
    sa, sb = _get(a, "sex") or "any", _get(b, "sex") or "any"
    if "any" not in (sa, sb) and sa != sb:
        return False
    (a0, a1), (b0, b1) = _age_span(a), _age_span(b)
    return a0 < b1 and b0 < a1


def choose_range(ranges, sex, born, on):
    """The range that applies: a matching sex-specific one before a matching "any"; first in list order.

    Returns None when none matches (no flag is computed then).
    """
    matching = [r for r in ranges or () if range_matches(r, sex, born, on)]
    specific = [r for r in matching if (_get(r, "sex") or "any") != "any"]
    return (specific or matching or [None])[0]


# -- the flag ------------------------------------------------------------------------


def numeric_flag(value, low=None, high=None, critical_low=None, critical_high=None):
    """LL/L/N/H/HH for `value` against inclusive bands; None when `value` is None."""
    if value is None:
        return None
    if critical_low is not None and value < critical_low:
        return "LL"
    if critical_high is not None and value > critical_high:
        return "HH"
    if low is not None and value < low:
        return "L"
    if high is not None and value > high:
        return "H"
    return "N"


def choice_flag(value, normal_choices):
    """N when `value` is one of `normal_choices` (case-insensitive), else A; None without a value or list."""
    if value is None or value == "" or not normal_choices:
        return None
    wanted = {c.strip().lower() for c in normal_choices}
    return "N" if value.strip().lower() in wanted else "A"


def flag_for(result_type, value, rng=None, normal_choices=None):
    """The flag of a result: numeric against `rng`, choice against `normal_choices`, text: None."""
    if result_type == "numeric":
        if rng is None:
            return None
        return numeric_flag(value, _get(rng, "low"), _get(rng, "high"),
                            _get(rng, "critical_low"), _get(rng, "critical_high"))
    if result_type == "choice":
        return choice_flag(value, normal_choices)
    return None


# -- reading what staff typed -------------------------------------------------------------


class BadValue(ValueError):
    """A result value that cannot be stored: str(exc) is the message for the user."""


# No laboratory reports a value this large (viral loads stay below 10^10 copies/mL); anything beyond is a
# typing slip or an attack, and "1e400" would otherwise become infinity.
MAX_MAGNITUDE = Decimal("1e12")


def parse_number(raw):
    """A finite Decimal from "5.1" / "0" / "-1.25" / "5,1" / a JSON number; None for empty input.

    Raises BadValue for text that is not a number, NaN/infinity, or a magnitude of 10^12 or more.
    """
    if isinstance(raw, bool):  # True is an int to Python, not a lab value
        raise BadValue("Enter a number, e.g. 5.1")
    text = raw.strip().replace(",", ".") if isinstance(raw, str) else raw
    if text is None or text == "":
        return None
    try:
        number = Decimal(str(text))
    except InvalidOperation:
        raise BadValue("Enter a number, e.g. 5.1") from None
    if not number.is_finite():
        raise BadValue("Enter a number, e.g. 5.1")
    if abs(number) >= MAX_MAGNITUDE:
        raise BadValue("That number is too large for a laboratory value.")
    return number


def parse_numeric(raw, decimals=None):
    """A float from what was typed (see parse_number); refuses more decimals than the test reports.

    Raises BadValue. Empty input returns None.
    """
    number = parse_number(raw)
    if number is None:
        return None
    # Trailing zeros are not extra precision: "13.90" is fine for a test reported to one decimal.
    if decimals is not None and -number.normalize().as_tuple().exponent > decimals:
        raise BadValue(f"Use at most {decimals} decimal place{'s' if decimals != 1 else ''}.")
    return float(number)


def describe_range(rng, unit=""):
    """'3.5–5.1 mmol/L (critical <2.5 or >6.5)' for people; '' without a range."""
    if rng is None:
        return ""
    low, high = _get(rng, "low"), _get(rng, "high")
    clow, chigh = _get(rng, "critical_low"), _get(rng, "critical_high")

    def n(x):
        return f"{x:g}"

    if low is not None and high is not None:
        text = f"{n(low)}–{n(high)}"
    elif low is not None:
        text = f"≥ {n(low)}"
    elif high is not None:
        text = f"≤ {n(high)}"
    else:
        text = "no normal limits"
    if unit:
        text += f" {unit}"
    crit = [f"<{n(clow)}" if clow is not None else "", f">{n(chigh)}" if chigh is not None else ""]
    crit = [c for c in crit if c]
    if crit:
        text += f" (critical {' or '.join(crit)})"
    return text


def describe_reference(result_type, rng=None, unit="", normal_choices=None):
    """What a result is read against, for people: the numeric range, or 'normal: Negative' for a choice."""
    if result_type == "choice":
        return f"normal: {', '.join(normal_choices)}" if normal_choices else ""
    if result_type == "numeric":
        return describe_range(rng, unit)
    return ""


def describe_ages(rng):
    """'1–17 years', '≥ 18 years', 'all ages'."""
    lo, hi, unit = _get(rng, "age_min"), _get(rng, "age_max"), _get(rng, "age_unit") or "years"
    if lo is None and hi is None:
        return "all ages"
    if hi is None:
        return f"≥ {lo} {unit}"
    if lo is None:
        return f"≤ {hi} {unit}"
    return f"{lo}–{hi} {unit}"
