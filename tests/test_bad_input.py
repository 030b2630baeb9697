"""Bad input of any shape gets a 4xx with a clear message, never a 500.

JSON of every shape is posted to every write route (read off the URL map, as in
test_access_matrix), signed in as the clinic's Admin and as an operator, with real
ids where the route names a record, so the request reaches the view and its form.
"""
import json
from datetime import timedelta

import pytest
from bson import ObjectId

from clinic_app import clock
from clinic_app.forms import SEND_A_FORM, AppForm
from clinic_app.hosts import APEX_BLUEPRINTS
from clinic_app.models import Appointment, Patient, Role, User, Visit
from clinic_app.services import patients as patient_svc
from clinic_app.services import platform as platform_svc
from clinic_app.services.api_tokens import create_token
from tests.support import api_auth, make_user

SHAPES = {
    "number": 5,
    "object": {"email": 1, "password": None, "first_name": [1], "name": {"$ne": None}, "csrf_token": 7},
    "null": None,
    "list": [1, "a", None],
    "string": "email=a@b.test",
}
# Routes that take no input, and whose use would end the signed-in session the walk relies on.
SKIP = {"auth.logout", "platform.logout"}
# The form endpoints the attack run found answering 500: each must now say "send a form".
FORM_ENDPOINTS = {
    "auth.login", "auth.forgot_password", "public.onboard_clinic", "public.onboard_admin", "patients.create",
    "patients.edit", "appointments.create", "appointments.edit", "visits.edit", "visits.start", "staff.invite",
    "roles.create", "roles.update", "settings.update", "tokens.index", "account.change_name",
    "account.change_password", "platform.login", "platform.extend",
}


@pytest.fixture
def records(app, clinic_a, login_as, in_tenant):
    """Signed in as clinic A's Admin; {URL argument name: id of a real record} for the walk."""
    admin = login_as(clinic_a, "Admin")
    with in_tenant(clinic_a):
        patient = patient_svc.create_patient({"first_name": "Maria", "last_name": "Lopez", "allergies": []})
        start = clock.now() + timedelta(days=1)
        appointment = Appointment(patient=patient, doctor=admin, start=start,
                                  end=start + timedelta(minutes=15)).save()
        visit = Visit(patient=patient, provider=admin, started_at=clock.now()).save()
        role = Role(name="Helper", level=10, permissions={"patients": ["read"]}).save()
        invited = make_user("Nurse", email="invited@example.test", status="invited", password=None)
        token, _ = create_token("bad input", role, admin)
    with app.app_context():
        platform_svc.create_operator("olga@ops.test", "Olga Ops", "violet tractor mango sunrise")
    return {"patient_id": patient.pk, "appointment_id": appointment.pk, "visit_id": visit.pk, "role_id": role.pk,
            "user_id": invited.pk, "token_id": token.pk, "tenant_id": clinic_a.pk}


def _write_routes(app):
    for rule in app.url_map.iter_rules():
        methods = rule.methods - {"GET", "HEAD", "OPTIONS"}
        if methods and rule.endpoint not in SKIP and not rule.endpoint.startswith("probe."):
            yield rule, sorted(methods)


def _path(app, rule, method, ids):
    values = {arg: str(ids.get(arg) or ObjectId()) for arg in rule.arguments}
    return app.url_map.bind("localhost").build(rule.endpoint, values, method=method)


def test_json_of_any_shape_to_any_write_route_is_a_4xx(app, client, clinic_a, records):
    operator = app.test_client()
    assert operator.post("/platform/login", data={"email": "olga@ops.test",
                                                  "password": "violet tractor mango sunrise"}).status_code == 303
    # the wizard's later steps show their forms once step 1 is answered
    assert operator.post("/tenant-onboard", data={"name": "New Clinic", "subdomain": "newclinic"}).status_code == 303
    wrong, refused = [], set()
    for rule, methods in _write_routes(app):
        apex = rule.endpoint.split(".")[0] in APEX_BLUEPRINTS
        for method in methods:
            path = _path(app, rule, method, records)
            for shape, value in SHAPES.items():
                kw = {} if apex else {"tenant": clinic_a}
                response = (operator if apex else client).open(
                    path, method=method, data=json.dumps(value), content_type="application/json", **kw)
                if response.status_code >= 500:
                    wrong.append(f"{method} {path} {shape}: {response.status_code}")
                if response.status_code == 415 and SEND_A_FORM.split(" (")[0] in response.get_data(as_text=True):
                    refused.add(rule.endpoint)
    assert wrong == []
    assert FORM_ENDPOINTS - refused == set()


def test_json_to_a_form_answers_415_saying_send_a_form_and_changes_nothing(client, clinic_a, records, in_tenant):
    page = client.post("/patients/new", json={"first_name": "X", "last_name": "Y"}, tenant=clinic_a)
    assert page.status_code == 415 and "takes a web form" in page.get_data(as_text=True)
    fragment = client.post("/patients/new", json=[1], headers={"HX-Request": "true"}, tenant=clinic_a)
    assert fragment.status_code == 415 and b"<html" not in fragment.data
    with in_tenant(clinic_a):
        assert Patient.objects.count() == 1  # the fixture's


