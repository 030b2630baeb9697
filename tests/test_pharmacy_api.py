"""Pharmacy JSON API: medicines, prescriptions (list/get/create with the allergy override), dispense,
stock; strict bodies, permissions and other clinics' ids."""
import pytest

from clinic_app.models import AuditEvent, Prescription, Role, StockBatch
from clinic_app.services.api_tokens import create_token

from . import pharmacy_factories as f
from .support import api_auth, make_user, stored, unchanged


@pytest.fixture
def world(clinic_a, in_tenant):
    with in_tenant(clinic_a):
        doctor = make_user("Doctor")
        amox = f.medicine()
        f.batch(amox, "AMX-1", 10, 40)
        f.batch(amox, "AMX-2", 50, 400)
        p = f.patient(allergies=["penicillin"])
        return {"doctor": doctor, "amox": amox, "patient": p, "visit": f.visit(p, doctor)}


def test_create_a_prescription_override_the_allergy_and_dispense(client, clinic_a, in_tenant, world):
    doc = api_auth(in_tenant, clinic_a, "Doctor")
    payload = {"visit_id": str(world["visit"].pk), "lines": [
        {"medicine_id": str(world["amox"].pk), "dose": 1, "dose_unit": "capsule", "route": "by mouth",
         "frequency": "TDS", "duration_days": 5}]}
    warned = client.post("/api/v1/prescriptions", json=payload, headers=doc, tenant=clinic_a)
    assert warned.status_code == 409 and "penicillins" in warned.json["error"]["fields"]["lines.1.allergy"]
    made = client.post("/api/v1/prescriptions", json={**payload, "allergy_overrides": {"1": "tolerated"}},
                       headers=doc, tenant=clinic_a)
    assert made.status_code == 201, made.json
    rx = made.json["data"]
    assert rx["status"] == "issued" and rx["lines"][0]["quantity"] == 15
    assert rx["lines"][0]["directions"] == "Take 1 capsule by mouth three times a day for 5 days."
    nurse = api_auth(in_tenant, clinic_a, "Nurse")
    assert client.post("/api/v1/prescriptions", json=payload, headers=nurse, tenant=clinic_a).status_code == 403
    out = client.post(f"/api/v1/prescriptions/{rx['id']}/dispense", json={"line": 1, "quantity": 12},
                      headers=nurse, tenant=clinic_a)
    assert out.status_code == 201, out.json
    assert out.json["data"]["lots"] == [{"lot": "AMX-1", "quantity": 10}, {"lot": "AMX-2", "quantity": 2}]
    assert sorted(m["quantity"] for m in out.json["data"]["movements"]) == [-10, -2]
    over = client.post(f"/api/v1/prescriptions/{rx['id']}/dispense", json={"line": 1, "quantity": 4},
                       headers=nurse, tenant=clinic_a)
    assert over.status_code == 422 and over.json["success"] is False
    got = client.get(f"/api/v1/prescriptions/{rx['id']}", headers=nurse, tenant=clinic_a).json["data"]
    assert got["status"] == "partly_dispensed" and got["lines"][0]["dispensed"] == 12
    listed = client.get(f"/api/v1/prescriptions?patient_id={world['patient'].pk}&status=partly_dispensed",
                        headers=nurse, tenant=clinic_a).json
    assert [p["id"] for p in listed["data"]] == [rx["id"]]


def test_medicines_and_stock(client, clinic_a, in_tenant, world):
    auth = api_auth(in_tenant, clinic_a, "Accountant")
    meds = client.get("/api/v1/medicines?q=amox", headers=auth, tenant=clinic_a).json
    assert meds["data"][0]["usable_on_hand"] == 60 and meds["data"][0]["sale_price"] == 25
    stock = client.get("/api/v1/stock?filter=expiring", headers=auth, tenant=clinic_a).json["data"]
    assert [b["lot"] for b in stock] == ["AMX-1"]
    assert client.get("/api/v1/stock?filter=nope", headers=auth, tenant=clinic_a).status_code == 400
    receptionist = api_auth(in_tenant, clinic_a, "Receptionist")
    assert client.get("/api/v1/stock", headers=receptionist, tenant=clinic_a).status_code == 403
    assert client.get("/api/v1/medicines", headers=receptionist, tenant=clinic_a).status_code == 403


