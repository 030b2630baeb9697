"""Appointment reminders: planned in the clinic's zone, quiet hours, DST, exactly once."""
from datetime import datetime, timedelta, timezone

import pytest

from clinic_app.models import Appointment, Reminder, Settings, Tenant, User
from clinic_app.services import patients as patient_svc
from clinic_app.services import reminders
from tests.support import run_jobs

UTC = timezone.utc


def _setup(in_tenant, clinic, tz):
    with in_tenant(clinic):
        s = Settings.current()
        s.timezone = tz
        s.save()
        patient = patient_svc.create_patient({"first_name": "Maria", "last_name": "Lopez",
                                              "email": "maria@example.org", "allergies": []})
        doctor = User.objects.get(email=f"admin@{clinic.subdomain}.test")
    return patient, doctor


def _appointment(in_tenant, clinic, patient, doctor, start, now):
    with in_tenant(clinic):
        appt = Appointment(patient=patient, doctor=doctor, start=start, end=start + timedelta(minutes=30)).save()
        reminders.sync(appt, now)
        return appt


def _planned(in_tenant, clinic):
    with in_tenant(clinic):
        return sorted((r.lead_minutes, r.send_at.astimezone(UTC), r.status) for r in Reminder.objects)


@pytest.mark.parametrize("tz,start,expect_24h,expect_2h", [
    # New York, the day after spring-forward (2026-03-08): 24 real hours earlier is 10:00 EDT on the 8th.
    ("America/New_York", datetime(2026, 3, 9, 14, 0, tzinfo=UTC),
     datetime(2026, 3, 8, 14, 0, tzinfo=UTC), datetime(2026, 3, 9, 12, 0, tzinfo=UTC)),
    # New York, the day after fall-back (2026-11-01): 11:00 EST on the 2nd -> 11:00 EST on the 1st.
    ("America/New_York", datetime(2026, 11, 2, 16, 0, tzinfo=UTC),
     datetime(2026, 11, 1, 16, 0, tzinfo=UTC), datetime(2026, 11, 2, 14, 0, tzinfo=UTC)),
    # London on spring-forward day (2026-03-29): 11:00 BST appointment.
    ("Europe/London", datetime(2026, 3, 29, 10, 0, tzinfo=UTC),
     datetime(2026, 3, 28, 10, 0, tzinfo=UTC), datetime(2026, 3, 29, 8, 0, tzinfo=UTC)),
    # London on fall-back day (2026-10-25): 10:00 GMT appointment.
    ("Europe/London", datetime(2026, 10, 25, 10, 0, tzinfo=UTC),
     datetime(2026, 10, 24, 10, 0, tzinfo=UTC), datetime(2026, 10, 25, 8, 0, tzinfo=UTC)),
])
def test_reminders_are_exact_hours_before_across_dst(clinic_a, in_tenant, tz, start, expect_24h, expect_2h):
    patient, doctor = _setup(in_tenant, clinic_a, tz)
    _appointment(in_tenant, clinic_a, patient, doctor, start, start - timedelta(days=3))
    assert _planned(in_tenant, clinic_a) == [(120, expect_2h, "pending"), (1440, expect_24h, "pending")]


def test_quiet_hours_move_a_reminder_to_the_evening_before(clinic_a, in_tenant):
    patient, doctor = _setup(in_tenant, clinic_a, "America/New_York")
    start = datetime(2026, 6, 10, 12, 30, tzinfo=UTC)  # 08:30 EDT; 2 h before = 06:30, inside 21:00-08:00
    _appointment(in_tenant, clinic_a, patient, doctor, start, start - timedelta(days=3))
    planned = _planned(in_tenant, clinic_a)
    assert planned[0][:2] == (120, datetime(2026, 6, 10, 0, 59, tzinfo=UTC))  # 20:59 EDT on the 9th
    assert planned[1][:2] == (1440, datetime(2026, 6, 9, 12, 30, tzinfo=UTC))


def test_a_reminder_already_due_is_not_planned(clinic_a, in_tenant):
    patient, doctor = _setup(in_tenant, clinic_a, "UTC")
    start = datetime(2026, 6, 10, 15, 0, tzinfo=UTC)
    _appointment(in_tenant, clinic_a, patient, doctor, start, start - timedelta(hours=5))
    assert [p[0] for p in _planned(in_tenant, clinic_a)] == [120]


