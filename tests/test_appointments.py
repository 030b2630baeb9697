"""Appointments: calendar (day/week, per doctor), booking rules, double booking, statuses,
reschedule, cancel, daylight-saving days, tenancy, permissions, fragments, audit."""
import re
import threading
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from bson import ObjectId

from clinic_app.models import Appointment, AuditEvent, Settings
from clinic_app.services import patients as patients_svc
from clinic_app.services import scheduling as svc

from .support import login, make_user

HX = {"HX-Request": "true"}
UTC = timezone.utc


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def configure(in_tenant, clinic, **values):
    with in_tenant(clinic):
        s = Settings.current()
        for name, value in values.items():
            setattr(s, name, value)
        s.save()


def new_patient(first="Maria", last="Lopez", **extra):
    return patients_svc.create_patient({"first_name": first, "last_name": last, "allergies": [], **extra})


@pytest.fixture
def world(app, client, clinic_a, login_as, in_tenant, frozen_clock):
    """Clinic A (UTC, 08:00–18:00, 15-minute slots), two doctors, a nurse, two patients; the
    client is signed in as a receptionist. The frozen clock says Monday 2026-03-02 09:00Z."""
    with in_tenant(clinic_a):
        w = SimpleNamespace(
            jane=make_user("Doctor", email="jane@clinica.test", name="Jane Roe"),
            omar=make_user("Doctor", email="omar@clinica.test", name="Omar Ali"),
            nurse=make_user("Nurse", email="nurse@clinica.test", name="Nora Nurse"),
            maria=new_patient("Maria", "Lopez", date_of_birth=date(1985, 4, 12)),
            ivan=new_patient("Ivan", "Petrov"),
        )
    w.reception = login_as(clinic_a, "Receptionist")
    return w


def book(client, clinic, w=None, headers=None, **overrides):
    data = {"patient_id": str(w.maria.pk) if w else "", "doctor": str(w.jane.pk) if w else "",
            "date": "2026-03-03", "time": "09:00", "duration": "30", "reason": "Check-up"}
    data.update(overrides)
    return client.post("/appointments/new", data=data, headers=headers or {}, tenant=clinic)


def seed(patient, doctor, start, minutes=30, status="scheduled", reason=None):
    """An appointment written directly (bypassing the booking rules, e.g. outside working hours)."""
    return Appointment(patient=patient, doctor=doctor, start=start, end=start + timedelta(minutes=minutes),
                       status=status, reason=reason).save()


def listed(html):
    return re.findall(r'data-appointment="([0-9a-f]{24})"', html)


def field_error(html, field):
    found = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', html)
    return found.group(1) if found else None


# -- booking --------------------------------------------------------------------------------


def test_receptionist_books_an_appointment_stored_in_utc_and_audited(client, clinic_a, world, in_tenant):
    response = book(client, clinic_a, world)
    assert response.status_code == 303
    with in_tenant(clinic_a):
        a = Appointment.objects.get()
        assert response.headers["Location"] == f"/appointments/{a.pk}"
        assert (a.start, a.end) == (utc(2026, 3, 3, 9), utc(2026, 3, 3, 9, 30))
        assert a.start.tzinfo is not None
        assert (a.status, a.reason, a.patient.pk, a.doctor.pk, a.created_by.pk) == (
            "scheduled", "Check-up", world.maria.pk, world.jane.pk, world.reception.pk)
        event = AuditEvent.objects.get(action="appointment.create")
        assert event.target_id == a.pk and "Receptionist" in event.actor
        assert event.changes["start"] == "2026-03-03T09:00:00+00:00" and event.changes["double_booked"] is False
    page = client.get(response.headers["Location"], tenant=clinic_a).get_data(as_text=True)
    assert "Booked Maria Lopez with Dr Jane Roe." in page and "Dr Jane Roe" in page
    assert "2026-03-03 09:00–09:30" in page and 'id="appointment-status">Scheduled' in page
    patient_page = client.get(f"/patients/{world.maria.pk}", tenant=clinic_a).get_data(as_text=True)
    assert f'href="/appointments/{a.pk}">2026-03-03 09:00</a>' in patient_page


def test_the_booking_form_offers_the_staff_who_take_appointments(client, clinic_a, world, in_tenant):
    html = client.get("/appointments/new", tenant=clinic_a).get_data(as_text=True)
    assert f'value="{world.jane.pk}">Dr Jane Roe</option>' in html
    assert f'value="{world.omar.pk}">Dr Omar Ali</option>' in html
    # Doctors by default; an Admin or a nurse only once set to take appointments on the staff page.
    assert ">Ada Admin</option>" not in html and "Nora Nurse" not in html
    from clinic_app.models import User
    from clinic_app.services import staff as staff_svc

    with in_tenant(clinic_a):
        staff_svc.set_takes_appointments(User.objects.get(email="admin@clinica.test"), True)
        staff_svc.set_takes_appointments(world.omar, False)
    html = client.get("/appointments/new", tenant=clinic_a).get_data(as_text=True)
    assert ">Ada Admin</option>" in html and "Dr Omar Ali" not in html and "Nora Nurse" not in html
    assert 'value="15"' in html and 'name="duration"' in html  # slot length is the default duration