@pytest.mark.parametrize("body,field", [
    ({"line": "1", "quantity": 1}, "line"),
    ({"line": 1, "quantity": {"$gt": 0}}, "quantity"),
    ({"line": 1, "quantity": 1, "batch": "x"}, "batch"),
    ({"line": 1, "quantity": 0}, "quantity"),
])
def test_dispense_bodies_are_strict(client, clinic_a, in_tenant, world, body, field):
    with in_tenant(clinic_a):
        rx = f.prescription(world["visit"], world["doctor"], f.row(world["amox"], quantity=5), overrides={0: "ok"})
    auth = api_auth(in_tenant, clinic_a, "Nurse")
    r = client.post(f"/api/v1/prescriptions/{rx.pk}/dispense", json=body, headers=auth, tenant=clinic_a)
    assert r.status_code == 400 and field in r.json["error"]["fields"]
    with in_tenant(clinic_a):
        assert StockBatch.objects.get(lot="AMX-1").on_hand == 10


def test_other_clinics_ids_are_404_and_nothing_changes(client, clinic_a, clinic_b, in_tenant, world):
    with in_tenant(clinic_a):
        rx = f.prescription(world["visit"], world["doctor"], f.row(world["amox"], quantity=5), overrides={0: "ok"})
    auth = api_auth(in_tenant, clinic_b, "Admin")
    for path in (f"/api/v1/medicines/{world['amox'].pk}", f"/api/v1/prescriptions/{rx.pk}",
                 f"/api/v1/prescriptions?patient_id={world['patient'].pk}"):
        r = client.get(path, headers=auth, tenant=clinic_b)
        assert r.status_code == 404 and r.json["success"] is False, path
    r = client.post(f"/api/v1/prescriptions/{rx.pk}/dispense", json={"line": 1, "quantity": 1}, headers=auth,
                    tenant=clinic_b)
    assert r.status_code == 404
    r = client.post("/api/v1/prescriptions", json={"visit_id": str(world["visit"].pk), "lines": [
        {"free_text": "x", "quantity": 1}]}, headers=auth, tenant=clinic_b)
    assert r.status_code == 404
    assert client.get("/api/v1/medicines", headers=auth, tenant=clinic_b).json["data"] == []
    with in_tenant(clinic_a):
        assert Prescription.objects.get(pk=rx.pk).lines[0].dispensed == 0 and Prescription.objects.count() == 1
        assert StockBatch.objects.get(lot="AMX-1").on_hand == 10


def _draft(world, *rows):
    return f.prescription(world["visit"], world["doctor"], *(rows or (f.row(world["amox"], quantity=5),)),
                          overrides={0: "tolerated"}, issue=False)


def _line(world, **kw):
    return {"medicine_id": str(world["amox"].pk), "dose": 1, "dose_unit": "capsule", "route": "by mouth",
            "frequency": "BD", "duration_days": 3, **kw}


