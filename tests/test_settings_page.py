"""Settings page: read for everyone with settings:read, edit for Admins, validation and audit."""
import re

import pytest

from clinic_app.models import AuditEvent, Settings, Tenant
from clinic_app.services import clinic_settings
from tests.support import unchanged

HX = {"HX-Request": "true"}
GOOD = {"clinic_name": "Clinic A Renamed", "timezone": "Europe/Paris", "currency": "EUR",
        "date_format": "DD/MM/YYYY", "idle_timeout_minutes": "30", "slot_minutes": "20",
        "allow_double_booking": "y", "work_day_start": "07:30", "work_day_end": "19:00",
        "working_days": ["1", "2", "3", "4", "5"], "reminder_hours": "48, 3", "quiet_start": "22:00",
        "quiet_end": "07:00"}


@pytest.mark.parametrize("field,value,message", [
    ("work_day_start", "8am", "Enter a time as HH:MM"),
    ("work_day_end", "07:00", "The clinic must close after it opens."),
    ("working_days", [], "Choose at least one day."),
    ("reminder_hours", "soon", "is not a number of hours"),
    ("reminder_hours", "400", "between 0.25 hours and 14 days"),
    ("reminder_hours", "1,2,3,4,5", "At most 4 reminders."),
    ("quiet_end", "25:00", "Enter a time as HH:MM"),
])
def test_hours_and_reminder_settings_are_validated(client, clinic_a, login_as, in_tenant, field, value, message):
    login_as(clinic_a, "Admin")
    with unchanged(snapshot, in_tenant, clinic_a):
        response = client.post("/settings", data={**GOOD, field: value}, tenant=clinic_a)
        assert response.status_code == 422 and message in response.get_data(as_text=True)


def test_hours_and_reminders_are_saved(client, clinic_a, login_as, in_tenant):
    login_as(clinic_a, "Admin")
    assert client.post("/settings", data=GOOD, tenant=clinic_a).status_code == 303
    with in_tenant(clinic_a):
        s = Settings.current()
        assert (s.work_day_start, s.work_day_end, s.working_days) == ("07:30", "19:00", [1, 2, 3, 4, 5])
        assert (s.reminder_leads, s.quiet_start, s.quiet_end) == ([2880, 180], "22:00", "07:00")
    html = client.get("/settings", tenant=clinic_a).get_data(as_text=True)
    assert 'value="48, 3"' in html


def snapshot(in_tenant, clinic):
    with in_tenant(clinic):
        return {"settings": list(Settings.objects.as_pymongo()), "audit": list(AuditEvent.objects.as_pymongo()),
                "tenant": Tenant.objects(pk=clinic.pk).as_pymongo().first()}


def test_an_admin_sees_the_form_with_the_current_values(client, clinic_a, login_as):
    login_as(clinic_a)
    html = client.get("/settings", tenant=clinic_a).get_data(as_text=True)
    assert 'id="settings-form"' in html and 'value="Clinic A"' in html
    assert '<option selected value="UTC">' in html and '<option value="Europe/Paris">' in html
    assert "posix/" not in html and '<option selected value="USD">' in html
    assert 'name="idle_timeout_minutes"' in html and 'value="60"' in html


def test_a_doctor_reads_the_settings_without_a_form(client, clinic_a, login_as):
    login_as(clinic_a, "Doctor")
    response = client.get("/settings", tenant=clinic_a)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="settings-form"' not in html and 'id="settings-facts"' in html
    assert '<dd data-setting="clinic_name">Clinic A</dd>' in html
    assert '<dd data-setting="allow_double_booking">No</dd>' in html


def test_saving_changes_every_field_renames_the_clinic_and_audits_the_changes(
        client, clinic_a, login_as, in_tenant):
    login_as(clinic_a)
    response = client.post("/settings", data=GOOD, tenant=clinic_a)
    assert response.status_code == 303 and response.headers["Location"] == "/settings"
    with in_tenant(clinic_a):
        s = Settings.current()
        assert (s.clinic_name, s.timezone, s.currency, s.date_format) == (
            "Clinic A Renamed", "Europe/Paris", "EUR", "DD/MM/YYYY")
        assert (s.idle_timeout_minutes, s.slot_minutes, s.allow_double_booking) == (30, 20, True)
        [event] = AuditEvent.objects(action="settings.update")
    assert event.changes["timezone"] == {"from": "UTC", "to": "Europe/Paris"}
    assert event.changes["idle_timeout_minutes"] == {"from": 60, "to": 30}
    assert set(event.changes) == set(GOOD) - {"reminder_hours"} | {"reminder_leads"}
    assert Tenant.objects.get(pk=clinic_a.pk).name == "Clinic A Renamed"
    page = client.get("/settings", tenant=clinic_a).get_data(as_text=True)
    assert "Settings saved." in page and '<a class="brand" href="/">Clinic A Renamed</a>' in page


def test_saving_without_changes_writes_no_audit_event(client, clinic_a, login_as, in_tenant):
    login_as(clinic_a)
    same = {"clinic_name": "Clinic A", "timezone": "UTC", "currency": "USD", "date_format": "YYYY-MM-DD",
            "idle_timeout_minutes": "60", "slot_minutes": "15", "work_day_start": "08:00", "work_day_end": "18:00",
            "working_days": [str(d) for d in range(1, 8)], "reminder_hours": "24, 2", "quiet_start": "21:00",
            "quiet_end": "08:00"}
    with unchanged(snapshot, in_tenant, clinic_a):
        assert client.post("/settings", data=same, tenant=clinic_a).status_code == 303


