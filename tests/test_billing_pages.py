"""The billing pages: a receptionist bills a visit end to end, an accountant corrects, an Admin
deletes a payment; the printable pages, the emailed receipt, the patient's account block."""
import re

import pytest

from clinic_app.models import AuditEvent, Invoice, Payment
from clinic_app.services.billing import invoices, payments
from tests import billing_factories as f
from tests.support import run_jobs

HX = {"HX-Request": "true"}


@pytest.fixture
def visit(clinic_a, in_tenant):
    with in_tenant(clinic_a):
        return f.billable_visit(consultation_tax=2000, address="1 Main St", phone="555-0100",
                                invoice_footer="Tax id 12-345\nBank: IBAN XX00 1234")


def _location(response):
    return response.headers.get("Location") or response.headers.get("HX-Redirect")


def test_receptionist_bills_a_visit_takes_two_payments_and_prints_the_receipt(client, clinic_a, login_as, in_tenant,
                                                                             visit, mail, app):
    login_as(clinic_a, "Receptionist")
    patient_id = visit._data["patient"].id
    page = client.get(f"/invoices/new?patient_id={patient_id}", tenant=clinic_a).get_data(as_text=True)
    assert "3 of 3 items" in page and f"/invoices/visits/{visit.pk}" in page
    page = client.get(f"/invoices/visits/{visit.pk}", tenant=clinic_a).get_data(as_text=True)
    keys = re.findall(r'name="source" value="([^"]+)"', page)
    assert len(keys) == 3 and keys[0] == f"visit_service:{visit.pk}"
    response = client.post(f"/invoices/visits/{visit.pk}", data={"source": keys}, tenant=clinic_a)
    assert response.status_code == 303
    invoice_path = _location(response)
    page = client.get(invoice_path, tenant=clinic_a).get_data(as_text=True)
    assert "Draft invoice" in page and "Consultation" in page and "VAT 20% on $50.00" in page
    # 50.00 + 10.00 VAT + 4 x 2.50 + potassium 6.00 (lab catalogue price)
    assert 'data-total="total">$76.00' in page
    response = client.post(f"{invoice_path}/finalise", tenant=clinic_a)
    assert response.status_code == 303
    page = client.get(invoice_path, tenant=clinic_a).get_data(as_text=True)
    assert "INV-2026-000001" in page and 'data-status="issued"' in page and 'id="finalise"' not in page
    # Immutable now: adding a line is refused (409) and nothing changes.
    response = client.post(f"{invoice_path}/lines", data={"description": "Extra", "quantity": "1",
                                                          "unit_price": "1.00", "tax_rate": "0"}, tenant=clinic_a)
    assert response.status_code == 409 and "finalised" in response.get_data(as_text=True)
    response = client.post(f"{invoice_path}/payments/new", data={"amount": "30.00", "method": "cash"}, tenant=clinic_a)
    assert response.status_code == 303
    response = client.post(f"{invoice_path}/payments/new", data={"amount": "46", "method": "card",
                                                                 "reference": "slip 7"}, tenant=clinic_a)
    assert response.status_code == 303
    page = client.get(invoice_path, tenant=clinic_a).get_data(as_text=True)
    assert 'data-status="paid"' in page and 'id="balance">$0.00' in page
    receipt = re.findall(r'href="(/invoices/payments/[0-9a-f]+/receipt)"', page)[-1]
    page = client.get(receipt, tenant=clinic_a).get_data(as_text=True)
    assert "RECEIPT" in page and "$46.00" in page and "1 Main St" in page and "Tax id 12-345" in page
    email = receipt.replace("/receipt", "/email")
    assert client.post(email, tenant=clinic_a).status_code == 303
    assert client.post(email, tenant=clinic_a).status_code == 303  # asked twice: one message
    run_jobs(app)
    sent = [m for m in mail() if m["To"] == "maria@example.test"]
    assert len(sent) == 1 and "Receipt from Clinic A: $46.00 (INV-2026-000001)" in sent[0]["Subject"]
    assert "Balance now:     $0.00" in sent[0].get_body(("plain",)).get_content()
    printed = client.get(f"{invoice_path}/print", tenant=clinic_a).get_data(as_text=True)
    assert "INV-2026-000001" in printed and "Maria Lopez" in printed and "Bank: IBAN" in printed


