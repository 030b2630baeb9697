"""List pages cost the same number of queries with 2 rows or 12 (references are prefetched)."""
from datetime import timedelta

from clinic_app.models import Appointment, User, Visit
from clinic_app.services import patients as patient_svc
from tests.support import CountQueries, make_user


def _reads(app, client, clinic, path, **kw):
    with CountQueries(app) as q:
        assert client.get(path, tenant=clinic, **kw).status_code == 200
    return q.reads


def test_staff_list(app, client, clinic_a, login_as, in_tenant):
    login_as(clinic_a, "Admin")
    with in_tenant(clinic_a):
        make_user("Nurse", email="n0@clinica.test")
    few = _reads(app, client, clinic_a, "/staff/")
    with in_tenant(clinic_a):
        for i, role in enumerate(["Doctor", "Nurse", "Receptionist", "Accountant"] * 3):
            make_user(role, email=f"s{i}@clinica.test")
    assert _reads(app, client, clinic_a, "/staff/") == few


def test_visit_list_and_patient_timeline(app, client, clinic_a, login_as, in_tenant, frozen_clock):
    login_as(clinic_a, "Admin")

    def add(n):
        with in_tenant(clinic_a):
            admin = User.objects.get(email="admin@clinica.test")
            for i in range(n):
                p = patient_svc.create_patient({"first_name": f"P{i}{n}", "last_name": "Row", "allergies": []})
                doctor = make_user("Doctor", email=f"d{i}-{n}@clinica.test")
                Visit(patient=p, provider=doctor, started_at=frozen_clock.now() - timedelta(hours=i)).save()
                Appointment(patient=patients[0] if patients else p, doctor=doctor or admin,
                            start=frozen_clock.now() - timedelta(days=1, hours=i),
                            end=frozen_clock.now() - timedelta(days=1, hours=i) + timedelta(minutes=15)).save()
                Visit(patient=patients[0] if patients else p, provider=doctor,
                      started_at=frozen_clock.now() - timedelta(days=2, hours=i)).save()
                patients.append(p)

    patients = []
    add(2)
    first = patients[0]
    few_list = _reads(app, client, clinic_a, "/visits/")
    few_timeline = _reads(app, client, clinic_a, f"/patients/{first.pk}/timeline", headers={"HX-Request": "true"})
    add(10)
    assert _reads(app, client, clinic_a, "/visits/") == few_list
    assert _reads(app, client, clinic_a, f"/patients/{first.pk}/timeline",
                  headers={"HX-Request": "true"}) == few_timeline
