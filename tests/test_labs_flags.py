"""Flags and range choice (pure functions): 0, each limit, past the critical limits, ages at exact birthdays."""
from datetime import date, datetime, timezone

import pytest

from clinic_app.services.labs import flags
from clinic_app.services.labs.flags import (
    BadValue,
    age_in,
    choice_flag,
    choose_range,
    flag_for,
    local_collection_date,
    numeric_flag,
    parse_numeric,
)

POTASSIUM = {"low": 3.5, "high": 5.1, "critical_low": 2.5, "critical_high": 6.5}


@pytest.mark.parametrize("value, expected", [
    (0, "LL"), (2.4, "LL"), (2.5, "L"), (2.6, "L"), (3.4, "L"),
    (3.5, "N"), (4.2, "N"), (5.1, "N"),
    (5.2, "H"), (6.5, "H"), (6.6, "HH"), (100, "HH"), (-1, "LL"),
])
def test_numeric_flag_at_and_around_every_limit(value, expected):
    assert numeric_flag(value, **POTASSIUM) == expected


def test_exact_limits_are_in_the_less_severe_band():
    assert numeric_flag(3.5, **POTASSIUM) == "N" and numeric_flag(5.1, **POTASSIUM) == "N"
    assert numeric_flag(2.5, **POTASSIUM) == "L" and numeric_flag(6.5, **POTASSIUM) == "H"


def test_zero_is_a_real_value_and_a_real_limit():
    # GNU Health's `if self.result and self.lower_limit` treats both as missing.
    assert numeric_flag(0, low=0, high=5) == "N"
    assert numeric_flag(-0.1, low=0, high=5) == "L"
    assert numeric_flag(0, low=1, high=5) == "L"
    assert numeric_flag(0.1, low=None, high=0) == "H"
    assert numeric_flag(0, low=None, high=0) == "N"
    assert numeric_flag(0, critical_low=0) == "N"
    assert numeric_flag(-0.01, critical_low=0) == "LL"
    assert numeric_flag(0, critical_high=0) == "N"
    assert numeric_flag(0.01, low=0, high=0, critical_high=0) == "HH"


@pytest.mark.parametrize("limits, value, expected", [
    ({}, 123, "N"),                                  # no limits at all: nothing is out of range
    ({"high": 199}, 199, "N"), ({"high": 199}, 200, "H"), ({"high": 199}, -5, "N"),
    ({"low": 40}, 40, "N"), ({"low": 40}, 39, "L"), ({"low": 40}, 10_000, "N"),
    ({"critical_high": 1000, "high": 149}, 1000, "H"), ({"critical_high": 1000, "high": 149}, 1001, "HH"),
    ({"critical_low": 2.5}, 2.5, "N"), ({"critical_low": 2.5}, 2.4, "LL"),   # critical without a normal band
    ({"low": 3.5, "critical_high": 6.5}, 7, "HH"), ({"low": 3.5, "critical_high": 6.5}, 6, "N"),
])
def test_any_limit_may_be_missing(limits, value, expected):
    assert numeric_flag(value, **limits) == expected


def test_no_value_no_flag():
    assert numeric_flag(None, **POTASSIUM) is None


def test_flag_for_numeric_without_a_range_is_none_and_text_is_never_flagged():
    assert flag_for("numeric", 4.0, None) is None
    assert flag_for("numeric", 0, {"low": 0, "high": 0}) == "N"
    assert flag_for("text", "many bacteria", POTASSIUM) is None


@pytest.mark.parametrize("value, expected", [
    ("Negative", "N"), ("negative", "N"), (" NEGATIVE ", "N"), ("Positive", "A"), ("Trace", "A"), ("", None),
    (None, None),
])
def test_choice_flags(value, expected):
    assert choice_flag(value, ["Negative"]) == expected
    assert flag_for("choice", value, None, ["Negative"]) == expected


def test_choice_without_normal_choices_is_not_flagged():
    assert choice_flag("Positive", []) is None


# -- parsing -----------------------------------------------------------------------


