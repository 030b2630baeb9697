"""Patients: register, search, edit, archive/restore, duplicates, page, timeline."""
from datetime import date, timedelta

import pytest

from clinic_app.models import AuditEvent, Patient
from clinic_app.services import patients as svc


@pytest.fixture
def reception(client, clinic_a, login_as):
    return login_as(clinic_a, "Receptionist")


def _new(client, clinic, **overrides):
    data = {"first_name": "Maria", "last_name": "Lopez", "date_of_birth": "1985-04-12", "sex": "female",
            "phone": "+1 (555) 010-2000", "email": "maria@example.org", "allergies": "penicillin, latex",
            "alerts": "", "notes": "", "address": ""}
    data.update(overrides)
    return client.post("/patients/new", data=data, tenant=clinic)


def test_receptionist_registers_a_patient_with_a_record_number(client, clinic_a, reception, in_tenant):
    response = _new(client, clinic_a)
    assert response.status_code == 303
    with in_tenant(clinic_a):
        p = Patient.objects.get()
        assert p.record_number == "P000001" and [a.substance for a in p.allergies] == ["penicillin", "latex"]
        assert p.phone_digits == "15550102000" and p.last_name_lc == "lopez"
        assert AuditEvent.objects(action="patient.create", target_id=p.pk).count() == 1
    page = client.get(response.headers["Location"], tenant=clinic_a)
    assert b'id="patient-alerts"' in page.data and b"penicillin, latex" in page.data


@pytest.mark.parametrize("field,value,message", [
    ("first_name", "", b"Enter the first name."),
    ("last_name", "x" * 81, b"Use at most 80 characters."),
    ("date_of_birth", "2999-01-01", b"cannot be in the future"),
    ("date_of_birth", "1800-01-01", b"more than 130 years"),
    ("date_of_birth", "12/31/1990", b"Enter the date of birth as a full date: day, month and year."),
    ("phone", "call me", b"at least 6 digits"),
    ("email", "not-an-email", b"Enter a valid email address."),
    ("sex", "robot", b"Choose one from the list."),
])
def test_bad_input_is_refused_beside_the_field_and_nothing_is_saved(client, clinic_a, reception, in_tenant,
                                                                     field, value, message):
    response = _new(client, clinic_a, **{field: value})
    assert response.status_code == 422 and message in response.data
    with in_tenant(clinic_a):
        assert Patient.objects.count() == 0


def test_htmx_form_errors_are_a_422_fragment(client, clinic_a, reception):
    response = client.post("/patients/new", data={"first_name": ""}, headers={"HX-Request": "true"},
                           tenant=clinic_a)
    assert response.status_code == 422 and b"<html" not in response.data
    assert b"Enter the first name." in response.data and "HX-Request" in response.headers["Vary"]


def test_likely_duplicates_warn_before_creating(client, clinic_a, reception, in_tenant):
    _new(client, clinic_a)
    same_person = _new(client, clinic_a, phone="", email="")
    assert same_person.status_code == 422 and b'id="duplicate-warning"' in same_person.data
    same_phone = _new(client, clinic_a, first_name="Ana", last_name="Diaz", date_of_birth="", email="",
                      phone="+1 555 010 2000")
    assert b'id="duplicate-warning"' in same_phone.data
    with in_tenant(clinic_a):
        assert Patient.objects.count() == 1
    forced = _new(client, clinic_a, phone="", email="", confirm_duplicate="y")
    assert forced.status_code == 303
    with in_tenant(clinic_a):
        assert Patient.objects.count() == 2
        assert sorted(Patient.objects.distinct("record_number")) == ["P000001", "P000002"]


def _seed(in_tenant, clinic, rows):
    with in_tenant(clinic):
        for first, last, dob, phone in rows:
            svc.create_patient({"first_name": first, "last_name": last, "date_of_birth": dob, "phone": phone,
                                "allergies": []})


def test_search_by_name_phone_birth_date_and_record_number(app, client, clinic_a, reception, in_tenant):
    _seed(in_tenant, clinic_a, [("Maria", "Lopez", date(1985, 4, 12), "555-0100"),
                                ("Mario", "Rossi", date(1970, 1, 2), "555-0200"),
                                ("Anna", "Marsh", None, "777-1234")])
    def names(q):
        html = client.get(f"/patients/?q={q}", tenant=clinic_a).get_data(as_text=True)
        return sorted(n for n in ("Lopez", "Rossi", "Marsh") if f">{n}," in html)
    assert names("mar") == ["Lopez", "Marsh", "Rossi"]  # first or last name prefix, any case
    assert names("MARIA") == ["Lopez"]
    assert names("maria lop") == ["Lopez"]
    assert names("lopez, mar") == ["Lopez"]
    assert names("rossi,") == ["Rossi"]
    assert names("5550200") == ["Rossi"]
    assert names("1970-01-02") == ["Rossi"]
    assert names("P000003") == ["Marsh"]
    assert names("p3") == ["Marsh"]
    assert names("zzz") == []


def test_search_fragment_swaps_only_the_rows_and_pages(client, clinic_a, reception, in_tenant):
    _seed(in_tenant, clinic_a, [(f"Pat{i:02d}", "Smith", None, None) for i in range(30)])
    fragment = client.get("/patients/?q=smith", headers={"HX-Request": "true"}, tenant=clinic_a)
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in body and 'id="patient-results"' in body
    assert "<span>Page 1</span>" in body and 'rel="next"' in body and "HX-Request" in fragment.headers["Vary"]
    full = client.get("/patients/?q=smith&page=2", tenant=clinic_a).get_data(as_text=True)
    assert "<html" in full and "<span>Page 2</span>" in full and full.count('data-patient="') == 5
    assert 'rel="next"' not in full and 'data-total="30"' in full


