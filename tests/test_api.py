"""JSON API v1: envelope, session and token auth, tenant isolation, strict bodies."""
import pytest

from clinic_app.models import ApiToken, AuditEvent, Patient, Role
from clinic_app.services import patients as svc
from tests.support import api_auth


PATIENT = {"first_name": "Maria", "last_name": "Lopez", "date_of_birth": "1985-04-12", "phone": "555-0100",
           "allergies": ["penicillin"]}


def test_token_creates_lists_gets_and_updates_patients(client, clinic_a, in_tenant):
    auth = api_auth(in_tenant, clinic_a)
    created = client.post("/api/v1/patients", json=PATIENT, headers=auth, tenant=clinic_a)
    assert created.status_code == 201 and created.json["success"] is True
    pid = created.json["data"]["id"]
    assert created.json["data"]["record_number"] == "P000001"
    listed = client.get("/api/v1/patients?q=lop", headers=auth, tenant=clinic_a).json
    assert listed["success"] and [p["id"] for p in listed["data"]] == [pid]
    assert listed["meta"] == {"page": 1, "per_page": 25, "has_next": False}  # no count over the clinic
    got = client.get(f"/api/v1/patients/{pid}", headers=auth, tenant=clinic_a).json
    assert got["data"]["allergies"] == [{"substance": "penicillin", "reaction": None, "severity": "unknown"}]
    patched = client.patch(f"/api/v1/patients/{pid}", json={"phone": "555-0199"}, headers=auth, tenant=clinic_a)
    assert patched.status_code == 200 and patched.json["data"]["phone"] == "555-0199"
    assert patched.json["data"]["last_name"] == "Lopez"
    with in_tenant(clinic_a):
        assert AuditEvent.objects(action="patient.update", actor__startswith="API token").count() == 1


@pytest.mark.parametrize("body,field", [
    ({**PATIENT, "first_name": {"$ne": None}}, "first_name"),
    ({**PATIENT, "last_name": ["Lopez"]}, "last_name"),
    ({**PATIENT, "date_of_birth": "2999-01-01"}, "date_of_birth"),
    ({**PATIENT, "date_of_birth": 19850412}, "date_of_birth"),
    ({**PATIENT, "sex": "robot"}, "sex"),
    ({**PATIENT, "email": "nope"}, "email"),
    ({**PATIENT, "allergies": "penicillin"}, "allergies"),
    ({**PATIENT, "isAdmin": True}, "isAdmin"),
    ({"first_name": "Only"}, "last_name"),
])
def test_bodies_are_strictly_typed(client, clinic_a, in_tenant, body, field):
    auth = api_auth(in_tenant, clinic_a)
    response = client.post("/api/v1/patients", json=body, headers=auth, tenant=clinic_a)
    assert response.status_code == 400
    assert response.json["success"] is False and field in response.json["error"]["fields"]
    with in_tenant(clinic_a):
        assert Patient.objects.count() == 0


def test_query_operators_in_the_query_string_are_plain_text(client, clinic_a, in_tenant):
    auth = api_auth(in_tenant, clinic_a)
    client.post("/api/v1/patients", json=PATIENT, headers=auth, tenant=clinic_a)
    response = client.get('/api/v1/patients?q={"$ne":null}', headers=auth, tenant=clinic_a)
    assert response.status_code == 200 and response.json["data"] == []


def test_non_json_body_is_415(client, clinic_a, in_tenant):
    auth = api_auth(in_tenant, clinic_a)
    response = client.post("/api/v1/patients", data="first_name=x", headers=auth, tenant=clinic_a)
    assert response.status_code == 415 and response.json["success"] is False


def test_a_token_of_clinic_a_is_401_on_clinic_b(client, clinic_a, clinic_b, in_tenant):
    auth = api_auth(in_tenant, clinic_a)
    response = client.get("/api/v1/patients", headers=auth, tenant=clinic_b)
    assert response.status_code == 401 and response.json == {
        "success": False, "error": {"code": 401, "message": "The API token is invalid or revoked."}}