def test_hand_made_invoice_with_lines_discount_and_validation(client, clinic_a, login_as, in_tenant):
    login_as(clinic_a, "Accountant")
    with in_tenant(clinic_a):
        p = f.patient()
        item = f.price_item("DRS", "Dressing", 1200, 0, kind="procedure", default=False)
    response = client.post("/invoices/new", data={"patient_id": str(p.pk)}, tenant=clinic_a)
    path = _location(response)
    bad = client.post(f"{path}/lines", data={"quantity": "0", "unit_price": "1.234"}, tenant=clinic_a)
    body = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "Enter a whole number from 1" in body and "at most 2 decimal" in body
    ok = client.post(f"{path}/lines", data={"price_item_id": str(item.pk), "quantity": "2", "discount_kind": "percent",
                                            "discount_value": "10", "tax_rate": ""}, tenant=clinic_a)
    assert ok.status_code == 303
    with in_tenant(clinic_a):
        inv = Invoice.objects.get(patient=p)
        assert (inv.lines[0].description, inv.subtotal, inv.discount_total) == ("Dressing", 2160, 240)
    page = client.get(f"{path}/lines/0", tenant=clinic_a)
    assert page.status_code == 200 and 'value="12.00"' in page.get_data(as_text=True)
    assert client.post(f"{path}/lines/0", data={"description": "Dressing, large", "quantity": "3",
                                                "unit_price": "12.00", "discount_kind": "", "tax_rate": "0"},
                       tenant=clinic_a).status_code == 303
    with in_tenant(clinic_a):
        assert Invoice.objects.get(patient=p).total == 3600
    assert client.post(f"{path}/lines/0/remove", tenant=clinic_a).status_code == 303
    response = client.post(f"{path}/finalise", tenant=clinic_a)
    assert response.status_code == 422 and "at least one line" in response.get_data(as_text=True)
    assert client.post(f"{path}/delete", tenant=clinic_a).status_code == 303
    with in_tenant(clinic_a):
        assert Invoice.objects.count() == 0


def test_accountant_voids_and_credits_and_refunds(client, clinic_a, login_as, in_tenant, frozen_clock):
    login_as(clinic_a, "Accountant")
    with in_tenant(clinic_a):
        untouched = f.issued(None, None, f.line("X", 1, 1000))
        paid = f.issued(f.patient("Al", "Bo"), None, f.line("Y", 2, 1000))
        payment, _ = f.paid(paid, 2000)
    response = client.post(f"/invoices/{untouched.pk}/void", data={"reason": ""}, tenant=clinic_a)
    assert response.status_code == 422 and "Give the reason" in response.get_data(as_text=True)
    assert client.post(f"/invoices/{untouched.pk}/void", data={"reason": "Duplicate"},
                       tenant=clinic_a).status_code == 303
    page = client.get(f"/invoices/{untouched.pk}/print", tenant=clinic_a).get_data(as_text=True)
    assert "VOID — Duplicate" in page and "INV-2026-000001" in page
    response = client.post(f"/invoices/{paid.pk}/void", data={"reason": "No"}, tenant=clinic_a)
    assert response.status_code == 409 and "credit note" in response.get_data(as_text=True)
    response = client.post(f"/invoices/{paid.pk}/credit-note", data={"mode": "lines", "qty-1": "1",
                                                                      "reason": "One not done"}, tenant=clinic_a)
    assert response.status_code == 303
    page = client.get(f"/invoices/{paid.pk}", tenant=clinic_a).get_data(as_text=True)
    assert "CN-2026-000001" in page and "Due back to the patient" in page
    response = client.post(f"/invoices/{paid.pk}/refund", data={"payment_id": str(payment.pk), "amount": "10.00",
                                                                 "to": "method", "reason": "One not done"},
                           tenant=clinic_a)
    assert response.status_code == 303
    with in_tenant(clinic_a):
        inv = Invoice.objects.get(pk=paid.pk)
        assert (inv.balance, inv.paid, inv.credited, inv.status) == (0, 1000, 1000, "paid")
        note = client.get(f"/invoices/{paid.pk}", tenant=clinic_a).get_data(as_text=True)
        cn = re.search(r'href="(/invoices/credit-notes/[0-9a-f]+)"', note).group(1)
    assert "CREDIT NOTE" in client.get(cn, tenant=clinic_a).get_data(as_text=True)