NOT_FOUND_PATIENT = "Patient not found in this clinic. Search and choose one."
NOT_FOUND_DOCTOR = "Doctor not found in this clinic. Choose one from the list."


@pytest.mark.parametrize("overrides,field,message", [
    ({"patient_id": ""}, "patient_id", "Search for the patient and choose one."),
    ({"patient_id": "not-an-id"}, "patient_id", NOT_FOUND_PATIENT),
    ({"patient_id": str(ObjectId())}, "patient_id", NOT_FOUND_PATIENT),
    ({"doctor": ""}, "doctor", "Choose a doctor."),
    ({"doctor": str(ObjectId())}, "doctor", NOT_FOUND_DOCTOR),
    ({"doctor": "nurse"}, "doctor", NOT_FOUND_DOCTOR),
    ({"date": ""}, "date", "Enter a date."),
    ({"date": "03/03/2026"}, "date", "Enter the date as a full date: day, month and year."),
    ({"date": "2026-03-01"}, "date", "That date is in the past."),
    ({"date": "2026-03-02", "time": "08:30"}, "time", "That time has already passed."),
    ({"time": ""}, "time", "Enter a time."),
    ({"time": "9am"}, "time", "Enter the time as HH:MM, e.g. 09:30."),
    ({"time": "07:45"}, "time", "Choose a time within working hours (08:00–18:00)."),
    ({"time": "18:00"}, "time", "Choose a time within working hours (08:00–18:00)."),
    ({"time": "17:45", "duration": "30"}, "duration", "The appointment would end after closing time (18:00)."),
    ({"duration": ""}, "duration", "Enter a duration in minutes."),
    ({"duration": "abc"}, "duration", "Enter the duration in whole minutes, e.g. 15."),
    ({"duration": "0"}, "duration", "Enter a duration from 5 to 480 minutes."),
    ({"duration": "485"}, "duration", "Enter a duration from 5 to 480 minutes."),
    ({"duration": "17"}, "duration", "Use a multiple of 5 minutes."),
    ({"reason": "x" * 301}, "reason", "Use at most 300 characters."),
])
def test_each_booking_rule_is_a_422_beside_its_field_and_saves_nothing(client, clinic_a, world, in_tenant,
                                                                      overrides, field, message):
    if overrides.get("doctor") == "nurse":
        overrides = {**overrides, "doctor": str(world.nurse.pk)}
    response = book(client, clinic_a, world, **overrides)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_error(html, field) == message, html[html.find('id="appointment-form"'):][:3000]
    with in_tenant(clinic_a):
        assert Appointment.objects.count() == 0
        assert AuditEvent.objects(action="appointment.create").count() == 0


def test_closed_days_and_archived_patients_are_refused(client, clinic_a, world, in_tenant):
    configure(in_tenant, clinic_a, working_days=[1, 2, 3, 4, 5])
    saturday = book(client, clinic_a, world, date="2026-03-07")
    assert saturday.status_code == 422
    assert field_error(saturday.get_data(as_text=True), "date") == "The clinic is closed on Saturdays."
    with in_tenant(clinic_a):
        patients_svc.set_active(world.ivan, False)
    archived = book(client, clinic_a, world, patient_id=str(world.ivan.pk))
    assert field_error(archived.get_data(as_text=True), "patient_id") == \
        "Ivan Petrov is archived. Restore the record before booking."
    with in_tenant(clinic_a):
        assert Appointment.objects.count() == 0


def test_invalid_htmx_booking_is_a_422_form_fragment(client, clinic_a, world):
    response = book(client, clinic_a, world, headers=HX, time="07:00")
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "<html" not in html and 'id="appointment-form"' in html
    assert field_error(html, "time") and "HX-Request" in response.headers["Vary"]
    ok = book(client, clinic_a, world, headers=HX)
    assert ok.status_code == 200 and ok.headers["HX-Redirect"].startswith("/appointments/")


# -- double booking -----------------------------------------------------------------------


def test_double_booking_a_doctor_is_refused_with_a_clear_message(client, clinic_a, world, in_tenant):
    assert book(client, clinic_a, world).status_code == 303
    clash = book(client, clinic_a, world, patient_id=str(world.ivan.pk), time="09:15")
    assert clash.status_code == 422
    assert field_error(clash.get_data(as_text=True), "time") == "Dr Jane Roe already has Maria Lopez at 09:00–09:30."
    assert book(client, clinic_a, world, patient_id=str(world.ivan.pk), time="09:30").status_code == 303
    assert book(client, clinic_a, world, patient_id=str(world.ivan.pk), time="08:45",
                duration="15").status_code == 303  # ends as the first one starts: no overlap
    assert book(client, clinic_a, world, patient_id=str(world.ivan.pk), time="09:45",
                doctor=str(world.omar.pk)).status_code == 422  # Ivan is with Dr Roe 09:30–10:00
    with in_tenant(clinic_a):
        assert Appointment.objects.count() == 3


