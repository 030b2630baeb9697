"""List pages cost the same number of queries with 2 rows or 12 (references are prefetched)."""
from datetime import timedelta

from clinic_app.models import Appointment, User, Visit
from clinic_app.services import patients as patient_svc
from tests.support import CountQueries, api_auth, make_user


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


def test_api_appointment_list_costs_the_same_for_10_rows_or_100(app, client, clinic_a, in_tenant, frozen_clock):
    """Each row's patient and doctor come from one query per kind (prefetch), not two reads per row."""
    from clinic_app.models import Patient

    with in_tenant(clinic_a):
        admin = User.objects.get(email="admin@clinica.test")
    auth = api_auth(in_tenant, clinic_a)
    start = frozen_clock.now() + timedelta(days=1)

    def add(n, offset):
        with in_tenant(clinic_a):
            doctors = User.objects.insert([User(email=f"d{offset + i}@clinica.test", name=f"Doctor {offset + i}",
                                                role=admin.role, status="active") for i in range(n)])
            patients = Patient.objects.insert([Patient(record_number=f"P{offset + i:06d}", first_name="Pat",
                                                       last_name=f"Row{offset + i}", allergies=[]) for i in range(n)])
            Appointment.objects.insert([
                Appointment(patient=p, doctor=d, start=start + timedelta(minutes=offset + i),
                            end=start + timedelta(minutes=offset + i + 15)) for i, (p, d) in enumerate(zip(patients,
                                                                                                          doctors))])

    def commands():
        with CountQueries(app) as q:
            response = client.get(f"/api/v1/appointments?from={start.date()}&to={start.date()}&per_page=100",
                                  headers=auth, tenant=clinic_a)
            assert response.status_code == 200
        return len(response.json["data"]), q.reads, len(q.names)

    add(10, 0)
    commands()  # the token's first use records when it was used (a write); measure the steady state
    rows, few_reads, few_all = commands()
    assert rows == 10
    add(90, 10)
    rows, many_reads, many_all = commands()
    assert rows == 100 and many_reads == few_reads and many_all == few_all
