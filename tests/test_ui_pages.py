"""What staff met in the browser (issue 8, points 9-11): labels, htmx wiring, the header, wide tables,
the favicon, plain messages, the time-zone list, who takes appointments, one "start" button."""
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bson import ObjectId

from clinic_app.models import Appointment, AuditEvent, Patient, Settings, User
from tests.support import make_user

HX = {"HX-Request": "true"}
STATIC = Path(__file__).resolve().parent.parent / "clinic_app" / "static"


# -- favicon ---------------------------------------------------------------------------------


def test_the_favicon_is_served_on_every_host_and_linked_from_the_layout(client, clinic_a):
    for kwargs in ({}, {"tenant": clinic_a}):
        response = client.get("/favicon.ico", **kwargs)
        assert response.status_code == 200 and response.mimetype in ("image/vnd.microsoft.icon", "image/x-icon")
        assert response.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    html = client.get("/login", tenant=clinic_a).get_data(as_text=True)
    assert '<link rel="icon" href="/favicon.ico"' in html and 'href="/static/favicon.svg"' in html
    assert client.get("/static/favicon.svg").status_code == 200


# -- layout and wide content ----------------------------------------------------------------------


def test_the_header_puts_the_areas_on_their_own_line_apart_from_the_account(client, clinic_a, login_as):
    login_as(clinic_a)
    html = client.get("/", tenant=clinic_a).get_data(as_text=True)
    header = re.search(r'<header class="topbar">.*?</header>', html, re.S).group(0)
    account = re.search(r'<div class="account">.*?</div>', header, re.S).group(0)
    nav = re.search(r'<nav aria-label="Main">.*?</nav>', header, re.S).group(0)
    assert 'data-nav="account"' in account and "Sign out" in account and 'data-nav="patients"' not in account
    assert 'data-nav="patients"' in nav and "Sign out" not in nav
    css = (STATIC / "css" / "app.css").read_text()
    assert re.search(r"\.topbar nav \{[^}]*overflow-x:auto[^}]*white-space:nowrap", css)  # one line, never wraps


def test_no_template_has_an_inline_script_the_csp_would_block():
    templates = Path(__file__).resolve().parent.parent / "clinic_app" / "templates"
    for path in templates.rglob("*.html"):
        for tag in re.findall(r"<script\b[^>]*>", path.read_text()):
            assert "src=" in tag, f"{path.name}: {tag}"


def test_the_week_view_scrolls_inside_its_own_box(client, clinic_a, login_as):
    login_as(clinic_a)
    html = client.get("/appointments/?view=week&date=2026-03-02", tenant=clinic_a).get_data(as_text=True)
    assert re.search(r'<div class="calendar-scroll" id="week-scroll">\s*<table class="calendar calendar-week">', html)
    css = (STATIC / "css" / "app.css").read_text()
    assert ".table-scroll, .calendar-scroll { overflow-x:auto;" in css


def test_the_messages_table_fits_and_scrolls_in_its_box(client, clinic_a, login_as, in_tenant):
    from clinic_app.models import OutboundMessage

    with in_tenant(clinic_a):
        OutboundMessage(key="k", kind="welcome", to="a.very.long.address.indeed@example-clinic.test", subject="Hi",
                        text_body="x", message_id="<m@x>").save()
    login_as(clinic_a)
    html = client.get("/messages/", tenant=clinic_a).get_data(as_text=True)
    assert re.search(r'<div class="table-scroll">\s*<table id="message-table"', html)
    assert '<td class="wrap">a.very.long.address.indeed@example-clinic.test</td>' in html


# -- forms ---------------------------------------------------------------------------------------


def test_the_double_booking_checkbox_sits_inside_its_label(client, clinic_a, login_as):
    login_as(clinic_a)
    settings = client.get("/settings", tenant=clinic_a).get_data(as_text=True)
    assert re.search(r'<label for="allow_double_booking"><input id="allow_double_booking"[^>]*type="checkbox"[^>]*>'
                     r' <span>Allow two appointments', settings)


