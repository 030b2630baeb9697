"""Children's reference ranges: the shipped data (sources, no gaps, no overlaps with adults), the flags a
child gets, and loading them into clinics created before they shipped, once, without overwriting."""
from datetime import date, timedelta

import pytest

from clinic_app.models import AuditEvent, LabTest
from clinic_app.models.labs import ReferenceRange
from clinic_app.services.labs import catalogue
from clinic_app.services.labs.catalogue import starter_data
from clinic_app.services.labs.flags import choose_range, describe_age, numeric_flag, ranges_overlap

from . import lab_factories as lf

ADDITION = "paediatric-1"
CHILD_CODES = {"HGB", "WBC", "PLT", "ALP", "CREA"}
# The youngest age (in days) each test's children's ranges start at: neonatal values are left to the lab.
FIRST_DAY = {"HGB": 3 * 31, "WBC": 31, "PLT": 366, "ALP": 0, "CREA": 0}


def _entries():
    return {t["code"]: t for t in starter_data()["tests"]}


def test_every_paediatric_range_is_under_18_cited_and_marked():
    data = starter_data()
    (addition,) = data["range_additions"]
    assert addition["id"] == ADDITION and set(addition["sources"]) == CHILD_CODES
    assert "Check every interval" in addition["about"] and "MUST check" in " ".join(data["_about"])
    for code, entry in _entries().items():
        young = [r for r in entry["ranges"] if r.get("addition") == ADDITION]
        assert bool(young) == (code in CHILD_CODES), code
        for r in young:
            span_years = {"days": 1 / 365.25, "months": 1 / 12, "years": 1}[r["age_unit"]] * (r["age_max"] + 1)
            assert span_years <= 18 and r["low"] < r["high"], (code, r)
        adults = [r for r in entry["ranges"] if not r.get("addition")]
        assert not any(ranges_overlap(a, y) for a in adults for y in young), code


@pytest.mark.parametrize("code", sorted(CHILD_CODES))
@pytest.mark.parametrize("sex", ["female", "male"])
def test_every_day_from_the_first_covered_age_to_adulthood_has_exactly_one_applicable_band(code, sex):
    """Walk a child's life day by day: a range always applies (no gap between bands up to the adult one)."""
    ranges = [ReferenceRange(**{k: v for k, v in r.items() if k != "addition"}) for r in _entries()[code]["ranges"]]
    born = date(2008, 2, 29)  # a leap-day birthday: the hardest case for "completed months/years"
    on = born + timedelta(days=FIRST_DAY[code])
    while on <= date(2026, 3, 2):
        assert choose_range(ranges, sex, born, on) is not None, (code, sex, on)
        on += timedelta(days=1)


@pytest.mark.parametrize("code, sex, born, on, value, flag", [
    ("HGB", "female", date(2016, 11, 7), date(2026, 12, 1), 9.1, "L"),    # 10 years: 11.5–15.5
    ("HGB", "male", date(2010, 6, 1), date(2026, 12, 1), 12.5, "L"),      # 16, boy: 13.0–16.0
    ("HGB", "female", date(2010, 6, 1), date(2026, 12, 1), 12.5, "N"),    # 16, girl: 12.0–16.0
    ("HGB", "any", date(2026, 3, 1), date(2026, 12, 1), 10.0, "L"),       # 9 months: 10.5–13.5 (sex unknown)
    ("HGB", "female", date(2016, 11, 7), date(2026, 12, 1), 6.9, "LL"),   # the critical limit still applies
    ("WBC", "female", date(2016, 11, 7), date(2026, 12, 1), 14.2, "H"),   # 10 years: 4.5–13.5
    ("WBC", "male", date(2026, 9, 1), date(2026, 12, 1), 18.0, "N"),      # 3 months: 5.0–19.5
    ("PLT", "male", date(2020, 1, 1), date(2026, 12, 1), 420, "N"),       # 6 years: 150–450 (adult high is 400)
    ("ALP", "male", date(2012, 1, 1), date(2026, 12, 1), 350, "N"),       # 14, boy: 100–390
    ("ALP", "female", date(2012, 1, 1), date(2026, 12, 1), 350, "H"),     # 14, girl: 100–320
    ("ALP", "female", date(1980, 1, 1), date(2026, 12, 1), 350, "H"),     # adult: 44–147
    ("CREA", "male", date(2026, 11, 20), date(2026, 12, 1), 1.0, "N"),    # 11 days: 0.3–1.2
    ("CREA", "male", date(2020, 1, 1), date(2026, 12, 1), 1.0, "H"),      # 6 years: 0.3–0.7
])
def test_children_are_flagged_against_their_own_band(clinic_a, in_tenant, code, sex, born, on, value, flag):
    with in_tenant(clinic_a):
        rng = choose_range(lf.lab_test(code).ranges, sex, born, on)
    assert rng is not None
    assert numeric_flag(value, rng.low, rng.high, rng.critical_low, rng.critical_high) == flag


