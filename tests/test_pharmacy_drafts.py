"""Editing a draft prescription: its prescriber or an Admin, the same form and checks (allergy, duplicate
therapy), audited; an issued prescription never changes; a draft of a signed visit changes as an amendment;
issuing a draft checks allergies recorded since it was saved."""
import re

import pytest

from clinic_app.models import AuditEvent, Patient, Prescription, User, Visit
from clinic_app.services.pharmacy import prescribing

from . import pharmacy_factories as f
from .support import login, make_user


@pytest.fixture
def world(clinic_a, in_tenant):
    """A doctor's draft for a penicillin-allergic patient: paracetamol 1 tablet TDS for 5 days (15 tablets)."""
    with in_tenant(clinic_a):
        doctor = make_user("Doctor", email="doc@a.test")
        make_user("Doctor", email="other@a.test")
        amox = f.medicine()
        para = f.medicine("Paracetamol", "paracetamol", "tablet", "500 mg", price=5)
        p = f.patient(allergies=[{"substance": "Penicillin", "reaction": "hives", "severity": "severe"}])
        v = f.visit(p, doctor)
        draft = f.prescription(v, doctor, f.row(para), issue=False)
        return {"doctor": doctor, "amox": amox, "para": para, "patient": p, "visit": v, "draft": draft}


def _line(med, **kw):
    data = {"lines-0-medicine_id": str(med.pk), "lines-0-dose": "1", "lines-0-dose_unit": med.dispensing_unit,
            "lines-0-route": "by mouth", "lines-0-frequency": "TDS", "lines-0-duration_days": "5",
            "action": "draft"}
    return {**data, **{f"lines-0-{k}": v for k, v in kw.items()}}


def test_the_prescriber_edits_a_draft_the_quantity_is_worked_out_again_and_it_is_audited(
        client, clinic_a, in_tenant, world):
    login(client, clinic_a, "doc@a.test")
    draft = world["draft"]
    form = client.get(f"/prescriptions/{draft.pk}/edit", tenant=clinic_a).get_data(as_text=True)
    assert "Edit the draft prescription" in form
    assert re.search(r'<input[^>]*name="lines-0-dose"[^>]*value="1"', form)  # as written, not "1.0"
    # The quantity was worked out, so it is left blank to be worked out again from the new dose or days.
    assert re.search(r'<input[^>]*name="lines-0-quantity"[^>]*value=""', form)
    r = client.post(f"/prescriptions/{draft.pk}/edit", data=_line(world["para"], duration_days="7"), tenant=clinic_a)
    assert r.status_code == 303
    with in_tenant(clinic_a):
        rx = Prescription.objects.get(pk=draft.pk)
        assert rx.status == "draft" and rx.lines[0].duration_days == 7 and rx.lines[0].quantity == 21
        event = AuditEvent.objects.get(action="prescription.update")
        assert "15 tablets" in event.changes["lines"]["old"][0] and "21 tablets" in event.changes["lines"]["new"][0]
    r = client.post(f"/prescriptions/{draft.pk}/edit", data={**_line(world["para"]), "action": "issue"},
                    tenant=clinic_a)
    assert r.status_code == 303
    with in_tenant(clinic_a):
        rx = Prescription.objects.get(pk=draft.pk)
        assert rx.status == "issued" and rx.issued_at and rx.lines[0].quantity == 15


def test_an_edit_runs_the_allergy_check_and_a_reason_stays_with_its_medicine(client, clinic_a, in_tenant, world):
    login(client, clinic_a, "doc@a.test")
    draft, amox = world["draft"], world["amox"]
    warned = client.post(f"/prescriptions/{draft.pk}/edit", data=_line(amox), tenant=clinic_a)
    assert warned.status_code == 422 and "Allergy warning" in warned.get_data(as_text=True)
    # A reason written for another medicine on that line does not count.
    stale = client.post(f"/prescriptions/{draft.pk}/edit", data={
        **_line(amox), "override-0": "Tolerated", "override-for-0": str(world["para"].pk)}, tenant=clinic_a)
    assert stale.status_code == 422
    ok = client.post(f"/prescriptions/{draft.pk}/edit", data={
        **_line(amox), "override-0": "Tolerated", "override-for-0": str(amox.pk)}, tenant=clinic_a)
    assert ok.status_code == 303
    with in_tenant(clinic_a):
        rx = Prescription.objects.get(pk=draft.pk)
        assert rx.lines[0].medicine_id == amox.pk and rx.overrides[0].reason == "Tolerated"
        assert AuditEvent.objects(action="prescription.allergy_override").count() == 1
    # Opened again, the form shows the warning with the reason already given.
    again = client.get(f"/prescriptions/{draft.pk}/edit", tenant=clinic_a).get_data(as_text=True)
    assert 'id="allergy-warning"' in again and ">Tolerated</textarea>" in again


def test_duplicate_therapy_is_checked_on_edit_too(client, clinic_a, in_tenant, world):
    with in_tenant(clinic_a):
        f.prescription(world["visit"], world["doctor"], f.row(world["amox"]), overrides={0: "ok"})
    login(client, clinic_a, "doc@a.test")
    data = {**_line(world["amox"]), "override-0": "ok", "override-for-0": str(world["amox"].pk)}
    r = client.post(f"/prescriptions/{world['draft'].pk}/edit", data=data, tenant=clinic_a)
    assert r.status_code == 422 and "Duplicate therapy" in r.get_data(as_text=True)
    assert client.post(f"/prescriptions/{world['draft'].pk}/edit", data={**data, "confirm_duplicates": "y"},
                       tenant=clinic_a).status_code == 303