def test_only_an_admin_sees_and_uses_delete_payment(client, clinic_a, login_as, in_tenant, frozen_clock):
    with in_tenant(clinic_a):
        payment, inv = f.paid(f.issued(), 500)
    login_as(clinic_a, "Accountant")
    page = client.get(f"/invoices/{inv.pk}", tenant=clinic_a).get_data(as_text=True)
    assert f"/invoices/payments/{payment.pk}/delete" not in page
    response = client.post(f"/invoices/payments/{payment.pk}/delete", data={"reason": "x"}, tenant=clinic_a)
    assert response.status_code == 403
    client.post("/logout", tenant=clinic_a)
    login_as(clinic_a, "Admin")
    page = client.get(f"/invoices/{inv.pk}", tenant=clinic_a).get_data(as_text=True)
    assert f"/invoices/payments/{payment.pk}/delete" in page
    assert client.post(f"/invoices/payments/{payment.pk}/delete", data={"reason": "Wrong invoice"},
                       tenant=clinic_a).status_code == 303
    with in_tenant(clinic_a):
        assert Payment.objects.get(pk=payment.pk).status == "deleted"
        assert AuditEvent.objects(action="payment.delete").count() == 1


def test_patient_page_shows_the_balance_and_the_timeline_shows_invoices_and_payments(client, clinic_a, login_as,
                                                                                    in_tenant, frozen_clock):
    login_as(clinic_a, "Receptionist")
    with in_tenant(clinic_a):
        p = f.patient()
        inv = f.issued(p, None, f.line("X", 1, 8000))
        f.paid(inv, 3000)
    fragment = client.get(f"/invoices/patients/{p.pk}/account", headers=HX, tenant=clinic_a)
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in body and "HX-Request" in fragment.headers["Vary"]
    assert 'id="patient-owes" data-amount="5000"' in body
    page = client.get(f"/patients/{p.pk}", tenant=clinic_a).get_data(as_text=True)
    assert f"/invoices/patients/{p.pk}/account" in page
    timeline = client.get(f"/patients/{p.pk}/timeline", headers=HX, tenant=clinic_a).get_data(as_text=True)
    assert 'data-kind="invoice"' in timeline and "INV-2026-000001" in timeline
    assert 'data-kind="payment"' in timeline and "$30.00" in timeline


def test_price_list_pages(client, clinic_a, login_as, in_tenant):
    login_as(clinic_a, "Accountant")
    response = client.post("/invoices/price-list/new", data={"code": "cons", "name": "Consultation", "kind":
                                                             "consultation", "price": "45.00", "tax_rate": "0",
                                                             "visit_default": "y"}, tenant=clinic_a)
    assert response.status_code == 303
    dup = client.post("/invoices/price-list/new", data={"code": "CONS", "name": "Other", "kind": "procedure",
                                                        "price": "1", "tax_rate": "0"}, tenant=clinic_a)
    assert dup.status_code == 422 and "already has this code" in dup.get_data(as_text=True)
    page = client.get("/invoices/price-list/", tenant=clinic_a).get_data(as_text=True)
    assert 'data-code="CONS"' in page and "$45.00" in page and "visit default" in page
    client.post("/logout", tenant=clinic_a)
    login_as(clinic_a, "Receptionist")
    assert client.get("/invoices/price-list/", tenant=clinic_a).status_code == 200
    assert client.get("/invoices/price-list/new", tenant=clinic_a).status_code == 403