def test_another_clinics_patient_is_404_and_unchanged(client, clinic_a, clinic_b, in_tenant):
    with in_tenant(clinic_b):
        other = svc.create_patient({"first_name": "Bea", "last_name": "Other", "allergies": []})
    auth = api_auth(in_tenant, clinic_a)
    assert client.get(f"/api/v1/patients/{other.pk}", headers=auth, tenant=clinic_a).status_code == 404
    patched = client.patch(f"/api/v1/patients/{other.pk}", json={"first_name": "Hacked"}, headers=auth,
                           tenant=clinic_a)
    assert patched.status_code == 404 and patched.json["success"] is False
    with in_tenant(clinic_b):
        assert Patient.objects.get(pk=other.pk).first_name == "Bea"


def test_token_role_limits_what_it_may_do(client, clinic_a, in_tenant):
    auth = api_auth(in_tenant, clinic_a, role="Medical Representative")
    assert client.get("/api/v1/patients", headers=auth, tenant=clinic_a).status_code == 403
    response = client.post("/api/v1/patients", json=PATIENT, headers=auth, tenant=clinic_a)
    assert response.status_code == 403 and response.json["success"] is False


def test_revoked_tokens_stop_working(client, clinic_a, in_tenant, login_as):
    auth = api_auth(in_tenant, clinic_a)
    assert client.get("/api/v1/patients", headers=auth, tenant=clinic_a).status_code == 200
    login_as(clinic_a, "Admin")
    with in_tenant(clinic_a):
        token = ApiToken.objects.get()
    assert client.post(f"/api-tokens/{token.pk}/revoke", tenant=clinic_a).status_code == 303
    client.post("/logout", tenant=clinic_a)
    assert client.get("/api/v1/patients", headers=auth, tenant=clinic_a).status_code == 401


def test_the_session_works_for_the_api_and_needs_csrf_for_writes(services, clinic_a):
    from clinic_app import create_app
    from tests.conftest import app_config
    from tests.support import TEST_PASSWORD, TenantClient

    app = create_app(app_config(services, WTF_CSRF_ENABLED=True))
    app.test_client_class = TenantClient
    client = app.test_client()
    html = client.get("/login", tenant=clinic_a).get_data(as_text=True)
    token = html.split('"X-CSRFToken": "')[1].split('"')[0]
    client.post("/login", data={"email": "admin@clinica.test", "password": TEST_PASSWORD, "csrf_token": token},
                tenant=clinic_a)
    assert client.get("/api/v1/patients", tenant=clinic_a).json["success"] is True
    assert client.post("/api/v1/patients", json=PATIENT, tenant=clinic_a).status_code == 400
    # signing in starts a new session, so the page hands out a new token
    html = client.get("/", tenant=clinic_a).get_data(as_text=True)
    token = html.split('"X-CSRFToken": "')[1].split('"')[0]
    ok = client.post("/api/v1/patients", json=PATIENT, headers={"X-CSRFToken": token}, tenant=clinic_a)
    assert ok.status_code == 201


def test_unauthenticated_api_gets_a_json_401(client, clinic_a):
    response = client.get("/api/v1/patients", tenant=clinic_a)
    assert response.status_code == 401 and response.json["success"] is False


def test_unknown_api_paths_are_json_404(client, clinic_a, in_tenant):
    auth = api_auth(in_tenant, clinic_a)
    response = client.get("/api/v1/patients/not-an-id", headers=auth, tenant=clinic_a)
    assert response.status_code == 404 and response.json["success"] is False


def test_admin_creates_a_token_and_sees_it_once(client, clinic_a, login_as, in_tenant):
    login_as(clinic_a, "Admin")
    with in_tenant(clinic_a):
        role = Role.objects.get(name="Doctor")
    created = client.post("/api-tokens/", data={"name": "lab link", "role": str(role.pk)}, tenant=clinic_a)
    assert created.status_code == 201
    secret = created.get_data(as_text=True).split('id="token-secret">')[1].split("<")[0]
    assert secret.startswith("cat_")
    listed = client.get("/api-tokens/", tenant=clinic_a).get_data(as_text=True)
    assert secret not in listed and secret[:12] in listed
    bad = client.post("/api-tokens/", data={"name": "", "role": "nope"}, tenant=clinic_a)
    assert bad.status_code == 422 and b"This field is required." in bad.data
    with in_tenant(clinic_a):
        assert ApiToken.objects.count() == 1


