"""Visits: start (directly / from an appointment), SOAP + vitals + diagnosis, sign, amend, list."""
import threading
from datetime import timedelta

import pytest
from bson import ObjectId

from clinic_app import clock
from clinic_app.models import Appointment, AuditEvent, User, Visit
from clinic_app.models.clinical import VITALS
from clinic_app.services import patients as patient_svc
from clinic_app.services import visits as svc

from .support import make_user
from .test_query_plans import assert_tenant_index

NOTE = {"subjective": "Sore throat for 3 days", "objective": "Red pharynx", "assessment": "Viral pharyngitis",
        "plan": "Fluids, rest", "temperature_c": "38.2", "pulse_bpm": "96", "resp_rate": "18", "systolic": "120",
        "diastolic": "80", "spo2": "98", "weight_kg": "70.5", "height_cm": "172", "diagnosis": "Acute pharyngitis",
        "diagnosis_code": "j02.9"}


@pytest.fixture
def doctor(client, clinic_a, login_as):
    return login_as(clinic_a, "Doctor", email="doc@example.test")


@pytest.fixture
def patient(clinic_a, in_tenant):
    with in_tenant(clinic_a):
        return patient_svc.create_patient({"first_name": "Maria", "last_name": "Lopez", "allergies": ["penicillin"],
                                           "alerts": "Hard of hearing"})


def _appointment(in_tenant, clinic, patient, doctor, status="scheduled"):
    with in_tenant(clinic):
        start = clock.now() + timedelta(minutes=5)
        return Appointment(patient=patient, doctor=doctor, start=start, end=start + timedelta(minutes=20),
                           status=status).save()


def _visit(in_tenant, clinic, patient, provider, **fields):
    with in_tenant(clinic):
        return Visit(patient=patient, provider=provider, **fields).save()


def _get(in_tenant, clinic, visit):
    with in_tenant(clinic):
        return Visit.objects.get(pk=visit.pk)


def _edit(client, clinic, visit, headers=None, **overrides):
    return client.post(f"/visits/{visit.pk}/edit", data={**NOTE, **overrides}, headers=headers or {}, tenant=clinic)


def _sign(client, clinic, visit, headers=None):
    return client.post(f"/visits/{visit.pk}/sign", headers=headers or {}, tenant=clinic)


# -- starting ------------------------------------------------------------------


def test_doctor_starts_a_visit_directly_for_a_patient(client, clinic_a, doctor, patient, in_tenant):
    page = client.get(f"/visits/start?patient_id={patient.pk}", tenant=clinic_a)
    assert page.status_code == 200 and b"Start a visit for Maria Lopez" in page.data and b"penicillin" in page.data
    response = client.post("/visits/start", data={"patient_id": str(patient.pk)}, tenant=clinic_a)
    assert response.status_code == 303
    with in_tenant(clinic_a):
        visit = Visit.objects.get()
        assert response.headers["Location"] == f"/visits/{visit.pk}/edit"
        assert visit.status == "draft" and visit.provider.pk == doctor.pk and visit.patient.pk == patient.pk
        assert visit.appointment is None
        event = AuditEvent.objects.get(action="visit.create")
        assert event.target_id == visit.pk and event.changes["patient"] == str(patient.pk)


@pytest.mark.parametrize("status", ["scheduled", "checked_in"])
def test_starting_from_an_appointment_moves_it_to_in_progress_and_a_second_start_reuses_the_draft(
        client, clinic_a, doctor, patient, in_tenant, status):
    appt = _appointment(in_tenant, clinic_a, patient, doctor, status)
    first = client.post("/visits/start", data={"appointment_id": str(appt.pk)}, tenant=clinic_a)
    again = client.post("/visits/start", data={"appointment_id": str(appt.pk)}, tenant=clinic_a)
    assert first.status_code == again.status_code == 303
    assert first.headers["Location"] == again.headers["Location"]
    with in_tenant(clinic_a):
        visit = Visit.objects.get()
        assert visit.appointment.pk == appt.pk and visit.patient.pk == patient.pk
        assert Appointment.objects.get(pk=appt.pk).status == "in_progress"
        assert AuditEvent.objects(action="visit.create").count() == 1
        moved = AuditEvent.objects.get(action="appointment.status")
        assert moved.changes["status"] == {"old": status, "new": "in_progress"}
    assert b"already has an open visit" in client.get(again.headers["Location"], tenant=clinic_a).data