def test_the_day_before_the_18th_birthday_is_a_child_and_the_birthday_an_adult(clinic_a, in_tenant):
    with in_tenant(clinic_a):
        ranges = lf.lab_test("ALP").ranges
    born = date(2008, 12, 1)
    assert choose_range(ranges, "male", born, date(2026, 11, 30)).high == 390
    assert choose_range(ranges, "male", born, date(2026, 12, 1)).high == 147


def test_describe_age_counts_days_then_months_then_years():
    assert describe_age(date(2026, 11, 20), date(2026, 12, 1)) == "11 days"
    assert describe_age(date(2026, 1, 1), date(2026, 12, 1)) == "11 months"
    assert describe_age(date(2024, 12, 2), date(2026, 12, 1)) == "23 months"
    assert describe_age(date(2016, 11, 7), date(2026, 12, 1)) == "10 years"
    assert describe_age(date(2026, 12, 1), date(2026, 12, 1)) == "0 days"
    assert describe_age(None, date(2026, 12, 1)) == "" and describe_age(date(2027, 1, 1), date(2026, 12, 1)) == ""


def _as_before_the_addition(in_tenant, clinic):
    """Make the clinic's catalogue look as it did before children's ranges shipped (adult ranges, no marker)."""
    with in_tenant(clinic):
        for test in LabTest.objects(code__in=list(CHILD_CODES)):
            test.ranges = [r for r in test.ranges if r.age_min == 18]
            test.starter_additions = []
            test.save()


def test_loading_gives_an_existing_clinic_the_childrens_ranges_once(app, clinic_a, in_tenant):
    _as_before_the_addition(in_tenant, clinic_a)
    with in_tenant(clinic_a):
        expected = sum(len([r for r in _entries()[c]["ranges"] if r.get("addition")]) for c in CHILD_CODES)
        assert catalogue.load_starter() == (0, 0, expected)
        hgb = lf.lab_test("HGB")
        assert hgb.starter_additions == [ADDITION] and len(hgb.ranges) == 2 + 6
        assert choose_range(hgb.ranges, "female", date(2016, 11, 7), date(2026, 12, 1)).low == 11.5
        event = AuditEvent.objects.get(action="lab_catalogue.load", changes__tests=0)  # not onboarding's
        assert event.changes["ranges"]["HGB"] == 6 and event.changes["tests"] == 0
        assert catalogue.load_starter() == (0, 0, 0)  # idempotent
        assert len(lf.lab_test("HGB").ranges) == 8


def test_a_clinics_own_childrens_range_wins_and_a_deleted_one_stays_deleted(clinic_a, in_tenant):
    _as_before_the_addition(in_tenant, clinic_a)
    with in_tenant(clinic_a):
        plt = lf.lab_test("PLT")
        plt.ranges.append(ReferenceRange(sex="any", age_min=1, age_max=17, age_unit="years", low=140, high=440))
        plt.save()
        loaded = catalogue.load_starter()
        plt.reload()
        assert [(r.low, r.high) for r in plt.ranges if r.age_max] == [(140, 440)]  # the clinic's, untouched
        assert plt.starter_additions == [ADDITION] and loaded.ranges == 21
        wbc = lf.lab_test("WBC")
        wbc.ranges = [r for r in wbc.ranges if r.age_min == 18]  # the clinic removes the children's bands
        wbc.save()
        assert catalogue.load_starter().ranges == 0
        assert len(lf.lab_test("WBC").ranges) == 1


def test_two_loads_at_once_add_the_ranges_once(clinic_a, in_tenant):
    """Both read the catalogue before either writes; the conditional update lets only one append."""
    _as_before_the_addition(in_tenant, clinic_a)
    with in_tenant(clinic_a):
        data = starter_data()
        snapshot = {t.code: t for t in LabTest.objects.only("code", "ranges", "starter_additions")}
        first = catalogue._add_ranges(data, snapshot, [ADDITION])
        second = catalogue._add_ranges(data, snapshot, [ADDITION])
        assert sum(first.values()) == 22 and second == {}
        assert len(lf.lab_test("CREA").ranges) == 2 + 4


def test_the_cli_reports_the_ranges_it_added(app, clinic_a, in_tenant):
    _as_before_the_addition(in_tenant, clinic_a)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["load-lab-catalogue", "clinica"])
    assert first.exit_code == 0 and "clinica: 0 tests, 0 panels and 22 reference ranges added" in first.output
    again = runner.invoke(args=["load-lab-catalogue", "clinica"])
    assert "0 reference ranges added" in again.output


def test_the_catalogue_page_folds_the_childrens_bands_and_keeps_the_warning(client, clinic_a, login_as):
    login_as(clinic_a, "Nurse")
    page = client.get("/lab/tests", tenant=clinic_a).get_data(as_text=True)
    assert "check every one against your own laboratory" in page
    assert "6 more by age" in page and "any · 6–23 months: 10.5–13.5 g/dL" in page