@pytest.mark.parametrize("raw, decimals, expected", [
    ("0", 1, 0.0), ("0.0", 1, 0.0), ("5,1", 1, 5.1), (" 6.5 ", 1, 6.5), ("-1", 0, -1.0), ("", 1, None),
    ("  ", 1, None), ("140", 0, 140.0), ("1.35", 2, 1.35), ("13.90", 1, 13.9), ("150.00", 0, 150.0),
    ("1e3", 0, 1000.0), (7, 1, 7.0), (6.5, 1, 6.5), ("999999999999", 0, 999999999999.0),
])
def test_parse_numeric(raw, decimals, expected):
    assert parse_numeric(raw, decimals) == expected


@pytest.mark.parametrize("raw, decimals", [
    ("abc", 1), ("5.12", 1), ("1.5", 0), ("nan", 1), ("NaN", 1), ("inf", 1), ("-Infinity", 1), ("1e", 1),
    ("1e400", 1), ("-1e400", 1), ("1e12", 0), ("-1000000000000", 0), (10 ** 400, 0), (float("inf"), 1),
    (float("nan"), 1), (True, 0), ("5 .1", 1), ("0x10", 0),
])
def test_parse_numeric_refuses_junk_and_too_many_decimals(raw, decimals):
    with pytest.raises(BadValue):
        parse_numeric(raw, decimals)


# -- ages ---------------------------------------------------------------------------


BORN = date(2008, 6, 15)
LEAP = date(2020, 2, 29)
JAN_31 = date(2026, 1, 31)
AGES = [  # unit, born, on, age
    # completed years change on the birthday
    pytest.param("years", BORN, date(2026, 6, 14), 17, id="day-before-18th-birthday"),
    pytest.param("years", BORN, date(2026, 6, 15), 18, id="18th-birthday"),
    pytest.param("years", BORN, date(2009, 6, 14), 0, id="day-before-1st-birthday"),
    pytest.param("years", BORN, date(2009, 6, 15), 1, id="1st-birthday"),
    # a leap-day birth turns a year older on 1 March in common years
    pytest.param("years", LEAP, date(2021, 2, 28), 0, id="leap-born-28-feb-common-year"),
    pytest.param("years", LEAP, date(2021, 3, 1), 1, id="leap-born-1-mar-common-year"),
    pytest.param("years", LEAP, date(2024, 2, 28), 3, id="leap-born-28-feb-leap-year"),
    pytest.param("years", LEAP, date(2024, 2, 29), 4, id="leap-born-29-feb-leap-year"),
    pytest.param("days", LEAP, date(2021, 3, 1), 366, id="leap-born-days-to-1-mar"),
    # months and days
    pytest.param("months", JAN_31, date(2026, 2, 28), 0, id="no-31-feb-month-completes-1-mar"),
    pytest.param("months", JAN_31, date(2026, 3, 1), 1, id="31-jan-to-1-mar"),
    pytest.param("months", JAN_31, date(2026, 3, 30), 1, id="31-jan-to-30-mar"),
    pytest.param("months", JAN_31, date(2026, 3, 31), 2, id="31-jan-to-31-mar"),
    pytest.param("days", JAN_31, date(2026, 1, 31), 0, id="day-of-birth"),
    pytest.param("days", JAN_31, date(2026, 2, 1), 1, id="day-after-birth"),
    pytest.param("months", date(2025, 12, 15), date(2026, 1, 15), 1, id="month-across-a-year-end"),
]


@pytest.mark.parametrize("unit, born, on, age", AGES)
def test_age_in_counts_completed_units_at_exact_birthdays(unit, born, on, age):
    assert age_in(unit, born, on) == age


# -- range choice -----------------------------------------------------------------------

NEWBORN = {"sex": "any", "age_min": 0, "age_max": 27, "age_unit": "days", "low": 13.5, "high": 22.0}
INFANT = {"sex": "any", "age_min": 1, "age_max": 11, "age_unit": "months", "low": 9.5, "high": 14.0}
CHILD = {"sex": "any", "age_min": 1, "age_max": 17, "age_unit": "years", "low": 11.0, "high": 15.5}
MAN = {"sex": "male", "age_min": 18, "age_unit": "years", "low": 13.8, "high": 17.2}
WOMAN = {"sex": "female", "age_min": 18, "age_unit": "years", "low": 12.1, "high": 15.1}
ADULT = {"sex": "any", "age_min": 18, "age_unit": "years", "low": 12.0, "high": 17.5}
HGB = [NEWBORN, INFANT, CHILD, MAN, WOMAN, ADULT]


