"""Every date and time a person sees is in the clinic's date format and time zone (clinic_app/localtime.py),
and the patient search reads a birth date typed the way the clinic writes dates."""
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from clinic_app.models import Settings, Tenant
from clinic_app.services import patients as patient_svc

TEMPLATES = Path(__file__).resolve().parent.parent / "clinic_app" / "templates"


def set_clinic(in_tenant, clinic, date_format="DD.MM.YYYY", zone="Asia/Tokyo"):
    with in_tenant(clinic):
        s = Settings.current()
        s.date_format, s.timezone = date_format, zone
        s.save()


def new_patient(in_tenant, clinic, first="Maria", last="Lopez", born=date(1980, 12, 31), **more):
    with in_tenant(clinic):
        return patient_svc.create_patient({"first_name": first, "last_name": last, "date_of_birth": born,
                                           "allergies": [], **more})


# -- the formatter ------------------------------------------------------------------------------


def test_local_date_moves_a_datetime_into_the_clinic_zone_before_formatting(app, clinic_a, in_tenant):
    from clinic_app.localtime import date_pattern, local_date, local_time

    set_clinic(in_tenant, clinic_a)
    with in_tenant(clinic_a):
        late_evening_utc = datetime(2026, 3, 1, 20, 30, tzinfo=timezone.utc)  # 05:30 on 2 March in Tokyo
        assert local_date(late_evening_utc) == "02.03.2026"
        assert local_time(late_evening_utc) == "02.03.2026 05:30"
        assert local_date(date(2026, 3, 1)) == "01.03.2026" and local_date(None) == ""
        assert date_pattern() == "DD.MM.YYYY"


@pytest.mark.parametrize("fmt,typed", [
    ("DD.MM.YYYY", "31.12.1980"), ("DD.MM.YYYY", "31/12/1980"), ("DD.MM.YYYY", "31-12-1980"),
    ("MM/DD/YYYY", "12/31/1980"), ("DD/MM/YYYY", "31/12/1980"), ("YYYY-MM-DD", "1980-12-31"),
    ("DD/MM/YYYY", "1980-12-31"),  # ISO is always understood
])
def test_the_patient_search_reads_a_birth_date_in_the_clinic_format(app, clinic_a, in_tenant, fmt, typed):
    set_clinic(in_tenant, clinic_a, date_format=fmt)
    maria = new_patient(in_tenant, clinic_a)
    new_patient(in_tenant, clinic_a, first="Ivan", last="Petrov", born=date(1980, 1, 12))
    with in_tenant(clinic_a):
        assert [p.pk for p in patient_svc.search(typed)] == [maria.pk]


def test_a_day_that_does_not_exist_finds_nobody_and_a_phone_number_still_finds_by_phone(app, clinic_a, in_tenant):
    set_clinic(in_tenant, clinic_a, date_format="DD/MM/YYYY")
    by_phone = new_patient(in_tenant, clinic_a, born=None, phone="12-34-5678")
    with in_tenant(clinic_a):
        assert list(patient_svc.search("2026-02-30")) == []
        # 12-34-5678 is no date in DD/MM/YYYY (month 34): it is read as a phone number instead.
        assert [p.pk for p in patient_svc.search("12-34-5678")] == [by_phone.pk]


# -- the pages ---------------------------------------------------------------------------------


def test_patient_list_page_and_duplicate_warning_use_the_clinic_format(client, clinic_a, login_as, in_tenant):
    set_clinic(in_tenant, clinic_a)
    maria = new_patient(in_tenant, clinic_a)
    login_as(clinic_a)
    listing = client.get("/patients/", tenant=clinic_a).get_data(as_text=True)
    assert "<td>31.12.1980</td>" in listing and "1980-12-31" not in listing
    assert 'placeholder="Name, phone, date of birth (DD.MM.YYYY) or record number"' in listing
    found = client.get("/patients/?q=31.12.1980", tenant=clinic_a).get_data(as_text=True)
    assert f'data-patient="{maria.record_number}"' in found and 'value="31.12.1980"' in found
    page = client.get(f"/patients/{maria.pk}", tenant=clinic_a).get_data(as_text=True)
    assert "<dd>31.12.1980</dd>" in page and "1980-12-31" not in page
    duplicate = client.post("/patients/new", data={"first_name": "Maria", "last_name": "Lopez",
                                                   "date_of_birth": "1980-12-31", "sex": "female"}, tenant=clinic_a)
    html = duplicate.get_data(as_text=True)
    assert duplicate.status_code == 422 and 'id="duplicate-warning"' in html
    assert "born 31.12.1980" in html and "born 1980-12-31" not in html