def test_a_cancelled_appointment_frees_its_slot(client, clinic_a, world, in_tenant):
    book(client, clinic_a, world)
    with in_tenant(clinic_a):
        first = Appointment.objects.get()
    client.post(f"/appointments/{first.pk}/status", data={"status": "cancelled"}, tenant=clinic_a)
    assert book(client, clinic_a, world, patient_id=str(world.ivan.pk)).status_code == 303


def test_the_clinic_may_allow_double_booking_with_a_warning(client, clinic_a, world, in_tenant):
    configure(in_tenant, clinic_a, allow_double_booking=True)
    book(client, clinic_a, world)
    response = book(client, clinic_a, world, patient_id=str(world.ivan.pk), time="09:15")
    assert response.status_code == 303
    page = client.get(response.headers["Location"], tenant=clinic_a).get_data(as_text=True)
    assert '<p class="flash flash-warning">Double-booked: Dr Jane Roe already has Maria Lopez at 09:00–09:30.</p>' \
        in page
    with in_tenant(clinic_a):
        assert Appointment.objects(doctor=world.jane).count() == 2
        events = AuditEvent.objects(action="appointment.create").order_by("id")
        assert sorted(e.changes["double_booked"] for e in events) == [False, True]


def test_a_patient_cannot_be_in_two_places_even_when_double_booking_is_allowed(client, clinic_a, world,
                                                                                  in_tenant):
    configure(in_tenant, clinic_a, allow_double_booking=True)
    book(client, clinic_a, world)
    response = book(client, clinic_a, world, doctor=str(world.omar.pk), time="09:20", duration="20")
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "patient_id") == \
        "Maria Lopez already has an appointment with Dr Jane Roe at 09:00–09:30."
    with in_tenant(clinic_a):
        assert Appointment.objects.count() == 1