def test_a_visit_line_keeps_quantity_and_price_on_the_edit_page(client, clinic_a, login_as, in_tenant, visit):
    login_as(clinic_a, "Receptionist")
    with in_tenant(clinic_a):
        inv = invoices.create_from_visit(visit, f.admin())
    page = client.get(f"/invoices/{inv.pk}/lines/1", tenant=clinic_a)
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "as recorded" in body and 'value="2.50"' in body
    response = client.post(f"/invoices/{inv.pk}/lines/1", data={"discount_kind": "amount", "discount_value": "1.00",
                                                                 "tax_rate": "0", "quantity": "99"}, tenant=clinic_a)
    assert response.status_code == 303
    with in_tenant(clinic_a):
        line = Invoice.objects.get(pk=inv.pk).lines[1]
        assert (line.quantity, line.unit_price, line.discount, line.net) == (4, 250, 100, 900)
    assert client.get(f"/invoices/{inv.pk}/lines/9", tenant=clinic_a).status_code == 404
    assert client.get(f"/invoices/{inv.pk}/lines/x", tenant=clinic_a).status_code == 404


def test_another_consultation_can_be_chosen_for_the_visit(client, clinic_a, login_as, in_tenant, visit):
    login_as(clinic_a, "Receptionist")
    with in_tenant(clinic_a):
        follow = f.price_item("FOLL", "Follow-up", 3000, 0, default=False)
    page = client.get(f"/invoices/visits/{visit.pk}?price_item_id={follow.pk}", headers=HX, tenant=clinic_a)
    assert "<html" not in page.get_data(as_text=True) and "Follow-up" in page.get_data(as_text=True)
    response = client.post(f"/invoices/visits/{visit.pk}", data={"price_item_id": str(follow.pk),
                                                                  "source": [f"visit_service:{visit.pk}"]},
                           tenant=clinic_a)
    assert response.status_code == 303
    with in_tenant(clinic_a):
        inv = Invoice.objects.get(visit=visit)
        assert [(ln.description, ln.unit_price) for ln in inv.lines] == [("Follow-up", 3000)]
    nothing = client.post(f"/invoices/visits/{visit.pk}", data={}, tenant=clinic_a)
    assert nothing.status_code == 422 and "Tick at least one" in nothing.get_data(as_text=True)


def test_patient_credit_is_used_from_the_payment_page(client, clinic_a, login_as, in_tenant, frozen_clock):
    login_as(clinic_a, "Receptionist")
    with in_tenant(clinic_a):
        p = f.patient()
        first = f.issued(p, None, f.line("A", 1, 1000))
        f.paid(first, 3000)  # 20.00 kept as credit
        second = f.issued(p, None, f.line("B", 1, 1500))
    page = client.get(f"/invoices/{second.pk}/payments/new", tenant=clinic_a).get_data(as_text=True)
    assert "has $20.00 of credit" in page and 'value="15.00"' in page
    too_much = client.post(f"/invoices/{second.pk}/apply-credit", data={"amount": "16.00"}, tenant=clinic_a)
    assert too_much.status_code == 422 and "more than the invoice" in too_much.get_data(as_text=True)
    assert client.post(f"/invoices/{second.pk}/apply-credit", data={"amount": "15.00"},
                       tenant=clinic_a).status_code == 303
    with in_tenant(clinic_a):
        assert Invoice.objects.get(pk=second.pk).status == "paid"
        assert payments.credit_available(p) == 500
    assert client.get(f"/invoices/{second.pk}/refund", tenant=clinic_a).status_code == 403  # receptionist


def test_refund_page_offers_only_what_is_left(client, clinic_a, login_as, in_tenant, frozen_clock):
    login_as(clinic_a, "Accountant")
    with in_tenant(clinic_a):
        p1, inv = f.paid(f.issued(None, None, f.line("A", 1, 1000)), 1000)
        payments.refund(inv, p1, 1000, "method", "all back", f.admin())
    page = client.get(f"/invoices/{inv.pk}/refund", tenant=clinic_a).get_data(as_text=True)
    assert "Nothing paid on this invoice is left to refund" in page