def test_another_doctor_may_not_edit_the_draft_but_an_admin_may(client, clinic_a, login_as, in_tenant, world):
    draft = world["draft"]
    login(client, clinic_a, "other@a.test")
    page = client.get(f"/prescriptions/{draft.pk}", tenant=clinic_a).get_data(as_text=True)
    assert "edit-prescription" not in page
    assert client.get(f"/prescriptions/{draft.pk}/edit", tenant=clinic_a).status_code == 403
    assert client.post(f"/prescriptions/{draft.pk}/edit", data=_line(world["amox"]), tenant=clinic_a).status_code == 403
    login_as(clinic_a, "Nurse", email="nurse@a.test")  # reads prescriptions, may not change them
    assert client.get(f"/prescriptions/{draft.pk}/edit", tenant=clinic_a).status_code == 403
    login_as(clinic_a, "Admin")
    assert 'id="edit-prescription"' in client.get(f"/prescriptions/{draft.pk}", tenant=clinic_a).get_data(as_text=True)
    assert client.post(f"/prescriptions/{draft.pk}/edit", data=_line(world["para"], duration_days="3"),
                       tenant=clinic_a).status_code == 303
    with in_tenant(clinic_a):
        assert Prescription.objects.get(pk=draft.pk).lines[0].quantity == 9
        assert Prescription.objects.get(pk=draft.pk).prescriber.email == "doc@a.test"  # still the doctor's


def test_an_issued_prescription_cannot_be_edited(client, clinic_a, in_tenant, world):
    with in_tenant(clinic_a):
        prescribing.issue(world["draft"])
    login(client, clinic_a, "doc@a.test")
    for r in (client.get(f"/prescriptions/{world['draft'].pk}/edit", tenant=clinic_a),
              client.post(f"/prescriptions/{world['draft'].pk}/edit", data=_line(world["para"], duration_days="9"),
                          tenant=clinic_a)):
        assert r.status_code == 303 and r.headers["Location"].endswith(f"/prescriptions/{world['draft'].pk}")
    with in_tenant(clinic_a):
        assert Prescription.objects.get(pk=world["draft"].pk).lines[0].duration_days == 5
        assert AuditEvent.objects(action="prescription.update").count() == 0


def test_an_edit_racing_the_issue_loses_and_changes_nothing(clinic_a, in_tenant, world):
    with in_tenant(clinic_a):
        stale = Prescription.objects.get(pk=world["draft"].pk)  # loaded as a draft ...
        prescribing.issue(Prescription.objects.get(pk=stale.pk))  # ... issued at another desk meanwhile
        stale.status = "draft"
        with pytest.raises(prescribing.Conflict):
            prescribing.update_draft(stale, [f.row(world["para"], duration=9)], world["doctor"])
        rx = Prescription.objects.get(pk=stale.pk)
        assert rx.status == "issued" and rx.lines[0].duration_days == 5


def test_a_draft_of_a_signed_visit_changes_only_as_an_amendment(client, clinic_a, in_tenant, world):
    with in_tenant(clinic_a):
        Visit.objects(pk=world["visit"].pk).update_one(set__status="signed", set__signed_by=world["doctor"])
    login(client, clinic_a, "doc@a.test")
    path = f"/prescriptions/{world['draft'].pk}/edit"
    refused = client.post(path, data=_line(world["para"], duration_days="7"), tenant=clinic_a)
    assert refused.status_code == 422 and 'id="amendment_reason-error"' in refused.get_data(as_text=True)
    ok = client.post(path, data={**_line(world["para"], duration_days="7"), "amendment_reason": "Longer course"},
                     tenant=clinic_a)
    assert ok.status_code == 303
    with in_tenant(clinic_a):
        visit = Visit.objects.get(pk=world["visit"].pk)
        change = visit.amendments[-1].changes["prescription"]
        assert visit.amendments[-1].reason == "Longer course" and "5 days" in change["old"] and "7 days" in change["new"]
        assert Prescription.objects.get(pk=world["draft"].pk).after_signing


def test_issuing_a_draft_checks_allergies_recorded_since_it_was_saved(client, clinic_a, in_tenant, world):
    with in_tenant(clinic_a):
        Patient.objects(pk=world["patient"].pk).update_one(push__allergies={"substance": "Paracetamol"})
    login(client, clinic_a, "doc@a.test")
    r = client.post(f"/prescriptions/{world['draft'].pk}/issue", tenant=clinic_a)
    assert r.status_code == 422 and "Recorded allergy to Paracetamol" in r.get_data(as_text=True)
    with in_tenant(clinic_a):
        assert Prescription.objects.get(pk=world["draft"].pk).status == "draft"


def test_editing_another_clinics_draft_is_404_and_changes_nothing(client, clinic_a, clinic_b, login_as, in_tenant,
                                                                  world):
    login_as(clinic_b, "Admin")
    path = f"/prescriptions/{world['draft'].pk}/edit"
    assert client.get(path, tenant=clinic_b).status_code == 404
    assert client.post(path, data=_line(world["para"], duration_days="9"), tenant=clinic_b).status_code == 404
    with in_tenant(clinic_a):
        assert Prescription.objects.get(pk=world["draft"].pk).lines[0].duration_days == 5
    with in_tenant(clinic_b):
        assert User.objects(email="doc@a.test").count() == 0