def test_simultaneous_bookings_of_one_slot_never_both_succeed(app, clinic_a, world, in_tenant):
    with in_tenant(clinic_a):
        patients = [new_patient("Racer", f"No{i}") for i in range(4)]
    clients = []
    for i in range(4):
        c = app.test_client()
        with in_tenant(clinic_a):
            user = make_user("Receptionist", email=f"desk{i}@clinica.test")
        login(c, clinic_a, user.email)
        clients.append(c)
    for round_ in range(3):
        statuses, barrier = [], threading.Barrier(4)

        def attempt(i):
            barrier.wait()
            statuses.append(book(clients[i], clinic_a, world, patient_id=str(patients[i].pk),
                                 time=f"{10 + round_}:00").status_code)

        threads = [threading.Thread(target=attempt, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(statuses) == [303, 422, 422, 422]  # exactly one desk wins the slot
        with in_tenant(clinic_a):
            assert Appointment.objects(doctor=world.jane, start=utc(2026, 3, 3, 10 + round_)).count() == 1


# -- status ---------------------------------------------------------------------------------


@pytest.fixture
def booked(client, clinic_a, world, in_tenant):
    book(client, clinic_a, world)
    with in_tenant(clinic_a):
        return Appointment.objects.get()


def post_status(client, clinic, appointment, status, **extra):
    return client.post(f"/appointments/{appointment.pk}/status", data={"status": status, **extra}, tenant=clinic,
                       headers=extra.pop("headers", None) or {})


def test_an_appointment_moves_through_check_in_start_and_complete(client, clinic_a, booked, in_tenant):
    page = client.get(f"/appointments/{booked.pk}", tenant=clinic_a).get_data(as_text=True)
    assert re.findall(r'data-status="(\w+)"', page) == ["checked_in", "no_show", "cancelled"]
    for status in ("checked_in", "in_progress", "completed"):
        response = post_status(client, clinic_a, booked, status)
        assert response.status_code == 303 and response.headers["Location"] == f"/appointments/{booked.pk}"
    with in_tenant(clinic_a):
        assert Appointment.objects.get(pk=booked.pk).status == "completed"
        events = AuditEvent.objects(action="appointment.status", target_id=booked.pk).order_by("id")
        assert [e.changes["status"] for e in events] == [
            {"old": "scheduled", "new": "checked_in"}, {"old": "checked_in", "new": "in_progress"},
            {"old": "in_progress", "new": "completed"}]
    page = client.get(f"/appointments/{booked.pk}", tenant=clinic_a).get_data(as_text=True)
    assert 'id="appointment-actions"' not in page and 'id="reschedule"' not in page


@pytest.mark.parametrize("path,status,code,message", [
    ([], "completed", 409, "This appointment is scheduled, so it cannot be completed."),
    ([], "in_progress", 409, "This appointment is scheduled, so it cannot be started."),
    (["no_show"], "checked_in", 409, "This appointment is marked as a no-show, so it cannot be checked in."),
    (["checked_in", "in_progress"], "cancelled", 409, "This appointment is in progress, so it cannot be cancelled."),
    (["cancelled"], "scheduled", 409, "This appointment is cancelled, so it cannot be set back to scheduled."),
    ([], "done", 422, "Unknown appointment status."),
    ([], "", 422, "Choose a status."),
])
def test_invalid_status_changes_are_refused_and_change_nothing(client, clinic_a, booked, in_tenant,
                                                               path, status, code, message):
    for step in path:
        assert post_status(client, clinic_a, booked, step).status_code == 303
    with in_tenant(clinic_a):
        before = Appointment.objects(pk=booked.pk).as_pymongo().first()
        events = AuditEvent.objects.count()
    response = post_status(client, clinic_a, booked, status)
    assert response.status_code == code and message in response.get_data(as_text=True)
    fragment = post_status(client, clinic_a, booked, status, headers=HX)
    assert fragment.status_code == code and b"<html" not in fragment.data and message.encode() in fragment.data
    with in_tenant(clinic_a):
        assert Appointment.objects(pk=booked.pk).as_pymongo().first() == before
        assert AuditEvent.objects.count() == events


def test_cancelling_keeps_the_record_with_its_reason(client, clinic_a, booked, in_tenant):
    response = post_status(client, clinic_a, booked, "cancelled", cancel_reason="Patient has the flu")
    assert response.status_code == 303
    with in_tenant(clinic_a):
        a = Appointment.objects.get(pk=booked.pk)
        assert (a.status, a.cancel_reason) == ("cancelled", "Patient has the flu")
        event = AuditEvent.objects.get(action="appointment.status")
        assert event.changes == {"status": {"old": "scheduled", "new": "cancelled"},
                                 "cancel_reason": "Patient has the flu"}
    page = client.get(f"/appointments/{booked.pk}", tenant=clinic_a).get_data(as_text=True)
    assert "Patient has the flu" in page and 'id="appointment-status">Cancelled' in page
    day = client.get("/appointments/?date=2026-03-03", tenant=clinic_a).get_data(as_text=True)
    assert listed(day) == [str(booked.pk)] and "Cancelled" in day
    assert client.get(f"/appointments/{booked.pk}/edit", tenant=clinic_a).status_code == 409


# -- reschedule -----------------------------------------------------------------------------


def reschedule(client, clinic, appointment, w, **overrides):
    data = {"doctor": str(w.jane.pk), "date": "2026-03-03", "time": "09:00", "duration": "30",
            "reason": "Check-up"}
    data.update(overrides)
    return client.post(f"/appointments/{appointment.pk}/edit", data=data, tenant=clinic)


def test_reschedule_moves_the_appointment_and_records_what_changed(client, clinic_a, world, booked, in_tenant):
    form = client.get(f"/appointments/{booked.pk}/edit", tenant=clinic_a).get_data(as_text=True)
    assert 'value="2026-03-03"' in form and 'value="09:00"' in form and 'value="30"' in form
    assert 'name="patient_id"' not in form and "Maria Lopez" in form
    assert reschedule(client, clinic_a, booked, world, time="09:15").status_code == 303  # overlaps only itself
    response = reschedule(client, clinic_a, booked, world, date="2026-03-04", time="11:00", duration="45",
                          doctor=str(world.omar.pk))
    assert response.status_code == 303
    with in_tenant(clinic_a):
        a = Appointment.objects.get(pk=booked.pk)
        assert (a.start, a.end, a.doctor.pk, a.status) == (utc(2026, 3, 4, 11), utc(2026, 3, 4, 11, 45),
                                                          world.omar.pk, "scheduled")
        last = AuditEvent.objects(action="appointment.update").order_by("-id").first()
        assert set(last.changes) == {"start", "end", "doctor"}
        assert last.changes["start"] == {"old": "2026-03-03T09:15:00+00:00", "new": "2026-03-04T11:00:00+00:00"}
        assert Appointment.objects.count() == 1


def test_reschedule_applies_the_booking_rules(client, clinic_a, world, booked, in_tenant):
    book(client, clinic_a, world, patient_id=str(world.ivan.pk), time="10:00")
    clash = reschedule(client, clinic_a, booked, world, time="10:15")
    assert clash.status_code == 422
    assert field_error(clash.get_data(as_text=True), "time") == "Dr Jane Roe already has Ivan Petrov at 10:00–10:30."
    past = reschedule(client, clinic_a, booked, world, date="2026-02-27")
    assert field_error(past.get_data(as_text=True), "date") == "That date is in the past."
    with in_tenant(clinic_a):
        assert Appointment.objects.get(pk=booked.pk).start == utc(2026, 3, 3, 9)
        assert AuditEvent.objects(action="appointment.update").count() == 0


def test_an_appointment_under_way_can_still_be_edited_in_place(client, clinic_a, world, in_tenant, frozen_clock):
    book(client, clinic_a, world, date="2026-03-02", time="09:30")
    with in_tenant(clinic_a):
        booked = Appointment.objects.get()
    post_status(client, clinic_a, booked, "checked_in")
    frozen_clock.set(utc(2026, 3, 2, 9, 40))
    response = reschedule(client, clinic_a, booked, world, date="2026-03-02", time="09:30",
                          reason="Check-up and blood test")
    assert response.status_code == 303
    with in_tenant(clinic_a):
        a = Appointment.objects.get(pk=booked.pk)
        assert (a.reason, a.status, a.start) == ("Check-up and blood test", "checked_in", utc(2026, 3, 2, 9, 30))
    moved = reschedule(client, clinic_a, booked, world, date="2026-03-02", time="09:35")
    assert field_error(moved.get_data(as_text=True), "time") == "That time has already passed."


@pytest.mark.parametrize("final", ["completed", "no_show", "cancelled"])
def test_closed_appointments_cannot_be_rescheduled(client, clinic_a, world, booked, in_tenant, final):
    steps = {"completed": ["checked_in", "in_progress", "completed"], "no_show": ["no_show"],
             "cancelled": ["cancelled"]}[final]
    for step in steps:
        post_status(client, clinic_a, booked, step)
    assert client.get(f"/appointments/{booked.pk}/edit", tenant=clinic_a).status_code == 409
    response = reschedule(client, clinic_a, booked, world, time="11:00")
    assert response.status_code == 409 and b"so it cannot be rescheduled. Book a new one instead." in response.data
    with in_tenant(clinic_a):
        assert Appointment.objects.get(pk=booked.pk).start == utc(2026, 3, 3, 9)


def test_booking_plans_reminders_rescheduling_replans_and_cancelling_cancels(client, clinic_a, world, in_tenant):
    from clinic_app.models import Reminder

    with in_tenant(clinic_a):
        emailed = new_patient("Ema", "Mail", email="ema@example.org")
    book(client, clinic_a, world, patient_id=str(emailed.pk), date="2026-03-05", time="10:00")
    with in_tenant(clinic_a):
        a = Appointment.objects.get()
        assert sorted((r.lead_minutes, r.status) for r in Reminder.objects) == [(120, "pending"), (1440, "pending")]
    reschedule(client, clinic_a, a, world, date="2026-03-06", time="10:00")
    with in_tenant(clinic_a):
        pending = Reminder.objects(status="pending")
        assert {r.start for r in pending} == {utc(2026, 3, 6, 10)} and pending.count() == 2
        assert Reminder.objects(status="cancelled").count() == 2
    post_status(client, clinic_a, a, "cancelled")
    with in_tenant(clinic_a):
        assert Reminder.objects(status="pending").count() == 0


# -- daylight saving ------------------------------------------------------------------------


def test_bookings_are_stored_in_utc_on_either_side_of_a_dst_change(client, clinic_a, world, in_tenant):
    configure(in_tenant, clinic_a, timezone="America/New_York")
    assert book(client, clinic_a, world, date="2026-03-07").status_code == 303  # EST, UTC-5
    assert book(client, clinic_a, world, date="2026-03-09").status_code == 303  # EDT, UTC-4
    with in_tenant(clinic_a):
        starts = [a.start for a in Appointment.objects.order_by("start")]
    assert starts == [utc(2026, 3, 7, 14), utc(2026, 3, 9, 13)]
    week = client.get("/appointments/?view=week&date=2026-03-09", tenant=clinic_a).get_data(as_text=True)
    assert "09:00–09:30" in week and "13:00" not in week and "14:00" not in week


def _day_html(client, clinic, day, **params):
    query = "&".join(f"{k}={v}" for k, v in {"date": day, **params}.items())
    response = client.get(f"/appointments/?{query}", tenant=clinic)
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.mark.parametrize("zone,day,inside,outside", [
    # 23-hour day: 2026-03-08 starts 05:00Z (EST) and ends 04:00Z on the 9th (EDT).
    ("America/New_York", "2026-03-08",
     [utc(2026, 3, 8, 5, 30), utc(2026, 3, 9, 3, 30)],        # 00:30 EST, 23:30 EDT
     [utc(2026, 3, 8, 4, 30), utc(2026, 3, 9, 4, 30)]),       # 23:30 on the 7th, 00:30 on the 9th
    # 25-hour day: 2026-11-01 starts 04:00Z (EDT) and ends 05:00Z on the 2nd (EST).
    ("America/New_York", "2026-11-01",
     [utc(2026, 11, 1, 4, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 30), utc(2026, 11, 2, 4, 30)],
     [utc(2026, 11, 1, 3, 30), utc(2026, 11, 2, 5, 30)]),     # 01:30 happens twice; both are inside
    # London springs forward at 01:00 GMT: the day is 00:00Z .. 23:00Z.
    ("Europe/London", "2026-03-29",
     [utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 22, 30)],
     [utc(2026, 3, 28, 23, 30), utc(2026, 3, 29, 23, 30)]),
])
def test_the_day_view_lists_exactly_the_local_days_appointments_across_dst(
        client, clinic_a, world, in_tenant, zone, day, inside, outside):
    configure(in_tenant, clinic_a, timezone=zone)
    with in_tenant(clinic_a):
        ids_in = [str(seed(world.maria, world.jane, at, minutes=15).pk) for at in inside]
        for at in outside:
            seed(world.ivan, world.jane, at, minutes=15)
    html = _day_html(client, clinic_a, day)
    assert sorted(listed(html)) == sorted(ids_in)
    assert f"{len(inside)} appointments on this day." in html
    assert 'data-slot="before"' in html and 'data-slot="after"' in html
    assert "00:30–00:45" in html and "23:30–23:45" in html


@pytest.mark.parametrize("zone,day,hours", [
    ("America/New_York", date(2026, 3, 8), 23), ("America/New_York", date(2026, 11, 1), 25),
    ("Europe/London", date(2026, 3, 29), 23), ("Europe/London", date(2026, 10, 25), 25),
    ("Europe/London", date(2026, 6, 1), 24),
])
def test_a_round_the_clock_day_has_one_row_per_real_hour(client, clinic_a, world, in_tenant, zone, day, hours):
    configure(in_tenant, clinic_a, timezone=zone, work_day_start="00:00", work_day_end="23:59", slot_minutes=60)
    with in_tenant(clinic_a):
        start, end = svc.day_bounds(day)
        assert end - start == timedelta(hours=hours)
        rows = svc.slot_starts(day)
    assert len(rows) == hours and rows[0] == start and all(b - a == timedelta(hours=1) for a, b in zip(rows, rows[1:]))
    html = _day_html(client, clinic_a, day.isoformat())
    assert len(re.findall(r'<tr data-slot="\d\d:\d\d"', html)) == hours


def test_a_wall_time_skipped_by_the_clocks_cannot_be_booked(client, clinic_a, world, in_tenant, frozen_clock):
    configure(in_tenant, clinic_a, timezone="Europe/London", work_day_start="00:00", work_day_end="23:59")
    response = book(client, clinic_a, world, date="2026-03-29", time="01:30")
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "time") == \
        "01:30 does not exist on 2026-03-29: the clocks go forward. Pick another time."
    assert book(client, clinic_a, world, date="2026-03-29", time="02:30").status_code == 303
    with in_tenant(clinic_a):
        assert Appointment.objects.get().start == utc(2026, 3, 29, 1, 30)