def test_token_pages_are_admin_only_and_tenant_scoped(client, clinic_a, clinic_b, login_as, in_tenant):
    auth_b = api_auth(in_tenant, clinic_b)
    login_as(clinic_a, "Doctor")
    assert client.get("/api-tokens/", tenant=clinic_a).status_code == 403
    client.post("/logout", tenant=clinic_a)
    login_as(clinic_a, "Admin")
    with in_tenant(clinic_b):
        token_b = ApiToken.objects.get()
    assert client.post(f"/api-tokens/{token_b.pk}/revoke", tenant=clinic_a).status_code == 404
    assert client.get("/api/v1/patients", headers=auth_b, tenant=clinic_b).status_code == 200


# -- appointments -----------------------------------------------------------------------

from datetime import timedelta  # noqa: E402

from clinic_app.models import Appointment, User  # noqa: E402


def _people(in_tenant, clinic):
    with in_tenant(clinic):
        patient = svc.create_patient({"first_name": "Maria", "last_name": "Lopez", "allergies": []})
        doctor = User.objects.get(email=f"admin@{clinic.subdomain}.test")
        from clinic_app.models import Role
        doctor.role = Role.objects.get(name="Doctor")
        doctor.save()
    return str(patient.pk), str(doctor.pk)


def _tomorrow(frozen_clock):
    return (frozen_clock.now() + timedelta(days=1)).date().isoformat()


def test_token_books_lists_and_reschedules_an_appointment(client, clinic_a, in_tenant, frozen_clock):
    pid, did = _people(in_tenant, clinic_a)
    auth = api_auth(in_tenant, clinic_a)
    day = _tomorrow(frozen_clock)
    created = client.post("/api/v1/appointments", json={"patient_id": pid, "doctor_id": did, "date": day,
                          "time": "10:00", "duration": 30, "reason": "check-up"}, headers=auth, tenant=clinic_a)
    assert created.status_code == 201, created.json
    appt = created.json["data"]
    assert appt["status"] == "scheduled" and appt["start_local"].startswith(f"{day}T10:00")
    clash = client.post("/api/v1/appointments", json={"patient_id": pid, "doctor_id": did, "date": day,
                        "time": "10:15", "duration": 30}, headers=auth, tenant=clinic_a)
    assert clash.status_code == 400 and {"time", "patient_id"} & set(clash.json["error"]["fields"])
    listed = client.get(f"/api/v1/appointments?from={day}&to={day}", headers=auth, tenant=clinic_a).json
    assert [a["id"] for a in listed["data"]] == [appt["id"]]
    moved = client.patch(f"/api/v1/appointments/{appt['id']}", json={"time": "11:00"}, headers=auth,
                         tenant=clinic_a)
    assert moved.status_code == 200 and moved.json["data"]["start_local"].startswith(f"{day}T11:00")
    checked = client.patch(f"/api/v1/appointments/{appt['id']}", json={"status": "checked_in"}, headers=auth,
                           tenant=clinic_a)
    assert checked.json["data"]["status"] == "checked_in"
    bad = client.patch(f"/api/v1/appointments/{appt['id']}", json={"status": "scheduled"}, headers=auth,
                       tenant=clinic_a)
    assert bad.status_code == 409 and bad.json["success"] is False


@pytest.mark.parametrize("patch", [
    {"patient_id": {"$ne": None}}, {"doctor_id": ["x"]}, {"time": 1000}, {"duration": "30"},
    {"duration": 7}, {"date": "tomorrow"}, {"extra": 1},
])
def test_appointment_bodies_are_strict(client, clinic_a, in_tenant, frozen_clock, patch):
    pid, did = _people(in_tenant, clinic_a)
    auth = api_auth(in_tenant, clinic_a)
    body = {"patient_id": pid, "doctor_id": did, "date": _tomorrow(frozen_clock), "time": "10:00",
            "duration": 30, **patch}
    response = client.post("/api/v1/appointments", json=body, headers=auth, tenant=clinic_a)
    assert response.status_code == 400 and response.json["success"] is False
    with in_tenant(clinic_a):
        assert Appointment.objects.count() == 0