def test_due_reminders_are_emailed_exactly_once(app, clinic_a, in_tenant, mail, frozen_clock):
    patient, doctor = _setup(in_tenant, clinic_a, "Europe/London")
    start = frozen_clock.now() + timedelta(days=2)
    _appointment(in_tenant, clinic_a, patient, doctor, start, frozen_clock.now())
    frozen_clock.set(start - timedelta(hours=24))
    with app.app_context():
        assert reminders.dispatch_due() == {"queued": 1}
        assert reminders.dispatch_due() == {}
    run_jobs(app)
    run_jobs(app)
    messages = mail()
    assert len(messages) == 1 and messages[0]["To"] == "maria@example.org"
    body = messages[0].get_body(("plain",)).get_content()
    assert "Clinic A" in body and "Europe/London" in body and "tomorrow" in body
    frozen_clock.set(start - timedelta(hours=2))
    with app.app_context():
        assert reminders.dispatch_due() == {"queued": 1}
    run_jobs(app)
    assert len(mail()) == 2
    with app.app_context():
        assert Tenant.objects.get(pk=clinic_a.pk).next_reminder_at is None


def test_rescheduling_replans_and_cancelling_cancels(app, clinic_a, in_tenant, mail, frozen_clock):
    patient, doctor = _setup(in_tenant, clinic_a, "UTC")
    start = frozen_clock.now() + timedelta(days=3)
    appt = _appointment(in_tenant, clinic_a, patient, doctor, start, frozen_clock.now())
    with in_tenant(clinic_a):
        appt.start, appt.end = start + timedelta(days=1), start + timedelta(days=1, minutes=30)
        appt.save()
        reminders.sync(appt, frozen_clock.now())
    statuses = [s for _, _, s in _planned(in_tenant, clinic_a)]
    assert statuses.count("cancelled") == 2 and statuses.count("pending") == 2
    frozen_clock.set(start - timedelta(hours=24))  # the old time: nothing to send
    with app.app_context():
        assert reminders.dispatch_due() == {}
    with in_tenant(clinic_a):
        appt.status = "cancelled"
        appt.save()
        reminders.sync(appt, frozen_clock.now())
    assert all(s == "cancelled" for _, _, s in _planned(in_tenant, clinic_a))
    frozen_clock.set(start + timedelta(hours=22))
    with app.app_context():
        assert reminders.dispatch_due() == {}
    run_jobs(app)
    assert mail() == []


def test_the_appointment_is_rechecked_just_before_sending(app, clinic_a, in_tenant, mail, frozen_clock):
    patient, doctor = _setup(in_tenant, clinic_a, "UTC")
    start = frozen_clock.now() + timedelta(days=2)
    appt = _appointment(in_tenant, clinic_a, patient, doctor, start, frozen_clock.now())
    with in_tenant(clinic_a):
        Appointment.objects(pk=appt.pk).update(set__status="cancelled")  # changed without a sync
    frozen_clock.set(start - timedelta(hours=24))
    with app.app_context():
        assert reminders.dispatch_due() == {"cancelled": 1}
    run_jobs(app)
    assert mail() == []


def test_no_reminders_go_out_for_a_suspended_clinic(app, clinic_a, in_tenant, mail, frozen_clock):
    patient, doctor = _setup(in_tenant, clinic_a, "UTC")
    start = frozen_clock.now() + timedelta(days=2)
    _appointment(in_tenant, clinic_a, patient, doctor, start, frozen_clock.now())
    with app.app_context():
        Tenant.objects(pk=clinic_a.pk).update(set__status="suspended")
    frozen_clock.set(start - timedelta(hours=24))
    with app.app_context():
        assert reminders.dispatch_due() == {"held": 1}
    run_jobs(app)
    assert mail() == []


def test_reminders_never_cross_clinics(app, clinic_a, clinic_b, in_tenant, mail, frozen_clock):
    pa, da = _setup(in_tenant, clinic_a, "UTC")
    pb, db = _setup(in_tenant, clinic_b, "UTC")
    start = frozen_clock.now() + timedelta(days=2)
    _appointment(in_tenant, clinic_a, pa, da, start, frozen_clock.now())
    _appointment(in_tenant, clinic_b, pb, db, start + timedelta(hours=1), frozen_clock.now())
    frozen_clock.set(start - timedelta(hours=24))
    with app.app_context():
        assert reminders.dispatch_due() == {"queued": 1}
    run_jobs(app)
    assert [m["X-Clinic"] for m in mail()] == ["clinica"]
