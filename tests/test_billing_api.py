"""Billing JSON API: create a draft from a visit, finalise (409 the second time), pay, credit, reports;
strict bodies, permissions and other clinics' ids."""
import pytest

from clinic_app.models import Invoice
from clinic_app.services.pharmacy import dispensing
from tests import billing_factories as f
from tests import pharmacy_factories as pf
from tests.support import api_auth, make_user


@pytest.fixture
def visit(clinic_a, in_tenant):
    with in_tenant(clinic_a):
        doctor = make_user("Doctor", name="Dr Who")
        f.price_item("CONS", "Consultation", 5000, 0)
        p = f.patient()
        v = f.visit(p, doctor)
        med = pf.medicine(price=300)
        pf.batch(med, "L1", 10, user=doctor)
        dispensing.dispense(pf.prescription(v, doctor, pf.row(med, quantity=2)), 0, 2, doctor)
        return v


def test_bill_a_visit_finalise_pay_and_credit_through_the_api(client, clinic_a, in_tenant, visit, frozen_clock):
    desk = api_auth(in_tenant, clinic_a, "Receptionist")
    made = client.post("/api/v1/invoices", json={"visit_id": str(visit.pk), "lines": [
        {"description": "Dressing", "quantity": 1, "unit_price": 1000, "discount_kind": "percent",
         "discount_value": 1000}]}, headers=desk, tenant=clinic_a)
    assert made.status_code == 201, made.json
    inv = made.json["data"]
    assert inv["status"] == "draft" and inv["number"] is None and inv["total"] == 5000 + 600 + 900
    assert [ln["source"] for ln in inv["lines"]][:1] == [f"visit_service:{visit.pk}"]
    again = client.post("/api/v1/invoices", json={"visit_id": str(visit.pk)}, headers=desk, tenant=clinic_a)
    assert again.status_code == 409  # nothing left to bill on the visit
    done = client.post(f"/api/v1/invoices/{inv['id']}/finalise", headers=desk, tenant=clinic_a)
    assert done.status_code == 200 and done.json["data"]["number"] == "INV-2026-000001"
    twice = client.post(f"/api/v1/invoices/{inv['id']}/finalise", headers=desk, tenant=clinic_a)
    assert twice.status_code == 409 and "finalised" in twice.json["error"]["message"]
    paid = client.post(f"/api/v1/invoices/{inv['id']}/payments", json={"amount": 3000, "method": "cash"},
                       headers=desk, tenant=clinic_a)
    assert paid.status_code == 201 and paid.json["data"]["invoice"]["status"] == "partly_paid"
    assert client.post(f"/api/v1/invoices/{inv['id']}/credit-notes", json={"reason": "x"}, headers=desk,
                       tenant=clinic_a).status_code == 403  # a receptionist does not correct invoices
    acc = api_auth(in_tenant, clinic_a, "Accountant")
    credit = client.post(f"/api/v1/invoices/{inv['id']}/credit-notes", json={"reason": "Dressing not done",
                         "lines": [{"line": 3, "quantity": 1}]}, headers=acc, tenant=clinic_a)
    assert credit.status_code == 201, credit.json
    assert credit.json["data"]["credit_note"]["number"] == "CN-2026-000001"
    got = client.get(f"/api/v1/invoices/{inv['id']}", headers=acc, tenant=clinic_a).json["data"]
    assert (got["total"], got["paid"], got["credited"], got["balance"]) == (6500, 3000, 900, 2600)
    assert [p["amount"] for p in got["payments"]] == [3000] and got["taxes"][0]["rate"] == 0
    listed = client.get("/api/v1/invoices?status=partly_paid", headers=acc, tenant=clinic_a).json
    assert [i["number"] for i in listed["data"]] == ["INV-2026-000001"] and listed["meta"]["has_next"] is False
    day = client.get("/api/v1/reports/day_end?from=2026-03-02&to=2026-03-02", headers=acc, tenant=clinic_a)
    assert day.status_code == 200
    assert day.json["data"]["options"]["summary"]["received"] == 3000
    revenue = client.get("/api/v1/reports/revenue?from=2026-03-02&to=2026-03-02", headers=acc,
                         tenant=clinic_a).json["data"]
    assert revenue["totals"]["invoiced"] == 6500 and revenue["totals"]["credit_notes"] == 900
    assert client.get("/api/v1/reports/revenue", headers=desk, tenant=clinic_a).status_code == 403


@pytest.mark.parametrize("payload,field", [
    ({"visit_id": "x"}, "visit_id"),
    ({"patient_id": {"$ne": None}}, "patient_id"),
    ({}, "body"),
    ({"patient_id": "0" * 24, "lines": [{"quantity": 1}]}, "lines.0"),
    ({"patient_id": "0" * 24, "lines": [{"description": "x", "unit_price": -1}]}, "lines.0.unit_price"),
    ({"patient_id": "0" * 24, "surprise": 1}, "surprise"),
])
def test_bad_bodies_are_400_with_the_field(client, clinic_a, in_tenant, payload, field):
    desk = api_auth(in_tenant, clinic_a, "Receptionist")
    response = client.post("/api/v1/invoices", json=payload, headers=desk, tenant=clinic_a)
    assert response.status_code == 400, response.json
    assert any(k.startswith(field) for k in response.json["error"]["fields"]), response.json


def test_payment_bodies_are_strict(client, clinic_a, in_tenant, frozen_clock):
    with in_tenant(clinic_a):
        inv = f.issued()
    desk = api_auth(in_tenant, clinic_a, "Receptionist")
    for bad in ({"amount": "10", "method": "cash"}, {"amount": 0, "method": "cash"}, {"amount": 5, "method": "gold"},
                {"amount": 5.5, "method": "cash"}):
        assert client.post(f"/api/v1/invoices/{inv.pk}/payments", json=bad, headers=desk,
                           tenant=clinic_a).status_code == 400


def test_other_clinics_invoices_are_404_and_unchanged(client, clinic_a, clinic_b, in_tenant, frozen_clock):
    with in_tenant(clinic_b):
        theirs = f.issued()
        their_patient = f.patient("B", "Only")
    acc = api_auth(in_tenant, clinic_a, "Accountant")
    for method, path, payload in [
        ("get", f"/api/v1/invoices/{theirs.pk}", None),
        ("post", f"/api/v1/invoices/{theirs.pk}/finalise", None),
        ("post", f"/api/v1/invoices/{theirs.pk}/payments", {"amount": 100, "method": "cash"}),
        ("post", f"/api/v1/invoices/{theirs.pk}/credit-notes", {"reason": "x"}),
        ("post", "/api/v1/invoices", {"patient_id": str(their_patient.pk)}),
        ("get", f"/api/v1/invoices?patient_id={their_patient.pk}", None),
    ]:
        response = getattr(client, method)(path, json=payload, headers=acc, tenant=clinic_a)
        assert response.status_code == 404, (path, response.status_code)
    with in_tenant(clinic_b):
        assert Invoice.objects.get(pk=theirs.pk).paid == 0
    with in_tenant(clinic_a):
        assert Invoice.objects.count() == 0


def test_unknown_report_is_404_in_the_envelope(client, clinic_a, in_tenant):
    acc = api_auth(in_tenant, clinic_a, "Accountant")
    response = client.get("/api/v1/reports/nope", headers=acc, tenant=clinic_a)
    assert response.status_code == 404 and response.json["success"] is False