@pytest.mark.parametrize("born, on, sex, expected", [
    (date(2026, 1, 1), date(2026, 1, 1), "female", NEWBORN),     # day of birth: 0 days
    (date(2026, 1, 1), date(2026, 1, 28), "female", NEWBORN),    # 27 days: last newborn day
    (date(2026, 1, 1), date(2026, 1, 29), "female", None),       # 28 days, not yet a month: a gap in these ranges
    (date(2026, 1, 1), date(2026, 2, 1), "female", INFANT),      # 1 month
    (date(2025, 1, 1), date(2025, 12, 31), "male", INFANT),      # 11 months
    (date(2025, 1, 1), date(2026, 1, 1), "male", CHILD),         # 1st birthday
    (date(2008, 6, 15), date(2026, 6, 14), "male", CHILD),       # day before the 18th birthday
    (date(2008, 6, 15), date(2026, 6, 15), "male", MAN),         # 18th birthday
    (date(2008, 6, 15), date(2026, 6, 15), "female", WOMAN),
    (date(2008, 6, 15), date(2026, 6, 15), "unknown", ADULT),    # no sex-specific range for unknown sex
    (date(2008, 2, 29), date(2026, 2, 28), "male", CHILD),       # leap-day birth: 18 on 1 March 2026
    (date(2008, 2, 29), date(2026, 3, 1), "male", MAN),
    (date(1960, 5, 5), date(2026, 5, 5), "other", ADULT),
])
def test_range_choice_by_sex_and_age_at_collection(born, on, sex, expected):
    assert choose_range(HGB, sex, born, on) is expected


def test_sex_specific_range_wins_over_any_regardless_of_order():
    assert choose_range([ADULT, MAN], "male", date(1990, 1, 1), date(2026, 1, 1)) is MAN
    assert choose_range([ADULT, MAN], "female", date(1990, 1, 1), date(2026, 1, 1)) is ADULT


def test_without_a_birth_date_only_ranges_without_age_limits_apply():
    open_range = {"sex": "any", "low": 1, "high": 2}
    assert choose_range(HGB, "male", None, date(2026, 1, 1)) is None
    assert choose_range(HGB + [open_range], "male", None, date(2026, 1, 1)) is open_range


def test_a_collection_before_the_birth_date_matches_no_age_range():
    assert choose_range(HGB, "male", date(2026, 5, 1), date(2026, 4, 30)) is None


def test_collection_date_is_taken_in_the_clinics_zone():
    late_evening_in_new_york = datetime(2026, 6, 15, 2, 30, tzinfo=timezone.utc)   # 14 June, 22:30 EDT
    on = local_collection_date(late_evening_in_new_york, "America/New_York")
    assert on == date(2026, 6, 14)
    assert choose_range(HGB, "male", date(2008, 6, 15), on) is CHILD     # still 17 there
    assert choose_range(HGB, "male", date(2008, 6, 15),
                        local_collection_date(late_evening_in_new_york, "UTC")) is MAN


def test_ranges_work_on_model_documents_too():
    from clinic_app.models.labs import ReferenceRange

    man = ReferenceRange(sex="male", age_min=18, low=13.8, high=17.2, critical_low=7.0)
    chosen = choose_range([ReferenceRange(sex="any", age_max=17, low=11, high=15.5), man], "male",
                          date(1990, 1, 1), date(2026, 1, 1))
    assert chosen is man and flag_for("numeric", 6.9, chosen) == "LL" and flag_for("numeric", 7.0, chosen) == "L"


def test_describe_range_for_people():
    assert flags.describe_range(POTASSIUM, "mmol/L") == "3.5–5.1 mmol/L (critical <2.5 or >6.5)"
    assert flags.describe_range({"high": 199}, "mg/dL") == "≤ 199 mg/dL"
    assert flags.describe_range({"low": 0, "high": 0}) == "0–0"
    assert flags.describe_ages(CHILD) == "1–17 years" and flags.describe_ages({}) == "all ages"