def test_the_booking_picker_shows_birth_dates_in_the_clinic_format(client, clinic_a, login_as, in_tenant):
    set_clinic(in_tenant, clinic_a, date_format="MM/DD/YYYY")
    new_patient(in_tenant, clinic_a)
    login_as(clinic_a, "Receptionist")
    html = client.get("/appointments/new?q=lopez", tenant=clinic_a).get_data(as_text=True)
    assert "Lopez, Maria · P000001 · born 12/31/1980" in html
    assert 'placeholder="Name, phone, date of birth (MM/DD/YYYY) or record number"' in html


def test_the_subscription_page_shows_the_trial_end_in_the_clinic_zone(client, clinic_a, login_as, in_tenant, app):
    set_clinic(in_tenant, clinic_a)
    with app.app_context():
        tenant = Tenant.objects.get(pk=clinic_a.pk)
        tenant.subscription.expires_at = datetime(2026, 3, 9, 20, 0, tzinfo=timezone.utc)
        tenant.save()
    login_as(clinic_a)
    html = client.get("/subscription", tenant=clinic_a).get_data(as_text=True)
    # 20:00 UTC on 9 March is 05:00 on 10 March in Tokyo; an unpaid trial "ends", it is not "paid through".
    assert '<dt>Trial ends</dt><dd id="expires-at">10.03.2026 05:00</dd>' in html
    assert "Paid through" not in html and "UTC" not in html


def test_a_paid_clinic_is_paid_through(client, clinic_a, login_as, in_tenant, app):
    set_clinic(in_tenant, clinic_a, date_format="YYYY-MM-DD", zone="Europe/Paris")
    with app.app_context():
        tenant = Tenant.objects.get(pk=clinic_a.pk)
        tenant.subscription.plan = "monthly"
        tenant.subscription.expires_at = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=20)
        tenant.save()
    login_as(clinic_a)
    html = client.get("/subscription", tenant=clinic_a).get_data(as_text=True)
    assert "<dt>Paid through</dt>" in html and "Trial ends" not in html


def test_the_visit_banner_and_the_patient_page_agree(client, clinic_a, login_as, in_tenant):
    set_clinic(in_tenant, clinic_a, date_format="MM/DD/YYYY")
    maria = new_patient(in_tenant, clinic_a)
    login_as(clinic_a, "Doctor")
    started = client.post("/visits/start", data={"patient_id": str(maria.pk)}, tenant=clinic_a)
    visit = client.get(started.headers["Location"], tenant=clinic_a).get_data(as_text=True)
    page = client.get(f"/patients/{maria.pk}", tenant=clinic_a).get_data(as_text=True)
    assert "born 12/31/1980" in visit and "<dd>12/31/1980</dd>" in page


# -- no template formats a date by itself ---------------------------------------------------------

# Allowed: machine-readable uses (URLs, data-* and value= attributes, <input type=date>), times of day and
# weekday names (%H:%M, %A, %a), which are the same in every date format.
_MACHINE = re.compile(r"url_for\([^)]*isoformat\(\)|data-[\w-]+=\"\{\{[^}]*isoformat\(\)|value=\"\{\{[^}]*isoformat\(\)"
                      r"|strftime\(\"%(H:%M|A|a)\"\)")


@pytest.mark.parametrize("path", sorted(p for p in TEMPLATES.rglob("*.html")
                                        if p.parts[-2] not in ("emails", "platform")), ids=lambda p: p.name)
def test_no_page_template_formats_a_date_itself(path):
    for number, line in enumerate(path.read_text().splitlines(), 1):
        rest = _MACHINE.sub("", line)
        assert ".isoformat()" not in rest and "strftime(" not in rest, f"{path.name}:{number}: {line.strip()}"