def test_two_simultaneous_starts_from_one_appointment_make_one_visit(app, clinic_a, doctor, patient, in_tenant):
    appt = _appointment(in_tenant, clinic_a, patient, doctor, "checked_in")
    barrier, results = threading.Barrier(4), []

    def start():
        with in_tenant(clinic_a):
            fresh = Appointment.objects.get(pk=appt.pk)
            barrier.wait()
            visit, created = svc.start_from_appointment(fresh, User.objects.get(pk=doctor.pk))
            results.append((visit.pk, created))

    threads = [threading.Thread(target=start) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(results) == 4 and len({pk for pk, _ in results}) == 1
    assert [created for _, created in results].count(True) == 1
    with in_tenant(clinic_a):
        assert Visit.objects.count() == 1 and Appointment.objects.get(pk=appt.pk).status == "in_progress"


@pytest.mark.parametrize("status", ["completed", "cancelled", "no_show"])
def test_a_finished_appointment_cannot_start_a_visit(client, clinic_a, doctor, patient, in_tenant, status):
    appt = _appointment(in_tenant, clinic_a, patient, doctor, status)
    response = client.post("/visits/start", data={"appointment_id": str(appt.pk)}, tenant=clinic_a)
    assert response.status_code == 409
    assert f"This appointment is {status.replace('_', ' ')}".encode() in response.data
    with in_tenant(clinic_a):
        assert Visit.objects.count() == 0 and Appointment.objects.get(pk=appt.pk).status == status


def test_an_archived_patient_cannot_start_a_visit(client, clinic_a, doctor, patient, in_tenant):
    with in_tenant(clinic_a):
        patient_svc.set_active(patient, False)
    response = client.post("/visits/start", data={"patient_id": str(patient.pk)}, tenant=clinic_a)
    assert response.status_code == 409 and b"is archived" in response.data
    with in_tenant(clinic_a):
        assert Visit.objects.count() == 0


def test_start_needs_a_patient_or_an_appointment(client, clinic_a, doctor):
    assert client.get("/visits/start", tenant=clinic_a).status_code == 400
    assert client.post("/visits/start", data={}, tenant=clinic_a).status_code == 400
    assert client.post("/visits/start", data={"patient_id": "nope"}, tenant=clinic_a).status_code == 404


# -- editing and validation --------------------------------------------------------


def test_edit_saves_the_soap_note_vitals_and_an_upper_case_code(client, clinic_a, doctor, patient, in_tenant):
    visit = _visit(in_tenant, clinic_a, patient, doctor)
    form = client.get(f"/visits/{visit.pk}/edit", tenant=clinic_a)
    assert form.status_code == 200 and b"mmHg" in form.data and b"\xc2\xb0C" in form.data
    assert _edit(client, clinic_a, visit).status_code == 303
    fresh = _get(in_tenant, clinic_a, visit)
    assert fresh.assessment == "Viral pharyngitis" and fresh.diagnosis_code == "J02.9"
    assert fresh.vitals.temperature_c == 38.2 and fresh.vitals.pulse_bpm == 96 and fresh.vitals.weight_kg == 70.5
    with in_tenant(clinic_a):
        event = AuditEvent.objects.get(action="visit.update")
        assert {"assessment", "temperature_c", "diagnosis_code"} <= set(event.changes["fields"])
    page = client.get(f"/visits/{visit.pk}", tenant=clinic_a).get_data(as_text=True)
    assert "38.2 °C" in page and "120 mmHg" in page and "J02.9" in page and "Acute pharyngitis" in page


def _out_of_range_cases():
    for key, (label, unit, low, high) in VITALS.items():
        step = 1 if isinstance(low, int) else 0.1
        for value in (low - step, high + step):
            yield pytest.param(key, f"{value:g}", f"{label} must be between {low:g} and {high:g} {unit}.",
                               id=f"{key}={value:g}")


@pytest.mark.parametrize("key,value,message", list(_out_of_range_cases()))
def test_each_vital_out_of_range_is_refused_beside_its_field(client, clinic_a, doctor, patient, in_tenant,
                                                             key, value, message):
    visit = _visit(in_tenant, clinic_a, patient, doctor)
    overrides = {key: value}
    if key == "diastolic":
        overrides["systolic"] = "250"  # keep the diastolic < systolic rule out of the way
    response = _edit(client, clinic_a, visit, **overrides)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'<p class="error" id="{key}-error">{message}</p>' in html
    fresh = _get(in_tenant, clinic_a, visit)
    assert fresh.assessment is None and getattr(fresh.vitals, key) is None


def test_the_temperature_message_reads_as_a_clinician_expects(client, clinic_a, doctor, patient, in_tenant):
    visit = _visit(in_tenant, clinic_a, patient, doctor)
    response = _edit(client, clinic_a, visit, temperature_c="52")
    assert "Temperature must be between 30 and 45 °C" in response.get_data(as_text=True)


@pytest.mark.parametrize("field,value,message", [
    ("diastolic", "120", "Diastolic BP must be lower than systolic BP."),
    ("diastolic", "130", "Diastolic BP must be lower than systolic BP."),
    ("pulse_bpm", "72.5", "Enter the pulse as a whole number, e.g. 72."),
    ("temperature_c", "warm", "Enter the temperature as a number, e.g. 37.2."),
    ("temperature_c", "37,5", "Enter the temperature as a number, e.g. 37.2."),
    ("diagnosis", "x" * 501, "The diagnosis must be at most 500 characters."),
    ("diagnosis_code", "U07.1", "Enter an ICD-10 style code"),
    ("diagnosis_code", "J6", "Enter an ICD-10 style code"),
    ("diagnosis_code", "J06.12345", "Enter an ICD-10 style code"),
    ("diagnosis_code", "106.9", "Enter an ICD-10 style code"),
    ("diagnosis_code", "J06-9", "Enter an ICD-10 style code"),
    ("diagnosis_code", "JC6", "Enter an ICD-10 style code"),
])
def test_bad_input_is_refused_beside_the_field_and_nothing_is_saved(client, clinic_a, doctor, patient, in_tenant,
                                                                     field, value, message):
    visit = _visit(in_tenant, clinic_a, patient, doctor)
    response = _edit(client, clinic_a, visit, systolic="120", **{field: value})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'<p class="error" id="{field}-error">{message}' in html
    fresh = _get(in_tenant, clinic_a, visit)
    assert fresh.assessment is None and fresh.diagnosis is None and fresh.vitals.systolic is None
    with in_tenant(clinic_a):
        assert AuditEvent.objects(action="visit.update").count() == 0


@pytest.mark.parametrize("code,stored", [("e11", "E11"), ("j06.9", "J06.9"), ("S72.001A", "S72.001A"),
                                         ("c4a.0", "C4A.0"), (" z00.00 ", "Z00.00")])
def test_valid_codes_are_stored_upper_case(client, clinic_a, doctor, patient, in_tenant, code, stored):
    visit = _visit(in_tenant, clinic_a, patient, doctor)
    assert _edit(client, clinic_a, visit, diagnosis_code=code).status_code == 303
    assert _get(in_tenant, clinic_a, visit).diagnosis_code == stored


def test_htmx_validation_errors_are_a_422_fragment(client, clinic_a, doctor, patient, in_tenant):
    visit = _visit(in_tenant, clinic_a, patient, doctor)
    response = _edit(client, clinic_a, visit, headers={"HX-Request": "true"}, spo2="101")
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and "<html" not in body and 'id="visit-form"' in body
    assert "SpO₂ must be between 50 and 100 %." in body and "HX-Request" in response.headers["Vary"]
    ok = _edit(client, clinic_a, visit, headers={"HX-Request": "true"})
    assert ok.status_code == 200 and ok.headers["HX-Redirect"] == f"/visits/{visit.pk}"


# -- signing ---------------------------------------------------------------------


def test_signing_locks_the_note_and_edit_becomes_the_amendment_form(client, clinic_a, doctor, patient, in_tenant,
                                                                    frozen_clock):
    visit = _visit(in_tenant, clinic_a, patient, doctor)
    _edit(client, clinic_a, visit)
    frozen_clock.advance(minutes=10)
    assert _sign(client, clinic_a, visit).status_code == 303
    fresh = _get(in_tenant, clinic_a, visit)
    assert fresh.status == "signed" and svc.ref_id(fresh, "signed_by") == doctor.pk and fresh.signed_at == frozen_clock.now()
    page = client.get(f"/visits/{visit.pk}", tenant=clinic_a).get_data(as_text=True)
    assert f'<dd id="signed-by">by {doctor.name} at ' in page
    assert 'id="sign-visit"' not in page and ">Amend<" in page
    form = client.get(f"/visits/{visit.pk}/edit", tenant=clinic_a).get_data(as_text=True)
    assert 'id="amendment-notice"' in form and 'name="reason"' in form
    response = client.post(f"/visits/{visit.pk}/edit", data={**NOTE, "assessment": "Strep", "reason": ""},
                           tenant=clinic_a)
    assert response.status_code == 422 and b'id="reason-error">Give the reason for the amendment.' in response.data
    fresh = _get(in_tenant, clinic_a, visit)
    assert fresh.assessment == "Viral pharyngitis" and fresh.amendments == []
    with in_tenant(clinic_a):
        event = AuditEvent.objects.get(action="visit.sign")
        assert event.changes["status"] == {"old": "draft", "new": "signed"}


def test_an_amendment_keeps_the_original_values_and_shows_them(client, clinic_a, doctor, patient, in_tenant):
    visit = _visit(in_tenant, clinic_a, patient, doctor)
    _edit(client, clinic_a, visit)
    _sign(client, clinic_a, visit)
    response = client.post(f"/visits/{visit.pk}/edit", tenant=clinic_a, data={
        **NOTE, "assessment": "Streptococcal pharyngitis", "temperature_c": "38.9", "reason": "Rapid strep positive"})
    assert response.status_code == 303
    fresh = _get(in_tenant, clinic_a, visit)
    assert fresh.status == "signed" and fresh.assessment == "Streptococcal pharyngitis"
    assert fresh.vitals.temperature_c == 38.9
    (amendment,) = fresh.amendments
    assert amendment.reason == "Rapid strep positive" and amendment.by_id == doctor.pk and amendment.by == doctor.name
    assert amendment.changes == {"assessment": {"old": "Viral pharyngitis", "new": "Streptococcal pharyngitis"},
                                 "temperature_c": {"old": 38.2, "new": 38.9}}
    page = client.get(f"/visits/{visit.pk}", tenant=clinic_a).get_data(as_text=True)
    history = page.split('id="amendments"')[1]
    assert "Rapid strep positive" in history and doctor.name in history
    assert '<td class="old prewrap">38.2 °C</td><td class="new prewrap">38.9 °C</td>' in history
    original = history.split('id="original-note"')[1]
    assert "Viral pharyngitis" in original and "38.2 °C" in original
    with in_tenant(clinic_a):
        event = AuditEvent.objects.get(action="visit.amend")
        assert event.changes["reason"] == "Rapid strep positive"
        assert event.changes["fields"] == ["assessment", "temperature_c"]


def test_a_second_amendment_keeps_the_first_as_it_was(client, clinic_a, doctor, patient, in_tenant):
    visit = _visit(in_tenant, clinic_a, patient, doctor)
    _edit(client, clinic_a, visit)
    _sign(client, clinic_a, visit)
    client.post(f"/visits/{visit.pk}/edit", data={**NOTE, "plan": "Amoxicillin", "reason": "Started antibiotics"},
                tenant=clinic_a)
    client.post(f"/visits/{visit.pk}/edit", data={**NOTE, "plan": "Azithromycin", "reason": "Penicillin allergy"},
                tenant=clinic_a)
    fresh = _get(in_tenant, clinic_a, visit)
    assert [a.changes["plan"] for a in fresh.amendments] == [{"old": "Fluids, rest", "new": "Amoxicillin"},
                                                             {"old": "Amoxicillin", "new": "Azithromycin"}]
    with in_tenant(clinic_a):
        assert svc.as_signed(fresh)["plan"] == "Fluids, rest"


def test_an_amendment_that_changes_nothing_is_refused(client, clinic_a, doctor, patient, in_tenant):
    visit = _visit(in_tenant, clinic_a, patient, doctor)
    _edit(client, clinic_a, visit)
    _sign(client, clinic_a, visit)
    response = client.post(f"/visits/{visit.pk}/edit", data={**NOTE, "reason": "Just checking"}, tenant=clinic_a)
    assert response.status_code == 422 and b"Nothing was changed" in response.data
    assert _get(in_tenant, clinic_a, visit).amendments == []


def test_signing_needs_an_assessment_or_a_diagnosis(client, clinic_a, doctor, patient, in_tenant):
    visit = _visit(in_tenant, clinic_a, patient, doctor, subjective="Cough")
    response = _sign(client, clinic_a, visit)
    assert response.status_code == 422 and b"Write an assessment or a diagnosis before signing." in response.data
    htmx = _sign(client, clinic_a, visit, headers={"HX-Request": "true"})
    assert htmx.status_code == 422 and b"<html" not in htmx.data and b'id="visit-status"' in htmx.data
    assert _get(in_tenant, clinic_a, visit).status == "draft"
    with in_tenant(clinic_a):
        Visit.objects(pk=visit.pk).update(set__diagnosis="Acute bronchitis")
    assert _sign(client, clinic_a, visit).status_code == 303
    assert _get(in_tenant, clinic_a, visit).status == "signed"


def test_only_the_provider_can_sign(client, clinic_a, login_as, patient, in_tenant):
    with in_tenant(clinic_a):
        other = make_user("Doctor", email="other@example.test", name="Other Doctor")
    visit = _visit(in_tenant, clinic_a, patient, other, assessment="Fine")
    login_as(clinic_a, "Doctor", email="doc@example.test")
    response = _sign(client, clinic_a, visit)
    assert response.status_code == 403 and b"Only the visit&#39;s provider, Other Doctor, can sign it." in response.data
    assert b"Only Other Doctor can sign this visit." in client.get(f"/visits/{visit.pk}", tenant=clinic_a).data
    assert _get(in_tenant, clinic_a, visit).status == "draft"


def test_signing_twice_is_refused_and_changes_nothing(client, clinic_a, doctor, patient, in_tenant, frozen_clock):
    visit = _visit(in_tenant, clinic_a, patient, doctor, assessment="Fine")
    _sign(client, clinic_a, visit)
    signed_at = _get(in_tenant, clinic_a, visit).signed_at
    frozen_clock.advance(hours=1)
    again = _sign(client, clinic_a, visit)
    assert again.status_code == 409 and b"already signed by" in again.data
    assert _get(in_tenant, clinic_a, visit).signed_at == signed_at
    with in_tenant(clinic_a):
        assert AuditEvent.objects(action="visit.sign").count() == 1


def test_two_simultaneous_signs_cannot_both_succeed(clinic_a, doctor, patient, in_tenant):
    visit = _visit(in_tenant, clinic_a, patient, doctor, assessment="Fine")
    barrier, outcomes = threading.Barrier(3), []

    def sign():
        with in_tenant(clinic_a):
            stale = Visit.objects.get(pk=visit.pk)
            me = User.objects.get(pk=doctor.pk)
            barrier.wait()
            try:
                svc.sign(stale, me)
                outcomes.append("signed")
            except svc.Conflict:
                outcomes.append("conflict")

    threads = [threading.Thread(target=sign) for _ in range(3)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(outcomes) == ["conflict", "conflict", "signed"]
    with in_tenant(clinic_a):
        assert AuditEvent.objects(action="visit.sign").count() == 1


def test_signing_completes_the_linked_appointment(client, clinic_a, doctor, patient, in_tenant):
    appt = _appointment(in_tenant, clinic_a, patient, doctor, "checked_in")
    location = client.post("/visits/start", data={"appointment_id": str(appt.pk)}, tenant=clinic_a).headers["Location"]
    visit_id = location.split("/")[2]
    client.post(f"/visits/{visit_id}/edit", data=NOTE, tenant=clinic_a)
    assert client.post(f"/visits/{visit_id}/sign", tenant=clinic_a).status_code == 303
    with in_tenant(clinic_a):
        assert Appointment.objects.get(pk=appt.pk).status == "completed"
        assert AuditEvent.objects.get(action="visit.sign").changes["appointment_status"]["new"] == "completed"
    again = client.post("/visits/start", data={"appointment_id": str(appt.pk)}, tenant=clinic_a)
    assert again.status_code == 409 and b"This appointment is completed" in again.data


def test_a_draft_edit_posted_after_signing_is_refused(client, clinic_a, doctor, patient, in_tenant):
    visit = _visit(in_tenant, clinic_a, patient, doctor, assessment="Fine")
    stale_draft = _get(in_tenant, clinic_a, visit)
    _sign(client, clinic_a, visit)
    response = _edit(client, clinic_a, visit, assessment="Changed after signing")
    html = response.get_data(as_text=True)
    assert response.status_code == 409 and "signed while you were editing" in html
    assert 'name="reason"' in html and "Changed after signing" in html  # what was typed is kept
    assert _get(in_tenant, clinic_a, visit).assessment == "Fine"
    with in_tenant(clinic_a), pytest.raises(svc.Conflict):
        svc.update_draft(stale_draft, {**svc.values_of(stale_draft), "assessment": "Race"}, doctor)
    assert _get(in_tenant, clinic_a, visit).assessment == "Fine"


def test_an_amendment_based_on_a_stale_note_is_refused(client, clinic_a, doctor, patient, in_tenant):
    visit = _visit(in_tenant, clinic_a, patient, doctor, assessment="Fine")
    _sign(client, clinic_a, visit)
    stale = _get(in_tenant, clinic_a, visit)
    client.post(f"/visits/{visit.pk}/edit", data={"assessment": "First", "reason": "one"}, tenant=clinic_a)
    with in_tenant(clinic_a), pytest.raises(svc.Conflict):
        svc.amend(stale, {**svc.values_of(stale), "assessment": "Second"}, "two", User.objects.get(pk=doctor.pk))
    fresh = _get(in_tenant, clinic_a, visit)
    assert fresh.assessment == "First" and len(fresh.amendments) == 1


# -- the visit page, list and timeline ------------------------------------------------


def test_the_visit_page_shows_alerts_and_is_audited(client, clinic_a, doctor, patient, in_tenant):
    visit = _visit(in_tenant, clinic_a, patient, doctor)
    page = client.get(f"/visits/{visit.pk}", tenant=clinic_a)
    assert page.status_code == 200 and b'id="patient-alerts"' in page.data
    assert b"penicillin" in page.data and b"Hard of hearing" in page.data and b'id="sign-visit"' in page.data
    with in_tenant(clinic_a):
        event = AuditEvent.objects.get(action="visit.view")
        assert event.target_id == visit.pk and event.actor_id == doctor.pk


def test_the_list_is_newest_first_and_filters_by_mine_and_status(client, clinic_a, doctor, patient, in_tenant,
                                                                 frozen_clock):
    with in_tenant(clinic_a):
        other = make_user("Nurse", email="nurse@example.test")
    now = frozen_clock.now()
    mine_old = _visit(in_tenant, clinic_a, patient, doctor, started_at=now - timedelta(days=2))
    mine_new = _visit(in_tenant, clinic_a, patient, doctor, started_at=now - timedelta(days=1), status="signed")
    theirs = _visit(in_tenant, clinic_a, patient, other, started_at=now)

    def rows(query=""):
        html = client.get(f"/visits/{query}", tenant=clinic_a).get_data(as_text=True)
        return [part.split('"')[0] for part in html.split('data-visit="')[1:]]

    assert rows() == [str(theirs.pk), str(mine_new.pk), str(mine_old.pk)]
    assert rows("?mine=1") == [str(mine_new.pk), str(mine_old.pk)]
    assert rows("?status=draft") == [str(theirs.pk), str(mine_old.pk)]
    assert rows("?mine=1&status=signed") == [str(mine_new.pk)]
    assert rows("?status=bogus") == rows()


def test_the_list_pages_and_its_fragment_is_bare(client, clinic_a, doctor, patient, in_tenant, frozen_clock):
    with in_tenant(clinic_a):
        Visit.objects.insert([Visit(patient=patient, provider=doctor, started_at=frozen_clock.now() - timedelta(hours=i))
                              for i in range(30)])
    fragment = client.get("/visits/?mine=1", headers={"HX-Request": "true"}, tenant=clinic_a)
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in body and 'id="visit-results"' in body
    assert "<span>Page 1</span>" in body and body.count('data-visit="') == 25
    assert "HX-Request" in fragment.headers["Vary"]
    assert "Lopez, Maria" in body and "mine=1" in body.split('class="pager"')[1]
    full = client.get("/visits/?page=2", tenant=clinic_a).get_data(as_text=True)
    assert "<html" in full and "<span>Page 2</span>" in full and full.count('data-visit="') == 5
    assert 'rel="next"' not in full and 'data-total="30"' in full


def test_list_queries_use_tenant_indexes(app, clinic_a, doctor, patient, in_tenant):
    from clinic_app.extensions import ensure_indexes

    with app.app_context():
        ensure_indexes()
    with in_tenant(clinic_a):
        user = User.objects.get(pk=doctor.pk)
        for query in (svc.recent(), svc.recent(status="signed"), svc.recent(provider=user),
                      svc.recent(provider=user, status="draft")):
            assert_tenant_index(query)


def test_the_patient_timeline_links_to_the_visit(client, clinic_a, doctor, patient, in_tenant):
    visit = _visit(in_tenant, clinic_a, patient, doctor, diagnosis="Acute pharyngitis")
    body = client.get(f"/patients/{patient.pk}/timeline", headers={"HX-Request": "true"}, tenant=clinic_a).data
    assert f'href="/visits/{visit.pk}"'.encode() in body


# -- tenancy and permissions -----------------------------------------------------------


def test_another_clinics_visit_patient_and_appointment_are_404_and_unchanged(client, clinic_a, clinic_b, login_as,
                                                                             in_tenant):
    with in_tenant(clinic_b):
        b_doctor = make_user("Doctor", email="bdoc@example.test")
        b_patient = patient_svc.create_patient({"first_name": "Bea", "last_name": "Other", "allergies": []})
    b_visit = _visit(in_tenant, clinic_b, b_patient, b_doctor, assessment="Theirs")
    b_appt = _appointment(in_tenant, clinic_b, b_patient, b_doctor, "checked_in")
    login_as(clinic_a, "Admin")
    for method, path, data in [
        ("GET", f"/visits/{b_visit.pk}", {}), ("GET", f"/visits/{b_visit.pk}/edit", {}),
        ("POST", f"/visits/{b_visit.pk}/edit", {**NOTE, "reason": "x"}), ("POST", f"/visits/{b_visit.pk}/sign", {}),
        ("GET", f"/visits/start?patient_id={b_patient.pk}", {}),
        ("GET", f"/visits/start?appointment_id={b_appt.pk}", {}),
        ("POST", "/visits/start", {"patient_id": str(b_patient.pk)}),
        ("POST", "/visits/start", {"appointment_id": str(b_appt.pk)}),
        ("GET", "/visits/not-an-id", {}), ("GET", f"/visits/{ObjectId()}", {}),
    ]:
        response = client.open(path, method=method, data=data, tenant=clinic_a)
        assert response.status_code == 404, (method, path)
    with in_tenant(clinic_a):
        assert Visit.objects.count() == 0
    with in_tenant(clinic_b):
        fresh = Visit.objects.get(pk=b_visit.pk)
        assert fresh.status == "draft" and fresh.assessment == "Theirs" and Visit.objects.count() == 1
        assert Appointment.objects.get(pk=b_appt.pk).status == "checked_in"
    assert b"Other" not in client.get("/visits/", tenant=clinic_a).data


def _visit_routes(app, visit_id):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("visits."):
            values = {arg: visit_id for arg in rule.arguments}
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield method, app.url_map.bind("localhost").build(rule.endpoint, values, method=method)


@pytest.mark.parametrize("role", ["Receptionist", "Accountant", "Medical Representative"])
def test_roles_without_visit_rights_get_403_on_every_visits_route(app, client, clinic_a, login_as, patient, in_tenant,
                                                                  role):
    with in_tenant(clinic_a):
        owner = make_user("Doctor", email="doc@example.test")
    visit = _visit(in_tenant, clinic_a, patient, owner, assessment="Fine")
    login_as(clinic_a, role)
    routes = list(_visit_routes(app, str(visit.pk)))
    assert len(routes) == 7
    for method, path in routes:
        response = client.open(path, method=method, data={"patient_id": str(patient.pk)}, tenant=clinic_a)
        assert response.status_code == 403, (role, method, path)
    assert _get(in_tenant, clinic_a, visit).status == "draft"
    with in_tenant(clinic_a):
        assert Visit.objects.count() == 1


def test_a_nurse_starts_and_edits_her_visits_but_only_reads_a_doctors_draft(client, clinic_a, login_as, patient,
                                                                           in_tenant):
    with in_tenant(clinic_a):
        doc = make_user("Doctor", email="doc@example.test", name="Dr Who")
    doctors_visit = _visit(in_tenant, clinic_a, patient, doc, assessment="Doctor's")
    nurse = login_as(clinic_a, "Nurse")
    assert client.post("/visits/start", data={"patient_id": str(patient.pk)}, tenant=clinic_a).status_code == 303
    with in_tenant(clinic_a):
        own = Visit.objects.get(provider=nurse)
    assert _edit(client, clinic_a, own, assessment="Vitals taken").status_code == 303
    assert _get(in_tenant, clinic_a, own).assessment == "Vitals taken" and own.status == "draft"
    assert _edit(client, clinic_a, doctors_visit, assessment="Vitals taken").status_code == 403
    assert _get(in_tenant, clinic_a, doctors_visit).assessment == "Doctor's"
    assert _sign(client, clinic_a, doctors_visit).status_code == 403
    assert _get(in_tenant, clinic_a, doctors_visit).status == "draft"


def test_a_second_doctor_reads_another_doctors_draft_but_cannot_edit_it(client, clinic_a, login_as, patient,
                                                                        in_tenant):
    with in_tenant(clinic_a):
        first = make_user("Doctor", email="first@example.test", name="Dr First")
    draft = _visit(in_tenant, clinic_a, patient, first, assessment="Mine")
    login_as(clinic_a, "Doctor", email="second@example.test")
    page = client.get(f"/visits/{draft.pk}", tenant=clinic_a)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Mine" in html
    assert 'id="edit-visit"' not in html and 'id="read-only-draft"' in html and "Dr First" in html
    refused = client.get(f"/visits/{draft.pk}/edit", tenant=clinic_a)
    assert refused.status_code == 403 and "Dr First" in refused.get_data(as_text=True)
    assert _edit(client, clinic_a, draft, assessment="Overwritten").status_code == 403
    assert _get(in_tenant, clinic_a, draft).assessment == "Mine"
    with in_tenant(clinic_a), pytest.raises(svc.NotProvider):
        second = User.objects.get(email="second@example.test")
        svc.update_draft(_get(in_tenant, clinic_a, draft), {**NOTE}, second)
    assert _get(in_tenant, clinic_a, draft).assessment == "Mine"


def test_starting_from_an_appointment_with_another_doctors_draft_opens_it_to_read(client, clinic_a, login_as,
                                                                                patient, in_tenant):
    with in_tenant(clinic_a):
        first = make_user("Doctor", email="first@example.test", name="Dr First")
    appointment = _appointment(in_tenant, clinic_a, patient, first, "in_progress")
    draft = _visit(in_tenant, clinic_a, patient, first, appointment=appointment)
    login_as(clinic_a, "Doctor", email="second@example.test")
    response = client.post("/visits/start", data={"appointment_id": str(appointment.pk)}, tenant=clinic_a)
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/visits/{draft.pk}")


def test_an_admin_may_edit_any_draft(client, clinic_a, login_as, patient, in_tenant):
    with in_tenant(clinic_a):
        doc = make_user("Doctor", email="doc@example.test", name="Dr Who")
    draft = _visit(in_tenant, clinic_a, patient, doc)
    login_as(clinic_a, "Admin")
    assert 'id="edit-visit"' in client.get(f"/visits/{draft.pk}", tenant=clinic_a).get_data(as_text=True)
    assert _edit(client, clinic_a, draft, assessment="Corrected by admin").status_code == 303
    assert _get(in_tenant, clinic_a, draft).assessment == "Corrected by admin"