def test_json_to_the_sign_in_form_is_415_before_any_credential_is_checked(client, clinic_a):
    response = client.post("/login", json={"email": "admin@clinica.test", "password": {"$ne": None}},
                           tenant=clinic_a)
    assert response.status_code == 415


def test_every_posted_form_inherits_the_app_form():
    from flask_wtf import FlaskForm

    import clinic_app.blueprints  # noqa: F401  (the blueprints' form modules are imported by the app)

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    strays = [f"{c.__module__}.{c.__name__}" for c in subclasses(FlaskForm)
              if c.__module__.startswith("clinic_app.") and not issubclass(c, AppForm)]
    assert strays == []


def test_a_patient_edit_without_the_allergies_field_keeps_them(client, clinic_a, login_as, in_tenant):
    login_as(clinic_a, "Admin")
    with in_tenant(clinic_a):
        patient = patient_svc.create_patient({"first_name": "Maria", "last_name": "Lopez",
                                              "allergies": ["penicillin", "latex"]})
    response = client.post(f"/patients/{patient.pk}/edit", data={"first_name": "Mary", "last_name": "Lopez"},
                           tenant=clinic_a)
    assert response.status_code == 303
    with in_tenant(clinic_a):
        saved = Patient.objects.get(pk=patient.pk)
        assert saved.first_name == "Mary" and [str(a) for a in saved.allergies] == ["penicillin", "latex"]


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1899-12-31", "3000-01-01"])
@pytest.mark.parametrize("view", ["day", "week"])
def test_a_calendar_day_out_of_range_is_400_with_a_clear_message(client, clinic_a, login_as, day, view):
    login_as(clinic_a, "Admin")
    response = client.get(f"/appointments/?view={view}&date={day}", tenant=clinic_a)
    assert response.status_code == 400 and "Choose a date from 1900-01-01 to 2999-12-31" in response.get_data(
        as_text=True)


def test_calendar_edges_inside_the_range_still_show(client, clinic_a, login_as):
    login_as(clinic_a, "Admin")
    for day in ("1900-01-01", "2999-12-31"):
        for view in ("day", "week"):
            assert client.get(f"/appointments/?view={view}&date={day}", tenant=clinic_a).status_code == 200


@pytest.mark.parametrize("query,field", [
    ("from=9999-12-31", "from"), ("from=0001-01-01", "from"), ("to=9999-12-31", "to"),
    ("from=2026-01-01&to=0001-01-01", "to"), ("from=nope", "from"),
    ("from=2026-03-01&to=2026-01-01", "to"), ("doctor_id=nope", "doctor_id"), ("patient_id=%7B%7D", "patient_id"),
    ("status=lost", "status"), ("page=x", "page"),
])
def test_bad_appointment_list_arguments_are_400_in_the_envelope(client, clinic_a, in_tenant, query, field):
    response = client.get(f"/api/v1/appointments?{query}", headers=api_auth(in_tenant, clinic_a), tenant=clinic_a)
    assert response.status_code == 400, response.json
    assert response.json["success"] is False and field in response.json["error"]["fields"]
    assert response.json["error"]["code"] == 400 and response.json["error"]["message"]


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_booking_through_the_api_out_of_range_is_400(client, clinic_a, in_tenant, day):
    with in_tenant(clinic_a):
        patient = patient_svc.create_patient({"first_name": "Maria", "last_name": "Lopez", "allergies": []})
        doctor = User.objects.get(email="admin@clinica.test")
    response = client.post("/api/v1/appointments", json={"patient_id": str(patient.pk), "doctor_id": str(doctor.pk),
                                                         "date": day, "time": "23:55", "duration": 30},
                           headers=api_auth(in_tenant, clinic_a), tenant=clinic_a)
    assert response.status_code == 400 and "date" in response.json["error"]["fields"]


def test_a_huge_page_number_is_not_a_500(client, clinic_a, login_as, in_tenant):
    login_as(clinic_a, "Admin")
    for path in ("/patients/", "/visits/", "/audit/", "/messages/"):
        assert client.get(f"{path}?page={'9' * 40}", tenant=clinic_a).status_code == 200, path
    api = client.get(f"/api/v1/patients?page={'9' * 40}", headers=api_auth(in_tenant, clinic_a), tenant=clinic_a)
    assert api.status_code == 200 and api.json["data"] == []


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_booking_or_rescheduling_on_a_day_out_of_range_is_refused_beside_the_date(client, clinic_a, login_as,
                                                                                   in_tenant, day):
    admin = login_as(clinic_a, "Admin")
    with in_tenant(clinic_a):
        patient = patient_svc.create_patient({"first_name": "Maria", "last_name": "Lopez", "allergies": []})
    form = {"patient_id": str(patient.pk), "doctor": str(admin.pk), "date": day, "time": "23:55", "duration": "30"}
    response = client.post("/appointments/new", data=form, tenant=clinic_a)
    assert response.status_code == 422 and "Choose a date from 1900-01-01 to 2999-12-31" in response.get_data(
        as_text=True)
    with in_tenant(clinic_a):
        assert Appointment.objects.count() == 0