# -- calendar --------------------------------------------------------------------------------


def test_week_view_lists_monday_to_sunday_in_local_days(client, clinic_a, world, in_tenant):
    configure(in_tenant, clinic_a, timezone="America/New_York")
    with in_tenant(clinic_a):
        monday = seed(world.maria, world.jane, utc(2026, 3, 2, 15))       # Mon 10:00 EST
        sunday_late = seed(world.ivan, world.omar, utc(2026, 3, 9, 3, 30))  # Sun 23:30 EDT
        seed(world.maria, world.jane, utc(2026, 3, 2, 4, 30))             # Sun 1 March 23:30 EST: week before
        seed(world.maria, world.jane, utc(2026, 3, 9, 4, 30))             # Mon 9 March 00:30 EDT: week after
    response = client.get("/appointments/?view=week&date=2026-03-05", tenant=clinic_a)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" in html
    days = re.findall(r'<th scope="col" data-day="([\d-]+)"', html)
    assert days == [f"2026-03-0{d}" for d in range(2, 9)]
    assert sorted(listed(html)) == sorted([str(monday.pk), str(sunday_late.pk)])
    sunday_cell = html.split('<td data-day="2026-03-08">')[1].split("</td>")[0]
    assert str(sunday_late.pk) in sunday_cell and "Dr Omar Ali" in sunday_cell and "23:30" in sunday_cell
    assert "?view=week&amp;date=2026-02-26" in html and "?view=week&amp;date=2026-03-12" in html  # prev / next