def test_the_duplicate_create_anyway_checkbox_is_labelled(client, clinic_a, login_as, in_tenant):
    from datetime import date

    login_as(clinic_a)
    with in_tenant(clinic_a):
        Patient(record_number="P000001", first_name="Maria", last_name="Lopez", date_of_birth=date(1980, 1, 2)).save()
    html = client.post("/patients/new", data={"first_name": "Maria", "last_name": "Lopez", "sex": "female",
                                              "date_of_birth": "1980-01-02"}, tenant=clinic_a).get_data(as_text=True)
    assert 'id="duplicate-warning"' in html
    assert re.search(r'<label for="confirm_duplicate"><input[^>]*id="confirm_duplicate"[^>]*> <span>This is a '
                     r'different person', html)


def test_the_booking_search_includes_the_picker_itself_so_htmx_always_finds_it(client, clinic_a, login_as):
    login_as(clinic_a, "Receptionist")
    html = client.get("/appointments/new", tenant=clinic_a).get_data(as_text=True)
    search = re.search(r'<input type="search" name="q" id="patient-q"[^>]*>', html).group(0)
    # "#patient-picker [name=patient_id]:checked" matched nothing until a patient was chosen: htmx logged an
    # error on every keystroke. The picker is always there, and only a checked radio is sent.
    assert 'hx-include="#patient-picker"' in search and ":checked" not in search
    assert 'id="patient-picker"' in html


def test_the_patient_search_box_shows_the_search_of_the_url_and_back_refetches_it(client, clinic_a, login_as):
    login_as(clinic_a)
    html = client.get("/patients/?q=lopez", tenant=clinic_a).get_data(as_text=True)
    assert re.search(r'<input type="search" name="q" id="patient-q" value="lopez"', html)
    # htmx's history cache stores the page as the DOM's attributes (without what was typed since), so Back
    # showed the filtered list with an empty box. No cache: Back asks the server for the URL's page.
    assert '"historyCacheSize": 0' in html


def test_vitals_typed_wrong_get_a_plain_message(client, clinic_a, login_as, in_tenant):
    login_as(clinic_a, "Doctor")
    with in_tenant(clinic_a):
        patient = Patient(record_number="P000001", first_name="Maria", last_name="Lopez").save()
    started = client.post("/visits/start", data={"patient_id": str(patient.pk)}, tenant=clinic_a)
    edit = started.headers["Location"]  # the new draft's edit page
    response = client.post(edit, data={"temperature_c": "37,5", "spo2": "high"}, tenant=clinic_a)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter the temperature as a number, e.g. 37.2." in html and "Enter SpO₂ as a whole number, e.g. 98." in html
    assert "Not a valid" not in html


def test_required_fields_say_what_to_enter(client, clinic_a, login_as):
    login_as(clinic_a)
    html = client.post("/patients/new", data={"first_name": "", "last_name": ""}, tenant=clinic_a).get_data(
        as_text=True)
    assert "Enter the first name." in html and "Enter the last name." in html and "This field is required" not in html
    html = client.post("/staff/invite", data={"email": "", "role": ""}, tenant=clinic_a).get_data(as_text=True)
    assert "Enter their email address." in html and "This field is required" not in html


# -- the time-zone list -----------------------------------------------------------------------------


def test_settings_offer_canonical_zones_by_region_and_keep_an_older_name_the_clinic_has(client, clinic_a,
                                                                                      login_as, in_tenant):
    login_as(clinic_a)
    html = client.get("/settings", tenant=clinic_a).get_data(as_text=True)
    select = re.search(r'<select[^>]*id="timezone"[^>]*>.*?</select>', html, re.S).group(0)
    values = re.findall(r'value="([^"]+)"', select)
    assert len(values) < 450 and "Europe/Paris" in values and "America/Argentina/Buenos_Aires" in values
    assert not [v for v in values if v in {"Factory", "EST5EDT", "GMT", "Zulu"} or v.startswith(("US/", "Etc/"))]
    assert all("/" in v or v == "UTC" for v in values)
    assert re.findall(r'<optgroup label="(\w+)">', select)[:3] == ["Africa", "America", "Antarctica"]
    assert 'data-browser-zone' in select and "Paris (UTC+" in select
    with in_tenant(clinic_a):
        s = Settings.current()
        s.timezone = "US/Eastern"  # chosen from the old list
        s.save()
    html = client.get("/settings", tenant=clinic_a).get_data(as_text=True)
    assert '<option selected value="US/Eastern">US/Eastern (older name)</option>' in html


def test_the_browser_zone_is_preselected_by_a_static_script():
    js = (STATIC / "js" / "app.js").read_text()
    assert "Intl.DateTimeFormat().resolvedOptions().timeZone" in js and "select[data-browser-zone]" in js


