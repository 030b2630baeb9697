"""Dashboard: today's appointments by status and the doctor's own next patients."""
from datetime import timedelta

from clinic_app.models import Appointment, Patient, User
from clinic_app.services import patients as patient_svc


def _book(in_tenant, clinic, doctor_email, start, status="scheduled", first="Maria"):
    with in_tenant(clinic):
        patient = Patient.objects(first_name=first).first() or patient_svc.create_patient(
            {"first_name": first, "last_name": "Lopez", "allergies": ["latex"]})
        doctor = User.objects.get(email=doctor_email)
        return Appointment(patient=patient, doctor=doctor, start=start, end=start + timedelta(minutes=30),
                           status=status).save()


def test_doctor_sees_todays_counts_and_own_next_patients(client, clinic_a, clinic_b, login_as, in_tenant,
                                                         frozen_clock):
    doctor = login_as(clinic_a, "Doctor", email="doc@clinica.test")
    now = frozen_clock.now()
    _book(in_tenant, clinic_a, "doc@clinica.test", now + timedelta(hours=1))
    _book(in_tenant, clinic_a, "doc@clinica.test", now + timedelta(hours=2), status="checked_in", first="Ana")
    _book(in_tenant, clinic_a, "admin@clinica.test", now + timedelta(hours=3), first="Zed")  # another doctor's
    _book(in_tenant, clinic_a, "doc@clinica.test", now - timedelta(hours=1), status="completed", first="Old")
    _book(in_tenant, clinic_b, "admin@clinicb.test", now + timedelta(hours=1), first="Other")  # another clinic
    html = client.get("/", tenant=clinic_a).get_data(as_text=True)
    assert '<li data-status="scheduled"><strong>2</strong>' in html
    assert '<li data-status="checked_in"><strong>1</strong>' in html
    assert '<li data-status="completed"><strong>1</strong>' in html
    mine = html.split('id="my-next"')[1]
    assert "Maria Lopez" in mine and "Ana Lopez" in mine
    assert "Zed" not in mine and "Old" not in mine and "Other" not in html
    assert doctor.name in html


def test_medical_rep_dashboard_has_no_appointments(client, clinic_a, login_as):
    login_as(clinic_a, "Medical Representative")
    response = client.get("/", tenant=clinic_a)
    assert response.status_code == 200 and b'id="today"' not in response.data


def test_dashboard_requires_sign_in(client, clinic_a):
    response = client.get("/", tenant=clinic_a)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
