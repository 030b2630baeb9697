"""Every billing page route with another clinic's ids is 404 and changes nothing; who may do what."""
import pytest

from clinic_app.models import AuditEvent, CreditNote, Invoice, Payment, PriceItem
from clinic_app.services.billing import credit_notes
from tests import billing_factories as f
from tests.support import make_user, unchanged

POSTED = {"reason": "x", "amount": "1.00", "method": "cash", "description": "x", "quantity": "1", "unit_price": "1",
          "tax_rate": "0", "code": "X", "name": "X", "kind": "other", "price": "1", "mode": "full",
          "payment_id": "", "to": "method"}


@pytest.fixture
def theirs(clinic_b, in_tenant, frozen_clock):
    with in_tenant(clinic_b):
        doctor = make_user("Doctor", email="docb@clinicb.test")
        p = f.patient("Bea", "Other")
        v = f.visit(p, doctor)
        draft = f.draft(p, None, f.line("Draft line"))
        issued = f.issued(p, None, f.line("Issued line", 2, 1000))
        payment, issued = f.paid(issued, 500)
        note, _ = credit_notes.issue(Invoice.objects.get(pk=issued.pk), "part", None, {0: 1})
        item = f.price_item("BCONS", "B consultation", 100)
        return {"invoice_id": draft.pk, "issued": issued.pk, "visit_id": v.pk, "patient_id": p.pk,
                "payment_id": payment.pk, "note_id": note.pk, "item_id": item.pk}


def _snapshot(in_tenant, clinic):
    with in_tenant(clinic):
        return ([(i.pk, i.rev, i.status, i.paid, i.credited, len(i.lines)) for i in Invoice.objects.order_by("id")],
                Payment.objects.count(), CreditNote.objects.count(), [(x.pk, x.active, x.price) for x in
                                                                      PriceItem.objects])


def test_other_clinics_ids_are_404_on_every_billing_route(app, client, clinic_a, clinic_b, login_as, in_tenant,
                                                          theirs):
    login_as(clinic_a, "Admin")
    with unchanged(_snapshot, in_tenant, clinic_b):
        wrong = []
        for rule in app.url_map.iter_rules():
            if not rule.endpoint.startswith("billing.") or not rule.arguments - {"index"}:
                continue
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                for invoice_key in (("invoice_id", "issued") if "invoice_id" in rule.arguments else (None,)):
                    values = {a: str(theirs[invoice_key if a == "invoice_id" else a]) for a in rule.arguments
                              if a != "index"}
                    if "index" in rule.arguments:
                        values["index"] = "0"
                    path = app.url_map.bind("localhost").build(rule.endpoint, values, method=method)
                    response = client.open(path, method=method, data=POSTED if method == "POST" else None,
                                           tenant=clinic_a)
                    if response.status_code != 404:
                        wrong.append(f"{method} {path}: {response.status_code}")
        assert wrong == []
    with in_tenant(clinic_a):
        assert Invoice.objects.count() == 0 and AuditEvent.objects(action__startswith="invoice").count() == 0


def test_patient_id_of_another_clinic_cannot_start_an_invoice(client, clinic_a, login_as, in_tenant, theirs):
    login_as(clinic_a, "Receptionist")
    assert client.get(f"/invoices/new?patient_id={theirs['patient_id']}", tenant=clinic_a).status_code == 404
    assert client.post("/invoices/new", data={"patient_id": str(theirs["patient_id"])},
                       tenant=clinic_a).status_code == 404
    assert client.get(f"/invoices/?patient_id={theirs['patient_id']}", tenant=clinic_a).status_code == 404


@pytest.mark.parametrize("role,can_draft,can_correct,can_delete_payment", [
    ("Receptionist", True, False, False),
    ("Accountant", True, True, False),
    ("Doctor", False, False, False),
    ("Admin", True, True, True),
])
def test_who_may_draft_correct_and_delete(client, clinic_a, login_as, in_tenant, frozen_clock, role, can_draft,
                                          can_correct, can_delete_payment):
    with in_tenant(clinic_a):
        p = f.patient()
        inv = f.issued(p, None, f.line("X", 1, 1000))
        payment, _ = f.paid(inv, 100)
    login_as(clinic_a, role)
    assert client.get(f"/invoices/{inv.pk}", tenant=clinic_a).status_code == 200  # every one of them reads
    drafted = client.post("/invoices/new", data={"patient_id": str(p.pk)}, tenant=clinic_a).status_code
    assert (drafted == 303) is can_draft and (drafted == 403) is (not can_draft)
    voided = client.get(f"/invoices/{inv.pk}/credit-note", tenant=clinic_a).status_code
    assert (voided == 200) is can_correct and (voided == 403) is (not can_correct)
    deleted = client.post(f"/invoices/payments/{payment.pk}/delete", data={"reason": "test"},
                          tenant=clinic_a).status_code
    assert (deleted == 303) is can_delete_payment and (deleted == 403) is (not can_delete_payment)


def test_invoice_list_costs_the_same_queries_for_3_or_30_rows(app, client, clinic_a, login_as, in_tenant,
                                                              frozen_clock):
    from tests.support import CountQueries

    login_as(clinic_a, "Accountant")

    def reads():
        with CountQueries(app) as q:
            assert client.get("/invoices/", tenant=clinic_a).status_code == 200
        return q.reads

    with in_tenant(clinic_a):
        for i in range(3):
            f.issued(f.patient(f"P{i}", "Few"))
    few = reads()
    with in_tenant(clinic_a):
        for i in range(27):
            f.draft(f.patient(f"Q{i}", "Many"))
    assert reads() == few
