"""The demo clinic `make run` seeds: full enough to explore, idempotent, in bulk."""
import time
from collections import Counter as Tally
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import mongoengine
import pytest

from clinic_app import clock
from clinic_app.models import Appointment, AuditEvent, Counter, Patient, Tenant, User, Visit
from clinic_app.models.scheduling import STATUSES
from clinic_app.services import demo
from clinic_app.services.demo import reserve_record_numbers, seed_demo
from clinic_app.services.patients import create_patient
from clinic_app.tenancy import current_tenant, tenant_context

from .support import make_clinic

NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 4, 19, 0, tzinfo=timezone.utc)  # Wednesday, 14:00 in New York


def _local(dt):
    return clock.as_utc(dt).astimezone(NEW_YORK)


@pytest.fixture
def seeded(app, frozen_clock):
    frozen_clock.set(NOW)
    with app.app_context():
        started = time.monotonic()
        tenant, created = seed_demo()
        elapsed = time.monotonic() - started
    assert created
    print(f"seed_demo took {elapsed:.2f} s")
    assert elapsed < 30
    return tenant


def _counts(app):
    with app.app_context():
        db = mongoengine.get_db()
        return {name: db[name].count_documents({}) for name in db.list_collection_names()}


def test_the_demo_clinic_has_a_register_worth_exploring(app, seeded):
    with app.app_context(), tenant_context(seeded):
        patients = list(Patient.objects)
        assert len(patients) >= 150
        numbers = sorted(p.record_number for p in patients)
        assert numbers == [f"P{n:06d}" for n in range(1, len(patients) + 1)]
        assert Counter.objects.get(name="patient").value == len(patients)
        assert len({p.last_name for p in patients}) >= 80 and len({p.first_name for p in patients}) >= 80
        assert any(not p.last_name.isascii() for p in patients)  # García, Nguyễn, Müller...
        today = NOW.astimezone(NEW_YORK).date()
        ages = [(today - p.date_of_birth).days / 365.25 for p in patients]
        assert min(ages) < 2 and max(ages) > 85 and sum(a < 18 for a in ages) >= 15
        assert sum(bool(p.phone) for p in patients) > 0.85 * len(patients)
        assert 0.2 * len(patients) < sum(bool(p.email) for p in patients) < 0.8 * len(patients)
        assert 0.1 * len(patients) < sum(bool(p.allergies) for p in patients) < 0.5 * len(patients)
        assert sum(bool(p.alerts) for p in patients) >= 5
        assert {p.sex for p in patients} >= {"female", "male"}
        assert sum(not p.active for p in patients) >= 1
        assert len({p.phone_digits for p in patients if p.phone}) == sum(bool(p.phone) for p in patients)


def test_two_doctors_have_this_week_and_today_in_every_status(app, seeded):
    with app.app_context(), tenant_context(seeded):
        doctors = list(User.objects(email__in=["doctor@demo.clinic", "doctor2@demo.clinic"]))
        assert len(doctors) == 2
        appointments = list(Appointment.objects)
        today = NOW.astimezone(NEW_YORK).date()
        monday = today - timedelta(days=today.weekday())
        for doctor in doctors:
            days = {_local(a.start).date() for a in appointments if a.doctor.pk == doctor.pk}
            assert {monday + timedelta(days=d) for d in range(5)} <= days
        todays = [a for a in appointments if _local(a.start).date() == today]
        assert {a.status for a in todays} == set(STATUSES)
        assert {a.doctor.pk for a in todays} == {d.pk for d in doctors}
        assert all(a.status in ("scheduled", "cancelled") for a in appointments if _local(a.start).date() > today)
        assert all(a.status in ("completed", "cancelled", "no_show") for a in appointments
                   if _local(a.start).date() < today)
        # No doctor is booked twice at once, and every booking is in opening hours.
        for doctor in doctors:
            mine = sorted((a for a in appointments if a.doctor.pk == doctor.pk), key=lambda a: a.start)
            assert all(a.end <= b.start for a, b in zip(mine, mine[1:]))
        assert all("08:00" <= _local(a.start).strftime("%H:%M") and _local(a.end).strftime("%H:%M") <= "18:00"
                   for a in appointments)


def test_visits_are_signed_or_draft_with_vitals_diagnoses_and_an_amendment(app, seeded):
    with app.app_context(), tenant_context(seeded):
        visits = list(Visit.objects)
        by_status = Tally(v.status for v in visits)
        assert by_status["signed"] >= 20 and by_status["draft"] >= 2
        signed = [v for v in visits if v.status == "signed"]
        assert all(v.diagnosis and v.diagnosis_code and v.assessment and v.signed_by and v.signed_at for v in signed)
        assert len({v.diagnosis_code for v in signed}) >= 8
        assert all(v.vitals.temperature_c and v.vitals.pulse_bpm for v in visits)
        amended = [v for v in signed if v.amendments]
        assert amended
        change = amended[0].amendments[0]
        field = next(iter(change.changes))
        assert getattr(amended[0], field) == change.changes[field]["new"] != change.changes[field]["old"]
        # Every completed appointment has its signed visit; the one under way has its draft.
        completed = {a.pk for a in Appointment.objects(status="completed")}
        assert completed == {v.appointment.pk for v in signed if v.appointment}
        in_progress = {a.pk for a in Appointment.objects(status="in_progress")}
        assert in_progress <= {v.appointment.pk for v in visits if v.status == "draft" and v.appointment}