def test_day_view_has_a_column_per_doctor_and_a_doctor_filter(client, clinic_a, world, in_tenant):
    with in_tenant(clinic_a):
        a1 = seed(world.maria, world.jane, utc(2026, 3, 3, 9), reason="Follow-up")
        a2 = seed(world.ivan, world.omar, utc(2026, 3, 3, 9))
    html = _day_html(client, clinic_a, "2026-03-03")
    columns = re.findall(r'<th scope="col" data-doctor="([0-9a-f]+)">([^<]+)</th>', html)
    assert [name for _, name in columns] == ["Dr Jane Roe", "Dr Omar Ali"]  # the Admin takes no appointments
    row = html.split('<tr data-slot="09:00"')[1].split("</tr>")[0]
    assert str(a1.pk) in row and str(a2.pk) in row and "Follow-up" in row and "Scheduled" in row
    assert f'href="/patients/{world.maria.pk}"' in row
    assert "?view=day&amp;date=2026-03-02" in html and "?view=day&amp;date=2026-03-04" in html
    only_jane = _day_html(client, clinic_a, "2026-03-03", doctor=world.jane.pk)
    assert listed(only_jane) == [str(a1.pk)]
    assert re.findall(r'<th scope="col" data-doctor="([0-9a-f]+)"', only_jane) == [str(world.jane.pk)]
    assert f'<option value="{world.jane.pk}" selected>' in only_jane
    week = client.get(f"/appointments/?view=week&date=2026-03-03&doctor={world.omar.pk}",
                      tenant=clinic_a).get_data(as_text=True)
    assert listed(week) == [str(a2.pk)]
    assert client.get(f"/appointments/?doctor={ObjectId()}", tenant=clinic_a).status_code == 404