def test_a_draft_is_edited_then_issued_then_cancelled(client, clinic_a, in_tenant, world):
    with in_tenant(clinic_a):
        rx = _draft(world)
    admin = api_auth(in_tenant, clinic_a, "Admin")  # acts as the Admin who created the token: may edit any draft
    path = f"/api/v1/prescriptions/{rx.pk}"
    warned = client.put(path, json={"lines": [_line(world)]}, headers=admin, tenant=clinic_a)
    assert warned.status_code == 409 and "lines.1.allergy" in warned.json["error"]["fields"]
    saved = client.put(path, json={"lines": [_line(world)], "allergy_overrides": {"1": "tolerated"}},
                       headers=admin, tenant=clinic_a)
    assert saved.status_code == 200, saved.json
    assert saved.json["data"]["status"] == "draft" and saved.json["data"]["lines"][0]["quantity"] == 6
    issued = client.post(f"{path}/issue", headers=admin, tenant=clinic_a)
    assert issued.status_code == 200 and issued.json["data"]["status"] == "issued"
    again = client.put(path, json={"lines": [_line(world)], "allergy_overrides": {"1": "tolerated"}},
                       headers=admin, tenant=clinic_a)
    assert again.status_code == 409 and again.json["success"] is False  # an issued prescription never changes
    assert client.post(f"{path}/issue", headers=admin, tenant=clinic_a).status_code == 409
    assert client.post(f"{path}/cancel", json={"reason": " "}, headers=admin, tenant=clinic_a).status_code == 400
    cancelled = client.post(f"{path}/cancel", json={"reason": "Wrong patient"}, headers=admin, tenant=clinic_a)
    assert cancelled.status_code == 200 and cancelled.json["data"]["status"] == "cancelled"
    with in_tenant(clinic_a):
        kept = Prescription.objects.get(pk=rx.pk)
        assert kept.cancel_reason == "Wrong patient" and kept.lines[0].quantity == 6
        assert AuditEvent.objects(action="prescription.update", target_id=rx.pk).count() == 1


def test_only_the_prescriber_or_an_admin_edits_a_draft_and_a_nurse_never(client, clinic_a, in_tenant, world):
    with in_tenant(clinic_a):
        rx = _draft(world)
        other = make_user("Doctor", email="other.doctor@example.test")
        _, secret = create_token("other doctor", Role.objects.get(name="Doctor"), other)
    path = f"/api/v1/prescriptions/{rx.pk}"
    body = {"lines": [_line(world)], "allergy_overrides": {"1": "tolerated"}}
    with unchanged(stored, in_tenant, clinic_a, Prescription):
        r = client.put(path, json=body, headers={"Authorization": f"Bearer {secret}"}, tenant=clinic_a)
        assert r.status_code == 403 and "prescriber" in r.json["error"]["message"]
        nurse = api_auth(in_tenant, clinic_a, "Nurse")
        for method, url, data in (("PUT", path, body), ("POST", f"{path}/issue", None),
                                  ("POST", f"{path}/cancel", {"reason": "x"})):
            assert client.open(url, method=method, json=data, headers=nurse, tenant=clinic_a).status_code == 403


@pytest.mark.parametrize("body,field", [
    ({"lines": []}, "lines"),
    ({"lines": [{"free_text": "x", "quantity": 1}], "visit_id": "0" * 24}, "visit_id"),
    ({"lines": [{"free_text": {"$ne": ""}, "quantity": 1}]}, "lines"),
    ({"lines": [{"free_text": "x", "quantity": 1}], "issue": "yes"}, "issue"),
])
def test_draft_bodies_are_strict(client, clinic_a, in_tenant, world, body, field):
    with in_tenant(clinic_a):
        rx = _draft(world)
    admin = api_auth(in_tenant, clinic_a, "Admin")
    with unchanged(stored, in_tenant, clinic_a, Prescription):
        r = client.put(f"/api/v1/prescriptions/{rx.pk}", json=body, headers=admin, tenant=clinic_a)
        assert r.status_code == 400 and any(k.startswith(field) for k in r.json["error"]["fields"]), r.json


def test_another_clinics_draft_is_404_to_edit_issue_and_cancel(client, clinic_a, clinic_b, in_tenant, world):
    with in_tenant(clinic_a):
        rx = _draft(world)
    auth = api_auth(in_tenant, clinic_b, "Admin")
    path = f"/api/v1/prescriptions/{rx.pk}"
    with unchanged(stored, in_tenant, clinic_a, Prescription):
        for method, url, data in (("PUT", path, {"lines": [{"free_text": "x", "quantity": 1}]}),
                                  ("POST", f"{path}/issue", None), ("POST", f"{path}/cancel", {"reason": "x"})):
            r = client.open(url, method=method, json=data, headers=auth, tenant=clinic_b)
            assert r.status_code == 404 and r.json["success"] is False, (method, url)