def test_another_clinics_ids_are_refused_and_unchanged(client, clinic_a, clinic_b, in_tenant, frozen_clock):
    pid_b, did_b = _people(in_tenant, clinic_b)
    pid_a, did_a = _people(in_tenant, clinic_a)
    auth = api_auth(in_tenant, clinic_a)
    day = _tomorrow(frozen_clock)
    with_b_patient = client.post("/api/v1/appointments", json={"patient_id": pid_b, "doctor_id": did_a,
                                 "date": day, "time": "10:00", "duration": 30}, headers=auth, tenant=clinic_a)
    assert with_b_patient.status_code == 400 and "patient_id" in with_b_patient.json["error"]["fields"]
    auth_b = api_auth(in_tenant, clinic_b)
    b_appt = client.post("/api/v1/appointments", json={"patient_id": pid_b, "doctor_id": did_b, "date": day,
                         "time": "10:00", "duration": 30}, headers=auth_b, tenant=clinic_b).json["data"]
    assert client.get(f"/api/v1/appointments/{b_appt['id']}", headers=auth, tenant=clinic_a).status_code == 404
    patched = client.patch(f"/api/v1/appointments/{b_appt['id']}", json={"status": "cancelled"}, headers=auth,
                           tenant=clinic_a)
    assert patched.status_code == 404
    with in_tenant(clinic_b):
        assert Appointment.objects.get().status == "scheduled"
    assert client.get(f"/api/v1/appointments?from={day}&to={day}", headers=auth, tenant=clinic_a).json["data"] == []


def test_appointment_api_permissions(client, clinic_a, in_tenant, frozen_clock):
    pid, did = _people(in_tenant, clinic_a)
    rep = api_auth(in_tenant, clinic_a, role="Medical Representative")
    assert client.get("/api/v1/appointments", headers=rep, tenant=clinic_a).status_code == 403
    accountant = api_auth(in_tenant, clinic_a, role="Accountant")
    assert client.get("/api/v1/appointments", headers=accountant, tenant=clinic_a).status_code == 200
    response = client.post("/api/v1/appointments", json={"patient_id": pid, "doctor_id": did,
                           "date": _tomorrow(frozen_clock), "time": "10:00"}, headers=accountant, tenant=clinic_a)
    assert response.status_code == 403


# -- one envelope, one error path ----------------------------------------------------------


def test_every_api_error_has_the_one_envelope(client, clinic_a, in_tenant):
    auth = api_auth(in_tenant, clinic_a)
    answers = {
        404: client.get("/api/v1/no-such-thing", headers=auth, tenant=clinic_a),
        405: client.delete("/api/v1/patients", headers=auth, tenant=clinic_a),
        415: client.post("/api/v1/patients", data="x", headers=auth, tenant=clinic_a),
        400: client.get("/api/v1/patients?page=x", headers=auth, tenant=clinic_a),
        401: client.get("/api/v1/patients", tenant=clinic_a),
    }
    for status, response in answers.items():
        assert response.status_code == status and set(response.json) == {"success", "error"}, status
        error = response.json["error"]
        assert response.json["success"] is False and error["code"] == status and error["message"], status
        assert set(error) <= {"code", "message", "fields"}
    missing = client.get(f"/api/v1/patients/{'0' * 24}", headers=auth, tenant=clinic_a).json
    assert missing == {"success": False, "error": {"code": 404, "message": "There is no such patient."}}


def test_list_meta_says_whether_there_is_a_next_page(client, clinic_a, in_tenant):
    auth = api_auth(in_tenant, clinic_a)
    with in_tenant(clinic_a):
        Patient.objects.insert([Patient(record_number=f"P{i:06d}", first_name="Pat", last_name=f"Row{i:02d}",
                                        allergies=[]) for i in range(3)])
    first = client.get("/api/v1/patients?per_page=2", headers=auth, tenant=clinic_a).json
    assert first["meta"] == {"page": 1, "per_page": 2, "has_next": True} and len(first["data"]) == 2
    second = client.get("/api/v1/patients?per_page=2&page=2", headers=auth, tenant=clinic_a).json
    assert second["meta"] == {"page": 2, "per_page": 2, "has_next": False} and len(second["data"]) == 1


def test_page_meta_keeps_its_older_call(app):
    from clinic_app.blueprints.api.base import page_meta

    assert page_meta(1, 25, 30, 2) == {"page": 1, "per_page": 25, "total": 30, "pages": 2, "has_next": True}