# -- who takes appointments -------------------------------------------------------------------------


def test_doctors_take_appointments_by_default_and_others_when_set(client, clinic_a, login_as, in_tenant):
    admin = login_as(clinic_a)
    with in_tenant(clinic_a):
        doctor = make_user("Doctor", email="doc@clinica.test", name="Jane Roe")
        nurse = make_user("Nurse", email="nurse@clinica.test", name="Nora Nurse")
    staff = client.get("/staff/", tenant=clinic_a).get_data(as_text=True)
    assert re.search(rf'data-user-id="{doctor.pk}".*?data-field="takes-appointments">Yes<', staff, re.S)
    assert re.search(rf'data-user-id="{admin.pk}".*?data-field="takes-appointments">—<', staff, re.S)
    page = client.get(f"/staff/{admin.pk}", tenant=clinic_a).get_data(as_text=True)
    assert 'id="takes-appointments-form"' in page and 'data-field="takes-appointments">No<' in page
    booking = client.get("/appointments/new", tenant=clinic_a).get_data(as_text=True)
    assert "Dr Jane Roe" in booking and ">Ada Admin<" not in booking and "Nora Nurse" not in booking

    response = client.post(f"/staff/{admin.pk}/appointments", data={"takes_appointments": "y"}, tenant=clinic_a)
    assert response.status_code == 303
    response = client.post(f"/staff/{doctor.pk}/appointments", data={}, tenant=clinic_a)  # unticked
    assert response.status_code == 303
    booking = client.get("/appointments/new", tenant=clinic_a).get_data(as_text=True)
    assert ">Ada Admin<" in booking and "Dr Jane Roe" not in booking and "Nora Nurse" not in booking
    with in_tenant(clinic_a):
        assert User.objects.get(pk=nurse.pk).bookable is False
        changes = [e.changes for e in AuditEvent.objects(action="staff.bookable_change").order_by("at")]
    assert changes == [{"takes_appointments": {"from": False, "to": True}},
                       {"takes_appointments": {"from": True, "to": False}}]


def test_takes_appointments_of_another_clinics_user_is_404_and_changes_nothing(client, clinic_a, clinic_b,
                                                                                login_as, in_tenant):
    with in_tenant(clinic_b):
        other = make_user("Nurse", email="b.nurse@clinicb.test")
    login_as(clinic_a)
    for user_id in (str(other.pk), str(ObjectId()), "not-an-id"):
        response = client.post(f"/staff/{user_id}/appointments", data={"takes_appointments": "y"}, tenant=clinic_a)
        assert response.status_code == 404
    with in_tenant(clinic_b):
        assert User.objects.get(pk=other.pk).takes_appointments is None


def test_only_who_may_change_staff_sets_takes_appointments(client, clinic_a, login_as, in_tenant):
    with in_tenant(clinic_a):
        nurse = make_user("Nurse", email="n@clinica.test")
    login_as(clinic_a, "Doctor")
    assert client.post(f"/staff/{nurse.pk}/appointments", data={"takes_appointments": "y"},
                       tenant=clinic_a).status_code == 403
    with in_tenant(clinic_a):
        assert User.objects.get(pk=nurse.pk).takes_appointments is None


# -- one button to start a checked-in appointment's visit -----------------------------------------------


def test_a_checked_in_appointment_offers_one_way_to_start(client, clinic_a, login_as, in_tenant):
    with in_tenant(clinic_a):
        doctor = make_user("Doctor", email="doc@clinica.test")
        patient = Patient(record_number="P000001", first_name="Maria", last_name="Lopez").save()
        start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=1)
        appt = Appointment(patient=patient, doctor=doctor, start=start, end=start + timedelta(minutes=15),
                           status="checked_in").save()
    login_as(clinic_a, "Doctor", email="doc2@clinica.test")
    html = client.get(f"/appointments/{appt.pk}", tenant=clinic_a).get_data(as_text=True)
    assert 'id="start-visit">Start visit<' in html and 'data-status="in_progress"' not in html
    assert 'data-status="no_show"' in html  # the other moves stay
    client.post("/logout", tenant=clinic_a)
    login_as(clinic_a, "Receptionist")  # cannot start visits: the status button is their way
    html = client.get(f"/appointments/{appt.pk}", tenant=clinic_a).get_data(as_text=True)
    assert 'id="start-visit"' not in html