@pytest.mark.parametrize("field,value,message", [
    ("clinic_name", "  ", "Enter the clinic&#39;s name"),
    ("clinic_name", "x" * 121, "120"),
    ("timezone", "Mars/Olympus_Mons", "Choose a time zone from the list"),
    ("timezone", "posix/Europe/Paris", "Choose a time zone from the list"),
    ("currency", "XXX", "Choose a currency"),
    ("date_format", "%Y", "Choose a date format"),
    ("idle_timeout_minutes", "4", "from 5 to 1440"),
    ("idle_timeout_minutes", "1441", "from 5 to 1440"),
    ("idle_timeout_minutes", "soon", "Enter the minutes as a whole number, e.g. 60"),
    ("slot_minutes", "a", "Enter the minutes as a whole number, e.g. 15"),
    ("idle_timeout_minutes", "", "Enter a number of minutes"),
    ("slot_minutes", "0", "from 5 to 240"),
])
def test_invalid_settings_are_422_beside_the_field_and_save_nothing(
        client, clinic_a, login_as, in_tenant, field, value, message):
    login_as(clinic_a)
    with unchanged(snapshot, in_tenant, clinic_a):
        response = client.post("/settings", data={**GOOD, field: value}, headers=HX, tenant=clinic_a)
        assert response.status_code == 422
        html = response.get_data(as_text=True)
        assert "<html" not in html and 'id="settings-form"' in html and "HX-Request" in response.headers["Vary"]
        assert re.search(rf'id="{field}-error">[^<]*{message}', html), html


def test_a_shorter_idle_timeout_applies_to_sessions_at_once(app, client, clinic_a, login_as, frozen_clock):
    login_as(clinic_a)
    assert client.post("/settings", data={**GOOD, "idle_timeout_minutes": "5"}, tenant=clinic_a).status_code == 303
    frozen_clock.advance(minutes=6)
    response = client.get("/settings", tenant=clinic_a)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_doctor_may_not_change_the_settings(client, clinic_a, login_as, in_tenant):
    login_as(clinic_a, "Doctor")
    with unchanged(snapshot, in_tenant, clinic_a):
        assert client.post("/settings", data=GOOD, tenant=clinic_a).status_code == 403


def test_a_role_without_settings_access_may_not_read_them(client, clinic_a, login_as, in_tenant):
    from clinic_app.models import Role

    with in_tenant(clinic_a):
        Role(name="Visitor", permissions={}).save()
    login_as(clinic_a, "Visitor")
    assert client.get("/settings", tenant=clinic_a).status_code == 403


def test_settings_of_one_clinic_never_touch_another(client, clinic_a, clinic_b, login_as, in_tenant):
    login_as(clinic_a)
    with unchanged(snapshot, in_tenant, clinic_b):
        assert client.post("/settings", data=GOOD, tenant=clinic_a).status_code == 303
    assert b"Clinic B" in client.get("/login", tenant=clinic_b).data


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_signed_out_visitors_are_sent_to_sign_in(client, clinic_a, in_tenant, method):
    with unchanged(snapshot, in_tenant, clinic_a):
        page = client.open("/settings", method=method, data=GOOD, tenant=clinic_a)
        assert page.status_code == 302 and page.headers["Location"].startswith("/login?next=")
        fragment = client.open("/settings", method=method, data=GOOD, headers=HX, tenant=clinic_a)
        assert fragment.status_code == 401 and fragment.headers["HX-Redirect"].startswith("/login?next=")


def test_a_corrected_currency_keeps_the_prices_as_typed(client, clinic_a, login_as, in_tenant):
    """A clinic that picked the wrong currency at sign-up fixes it before charging anyone: 50.00 USD stays 50."""
    from tests import billing_factories as bf, pharmacy_factories as pf

    with in_tenant(clinic_a):
        item = bf.price_item(price=5025)
        medicine = pf.medicine(price=250)
        priced = sum(m.objects(**{f"{field}__gt": 0}).count() for m, field in clinic_settings.PRICED)
    login_as(clinic_a)
    assert client.post("/settings", data={**GOOD, "currency": "JPY"}, tenant=clinic_a).status_code == 303
    with in_tenant(clinic_a):
        assert type(item).objects.get(pk=item.pk).price == 50  # 50.25 USD -> 50 JPY
        assert type(medicine).objects.get(pk=medicine.pk).sale_price == 3  # 2.50 -> 3, half up
        [event] = AuditEvent.objects(action="settings.update")
        assert event.changes["currency"] == {"from": "USD", "to": "JPY"} and event.changes["prices_rescaled"] == priced
    assert client.post("/settings", data={**GOOD, "currency": "KWD"}, tenant=clinic_a).status_code == 303
    with in_tenant(clinic_a):
        assert type(item).objects.get(pk=item.pk).price == 50000  # 50 JPY -> 50.000 KWD


def test_the_currency_stays_once_a_patient_has_been_charged(client, clinic_a, login_as, in_tenant):
    from tests import billing_factories as bf

    with in_tenant(clinic_a):
        bf.issued()
    login_as(clinic_a)
    with unchanged(snapshot, in_tenant, clinic_a):
        response = client.post("/settings", data={**GOOD, "currency": "JPY"}, tenant=clinic_a)
        assert response.status_code == 422
        assert "The currency stays USD once patients have been charged" in response.get_data(as_text=True)
    assert client.post("/settings", data={**GOOD, "currency": "USD"}, tenant=clinic_a).status_code == 303