def test_edit_records_changed_fields_in_the_audit_trail(client, clinic_a, reception, in_tenant):
    _new(client, clinic_a)
    with in_tenant(clinic_a):
        p = Patient.objects.get()
    response = client.post(f"/patients/{p.pk}/edit", data={"first_name": "Maria", "last_name": "López",
                           "date_of_birth": "1985-04-12", "sex": "female", "phone": "555 999 0000",
                           "email": "maria@example.org", "allergies": "penicillin"}, tenant=clinic_a)
    assert response.status_code == 303
    with in_tenant(clinic_a):
        p.reload()
        assert p.last_name == "López" and [a.substance for a in p.allergies] == ["penicillin"]
        event = AuditEvent.objects.get(action="patient.update")
        assert set(event.changes) == {"last_name", "phone", "allergies"}
        assert event.changes["last_name"] == {"old": "Lopez", "new": "López"}


def test_archive_hides_and_restore_brings_back(client, clinic_a, login_as, in_tenant):
    login_as(clinic_a, "Admin")
    _new(client, clinic_a)
    with in_tenant(clinic_a):
        p = Patient.objects.get()
    assert client.post(f"/patients/{p.pk}/archive", tenant=clinic_a).status_code == 303
    assert b'data-patient="P000001"' not in client.get("/patients/", tenant=clinic_a).data
    assert b'data-patient="P000001"' in client.get("/patients/?archived=1", tenant=clinic_a).data
    assert client.post(f"/patients/{p.pk}/restore", tenant=clinic_a).status_code == 303
    with in_tenant(clinic_a):
        assert Patient.objects.get().active is True
        assert AuditEvent.objects(action__in=["patient.archive", "patient.restore"]).count() == 2


def test_viewing_a_patient_is_audited(client, clinic_a, reception, in_tenant):
    _new(client, clinic_a)
    with in_tenant(clinic_a):
        p = Patient.objects.get()
    client.get(f"/patients/{p.pk}", tenant=clinic_a)
    with in_tenant(clinic_a):
        event = AuditEvent.objects.get(action="patient.view")
        assert event.target_id == p.pk and "Receptionist" in event.actor


def test_another_clinics_patient_is_404_and_unchanged(client, clinic_a, clinic_b, login_as, in_tenant):
    with in_tenant(clinic_b):
        other = svc.create_patient({"first_name": "Bea", "last_name": "Other", "allergies": []})
    login_as(clinic_a, "Admin")
    for method, path in [("GET", f"/patients/{other.pk}"), ("GET", f"/patients/{other.pk}/edit"),
                         ("GET", f"/patients/{other.pk}/timeline"),
                         ("POST", f"/patients/{other.pk}/edit"), ("POST", f"/patients/{other.pk}/archive"),
                         ("POST", f"/patients/{other.pk}/restore"), ("GET", "/patients/not-an-id")]:
        response = client.open(path, method=method, data={"first_name": "Hacked", "last_name": "X"},
                               tenant=clinic_a)
        assert response.status_code == 404, (method, path)
    with in_tenant(clinic_b):
        fresh = Patient.objects.get(pk=other.pk)
        assert fresh.first_name == "Bea" and fresh.active
    assert b"Other" not in client.get("/patients/?q=other", tenant=clinic_a).data


def test_medical_rep_cannot_see_patients(client, clinic_a, login_as):
    login_as(clinic_a, "Medical Representative")
    assert client.get("/patients/", tenant=clinic_a).status_code == 403
    assert client.post("/patients/new", data={"first_name": "A", "last_name": "B"}, tenant=clinic_a).status_code == 403


def test_timeline_pages_through_hundreds_of_visits(app, client, clinic_a, reception, in_tenant, frozen_clock):
    from clinic_app.models import User, Visit

    with in_tenant(clinic_a):
        p = svc.create_patient({"first_name": "Long", "last_name": "History", "allergies": []})
        doctor = User.objects.get(email="admin@clinica.test")
        Visit.objects.insert([Visit(patient=p, provider=doctor, started_at=frozen_clock.now() - timedelta(days=i),
                                    diagnosis=f"visit {i}") for i in range(250)])
    first = client.get(f"/patients/{p.pk}/timeline", headers={"HX-Request": "true"}, tenant=clinic_a)
    body = first.get_data(as_text=True)
    assert body.count('data-kind="visit"') == 20 and "visit 0<" in body.replace(" <", "<")
    assert 'hx-trigger="revealed"' in body
    seen, url = 20, body.split('hx-get="')[-1].split('"')[0].replace("&amp;", "&").replace("&#43;", "+")
    while url:
        body = client.get(url, headers={"HX-Request": "true"}, tenant=clinic_a).get_data(as_text=True)
        seen += body.count('data-kind="visit"')
        url = body.split('hx-get="')[-1].split('"')[0].replace("&amp;", "&").replace("&#43;", "+") \
            if 'hx-trigger="revealed"' in body else None
    assert seen == 250


def test_history_link_works_without_javascript(client, clinic_a, reception, in_tenant, frozen_clock):
    from clinic_app.models import User, Visit

    with in_tenant(clinic_a):
        p = svc.create_patient({"first_name": "No", "last_name": "Script", "allergies": []})
        Visit(patient=p, provider=User.objects.get(email="admin@clinica.test"), diagnosis="sprained ankle").save()
    page = client.get(f"/patients/{p.pk}/timeline", tenant=clinic_a).get_data(as_text=True)
    assert "<html" in page and 'data-kind="visit"' in page and "sprained ankle" in page