def test_empty_future_slots_link_to_a_prefilled_booking_form(client, clinic_a, world):
    html = _day_html(client, clinic_a, "2026-03-02", doctor=world.jane.pk)
    assert f"/appointments/new?doctor={world.jane.pk}&amp;date=2026-03-02&amp;time=09:00" in html
    assert "time=08:45" not in html  # already past
    form = client.get(f"/appointments/new?doctor={world.jane.pk}&date=2026-03-04&time=10:30",
                      tenant=clinic_a).get_data(as_text=True)
    assert f'<option selected value="{world.jane.pk}">' in form
    assert 'value="2026-03-04"' in form and 'value="10:30"' in form


def test_default_calendar_is_today_in_the_clinics_zone(client, clinic_a, world, in_tenant, frozen_clock):
    configure(in_tenant, clinic_a, timezone="Pacific/Auckland", idle_timeout_minutes=240)  # 09:00Z is 22:00 there
    html = client.get("/appointments/", tenant=clinic_a).get_data(as_text=True)
    assert 'data-date="2026-03-02"' in html and 'data-view="day"' in html
    frozen_clock.set(utc(2026, 3, 2, 11))  # midnight in Auckland
    assert 'data-date="2026-03-03"' in client.get("/appointments/?date=bogus", tenant=clinic_a).get_data(as_text=True)


def test_calendar_fragments_swap_only_the_calendar(client, clinic_a, world):
    fragment = client.get("/appointments/?view=week&date=2026-03-03", headers=HX, tenant=clinic_a)
    html = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in html and html.lstrip().startswith('<div id="calendar"')
    assert "HX-Request" in fragment.headers["Vary"]
    assert 'hx-push-url="true"' in html and 'hx-target="#calendar"' in html
    boosted = client.get("/appointments/?view=week", headers={**HX, "HX-Boosted": "true"}, tenant=clinic_a)
    assert b"<html" in boosted.data and "HX-Request" in boosted.headers["Vary"]


# -- the patient picker ----------------------------------------------------------------------


def test_patient_search_fragment_offers_matching_patients_of_this_clinic_only(
        client, clinic_a, clinic_b, world, in_tenant):
    with in_tenant(clinic_b):
        new_patient("Lola", "Lopez")
    response = client.get("/appointments/patient-search?q=lop", headers=HX, tenant=clinic_a)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html and html.lstrip().startswith('<div id="patient-picker"')
    assert "HX-Request" in response.headers["Vary"]
    assert f'value="{world.maria.pk}"' in html and "Lopez, Maria · P000001 · born 1985-04-12" in html
    assert "Lola" not in html and "Petrov" not in html
    kept = client.get(f"/appointments/patient-search?q=petrov&patient_id={world.maria.pk}", headers=HX,
                      tenant=clinic_a).get_data(as_text=True)
    assert "Lopez, Maria" in kept and "Petrov, Ivan" in kept and "checked" in kept  # the choice survives a search
    none = client.get("/appointments/patient-search?q=zzz", headers=HX, tenant=clinic_a).get_data(as_text=True)
    assert 'id="no-patient-match"' in none


def test_the_picker_works_without_javascript_and_from_the_patients_page(client, clinic_a, world):
    found = client.get("/appointments/new?q=petrov&date=2026-03-05&time=10:00", tenant=clinic_a)
    html = found.get_data(as_text=True)
    assert found.status_code == 200 and "<html" in html and "Petrov, Ivan" in html
    assert 'value="2026-03-05"' in html and 'value="10:00"' in html
    assert 'formmethod="get"' in html
    preselected = client.get(f"/appointments/new?patient_id={world.maria.pk}", tenant=clinic_a).get_data(as_text=True)
    assert re.search(rf'checked[^>]*value="{world.maria.pk}"|value="{world.maria.pk}"[^>]*checked', preselected)
    patient_page = client.get(f"/patients/{world.maria.pk}", tenant=clinic_a).get_data(as_text=True)
    assert f'href="/appointments/new?patient_id={world.maria.pk}"' in patient_page


# -- tenancy ----------------------------------------------------------------------------------


def test_another_clinics_appointment_is_404_and_unchanged(client, clinic_a, clinic_b, world, in_tenant):
    with in_tenant(clinic_b):
        doc = make_user("Doctor", email="bdoc@clinicb.test")
        other = seed(new_patient("Bea", "Other"), doc, utc(2026, 3, 3, 9))
        before = Appointment.objects(pk=other.pk).as_pymongo().first()
    for method, path, data in [
        ("GET", f"/appointments/{other.pk}", None), ("GET", f"/appointments/{other.pk}/edit", None),
        ("POST", f"/appointments/{other.pk}/edit", {"doctor": str(world.jane.pk), "date": "2026-03-04",
                                                    "time": "10:00", "duration": "30"}),
        ("POST", f"/appointments/{other.pk}/status", {"status": "cancelled"}),
        ("GET", "/appointments/not-an-id", None),
        ("GET", f"/appointments/?doctor={doc.pk}", None),
    ]:
        assert client.open(path, method=method, data=data, tenant=clinic_a).status_code == 404, (method, path)
    with in_tenant(clinic_b):
        assert Appointment.objects(pk=other.pk).as_pymongo().first() == before
    with in_tenant(clinic_a):
        assert AuditEvent.objects(action__startswith="appointment.").count() == 0