def test_an_audit_history_stands_behind_the_data(app, seeded):
    with app.app_context(), tenant_context(seeded):
        events = list(AuditEvent.objects.order_by("at"))
        actions = Tally(e.action for e in events)
        assert actions["patient.create"] == Patient.objects.count()
        assert actions["appointment.create"] == Appointment.objects.count()
        for action in ("appointment.status", "visit.create", "visit.update", "visit.sign", "visit.amend",
                       "patient.update", "patient.archive", "patient.view", "auth.login"):
            assert actions[action] >= 1, action
        assert actions["visit.sign"] == Visit.objects(status="signed").count()
        seeded_actions = ("patient.", "appointment.", "visit.", "auth.login")
        ours = [e for e in events if e.action.startswith(seeded_actions)]
        assert [e.action for e in ours if not (e.actor_id and e.actor and e.target_id and e.target_type)] == []
        assert all(clock.as_utc(e.at) <= NOW for e in ours)
        statuses = [e.changes["status"]["new"] for e in ours if e.action == "appointment.status"]
        assert set(statuses) == set(STATUSES) - {"scheduled"}


def test_seeding_again_adds_nothing(app, seeded):
    before = _counts(app)
    with app.app_context():
        tenant, created = seed_demo()
    assert (tenant.pk, created) == (seeded.pk, False)
    assert _counts(app) == before


def test_area_seeds_run_once_each_inside_the_clinic_and_a_new_one_fills_an_existing_clinic(
        app, frozen_clock, monkeypatch):
    frozen_clock.set(NOW)
    calls = []

    def seed(tenant, rng, now):
        calls.append(("first", tenant.pk, current_tenant().pk, rng.random(), now))

    def later(tenant, rng, now):
        calls.append(("later", tenant.pk))

    monkeypatch.setattr(demo, "AREA_SEEDS", [seed])
    with app.app_context():
        tenant, _ = seed_demo()
        seed_demo()
        assert calls == [("first", tenant.pk, tenant.pk, calls[0][3], NOW)]
        monkeypatch.setattr(demo, "AREA_SEEDS", [seed, later])
        seed_demo()
    assert [c[0] for c in calls] == ["first", "later"]


def test_a_failed_step_is_tried_again_on_the_next_start(app, frozen_clock, monkeypatch):
    frozen_clock.set(NOW)
    attempts = []

    def flaky(tenant, rng, now):
        attempts.append(now)
        if len(attempts) == 1:
            raise RuntimeError("boom")

    monkeypatch.setattr(demo, "AREA_SEEDS", [flaky])
    with app.app_context():
        with pytest.raises(RuntimeError):
            seed_demo()
        seed_demo()
        seed_demo()
    assert len(attempts) == 2


def test_record_numbers_continue_the_clinics_counter(app):
    with app.app_context():
        clinic = make_clinic("numbers", "Numbers Clinic")
        with tenant_context(clinic):
            assert Counter.next("patient") == 1
            assert reserve_record_numbers(10) == 2
            patient = create_patient({"first_name": "Ada", "last_name": "Byron"})
            assert patient.record_number == "P000012"


def test_an_existing_demo_clinic_gets_its_missing_staff_and_data(app, frozen_clock):
    """A var/ from before this seed: the clinic and admin exist, nothing else."""
    frozen_clock.set(NOW)
    from clinic_app.services.onboarding import provision_clinic

    with app.app_context():
        provision_clinic(name="Demo Clinic", subdomain="demo", admin_name="Alex Admin",
                         admin_email="admin@demo.clinic", password="demo-clinic-walkthrough",
                         timezone="America/New_York")
        tenant, created = seed_demo()
        assert not created and Tenant.objects(subdomain="demo").count() == 1
        with tenant_context(tenant):
            assert User.objects.count() == 1 + len(demo.DEMO_STAFF)
            assert Patient.objects.count() == demo.PATIENTS


@pytest.mark.parametrize("local_now", [
    datetime(2026, 3, 4, 3, 0),    # Wednesday night, before opening
    datetime(2026, 3, 9, 8, 35),   # Monday just after opening: no earlier day this week
    datetime(2026, 3, 8, 20, 0),   # Sunday evening (the spring-forward day in New York)
])
def test_today_shows_every_status_whatever_the_hour(app, frozen_clock, local_now):
    now = local_now.replace(tzinfo=NEW_YORK).astimezone(timezone.utc)
    frozen_clock.set(now)
    with app.app_context():
        tenant, _ = seed_demo()
        with tenant_context(tenant):
            today = now.astimezone(NEW_YORK).date()
            todays = [a for a in Appointment.objects if _local(a.start).date() == today]
            assert {a.status for a in todays} == set(STATUSES)
            assert Visit.objects(status="signed", amendments__0__exists=True).count() >= 1
            assert Visit.objects(status="draft").count() >= 2
            assert all(clock.as_utc(e.at) <= now for e in AuditEvent.objects(action__startswith="visit."))