def test_another_clinics_patient_or_doctor_cannot_be_booked(client, clinic_a, clinic_b, world, in_tenant):
    with in_tenant(clinic_b):
        their_patient = new_patient("Bea", "Other")
        their_doctor = make_user("Doctor", email="bdoc@clinicb.test")
    response = book(client, clinic_a, world, patient_id=str(their_patient.pk))
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "patient_id") == NOT_FOUND_PATIENT
    assert "Bea" not in response.get_data(as_text=True)
    response = book(client, clinic_a, world, doctor=str(their_doctor.pk))
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "doctor") == NOT_FOUND_DOCTOR
    for clinic in (clinic_a, clinic_b):
        with in_tenant(clinic):
            assert Appointment.objects.count() == 0


# -- permissions ------------------------------------------------------------------------------


def routes(appointment_id):
    return [("GET", "/appointments/"), ("GET", "/appointments/?view=week"), ("GET", "/appointments/new"),
            ("POST", "/appointments/new"), ("GET", "/appointments/patient-search?q=lop"),
            ("GET", f"/appointments/{appointment_id}"), ("GET", f"/appointments/{appointment_id}/edit"),
            ("POST", f"/appointments/{appointment_id}/edit"), ("POST", f"/appointments/{appointment_id}/status")]


def test_a_medical_representative_cannot_use_appointments(client, clinic_a, booked, login_as, in_tenant):
    client.post("/logout", tenant=clinic_a)
    login_as(clinic_a, "Medical Representative")
    for method, path in routes(booked.pk):
        assert client.open(path, method=method, data={"status": "cancelled"}, tenant=clinic_a).status_code == 403, path
    html = client.get("/", tenant=clinic_a).get_data(as_text=True)
    assert 'data-nav="appointments"' not in html


def test_an_accountant_may_only_look(client, clinic_a, booked, login_as, in_tenant):
    client.post("/logout", tenant=clinic_a)
    login_as(clinic_a, "Accountant")
    readable = {"/appointments/", "/appointments/?view=week", f"/appointments/{booked.pk}"}
    for method, path in routes(booked.pk):
        code = client.open(path, method=method, data={"status": "cancelled"}, tenant=clinic_a).status_code
        assert code == (200 if path in readable else 403), (method, path, code)
    page = client.get(f"/appointments/{booked.pk}", tenant=clinic_a).get_data(as_text=True)
    assert 'id="appointment-actions"' not in page and 'id="reschedule"' not in page
    day = client.get("/appointments/?date=2026-03-03", tenant=clinic_a).get_data(as_text=True)
    assert "/appointments/new" not in day
    with in_tenant(clinic_a):
        assert Appointment.objects.get(pk=booked.pk).status == "scheduled"


# -- dashboard read models ---------------------------------------------------------------------


def test_today_by_status_counts_the_clinic_local_day(app, clinic_a, world, in_tenant):
    configure(in_tenant, clinic_a, timezone="America/New_York")
    now = utc(2026, 3, 9, 3)  # 23:00 EDT on Sunday 8 March
    with in_tenant(clinic_a):
        seed(world.maria, world.jane, utc(2026, 3, 8, 5, 30), status="completed")  # 00:30 that day
        seed(world.ivan, world.jane, utc(2026, 3, 8, 14), status="cancelled")
        seed(world.ivan, world.omar, utc(2026, 3, 9, 3, 30))                    # 23:30 that day
        seed(world.maria, world.omar, utc(2026, 3, 9, 4, 30))                   # Monday 00:30: tomorrow
        counts = svc.today_by_status(now)
    assert counts == {"scheduled": 1, "checked_in": 0, "in_progress": 0, "completed": 1, "cancelled": 1,
                      "no_show": 0}


def test_upcoming_for_doctor_lists_open_appointments_from_now(app, clinic_a, world, in_tenant):
    with in_tenant(clinic_a):
        seed(world.maria, world.jane, utc(2026, 3, 2, 8))                           # past
        soon = seed(world.ivan, world.jane, utc(2026, 3, 2, 10))
        seed(world.maria, world.jane, utc(2026, 3, 2, 11), status="cancelled")
        later = seed(world.maria, world.jane, utc(2026, 3, 3, 9))
        seed(world.maria, world.omar, utc(2026, 3, 2, 12))                          # another doctor
        upcoming = svc.upcoming_for_doctor(world.jane, utc(2026, 3, 2, 9), limit=5)
        assert [a.pk for a in upcoming] == [soon.pk, later.pk]
        assert upcoming[0].patient.full_name == "Ivan Petrov"
        assert [a.pk for a in svc.upcoming_for_doctor(world.jane, utc(2026, 3, 2, 9), limit=1)] == [soon.pk]
