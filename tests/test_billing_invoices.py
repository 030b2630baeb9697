"""Invoices from a visit (each source at most once, never re-offered once billed), by hand, draft
editing, immutability once finalised, voiding and credit notes."""
import threading

import pytest

from clinic_app.models import AuditEvent, BillingClaim, Invoice
from clinic_app.services.billing import credit_notes, invoices, sources
from clinic_app.services.labs import orders
from clinic_app.services.pharmacy import dispensing
from tests import billing_factories as f
from tests import lab_factories as lf
from tests import pharmacy_factories as pf
from tests.support import make_user


@pytest.fixture
def billed_visit(clinic_a, in_tenant):
    """A visit with a consultation, a dispensed medicine (3 x 2.50) and two lab tests."""
    with in_tenant(clinic_a):
        doctor = make_user("Doctor", email="doc@clinica.test", name="Dr Who")
        f.set_billing(tax_rates=[{"name": "VAT", "rate": 2000}], default_tax_rate=0)
        f.price_item("CONS", "Consultation", 5000, 2000)
        p = f.patient()
        v = f.visit(p, doctor)
        med = pf.medicine(price=250)
        pf.batch(med, "L1", 100, user=doctor)
        rx = pf.prescription(v, doctor, pf.row(med, quantity=3))
        d = dispensing.dispense(rx, 0, 3, doctor)
        order = lf.order(p, doctor, codes=("K", "NA"), visit=v)
        return {"visit": v, "patient": p, "doctor": doctor, "dispense": d, "order": order}


def test_a_visit_proposes_its_service_dispensed_medicines_and_lab_tests(clinic_a, in_tenant, billed_visit):
    with in_tenant(clinic_a):
        v, d, o = billed_visit["visit"], billed_visit["dispense"], billed_visit["order"]
        found = sources.for_visit(v, f.set_billing())
        assert [(c.key, c.quantity, c.unit_price) for c in found] == [
            (f"visit_service:{v.pk}", 1, 5000), (f"dispense:{d.pk}", 3, 250),
            (f"lab_item:{o.pk}:K", 1, o.items[0].price), (f"lab_item:{o.pk}:NA", 1, o.items[1].price)]
        inv = invoices.create_from_visit(v, f.admin())
        assert [ln.source for ln in inv.lines] == [c.key for c in found]
        assert inv.practitioner_name == "Dr Who" and inv.patient_name == "Maria Lopez"
        # 50.00 + 20% VAT, 7.50, lab at 0%
        labs = sum(i.price for i in o.items)
        assert inv.subtotal == 5000 + 750 + labs and inv.tax_total == 1000
        assert [(t.rate, t.base, t.tax, t.name) for t in inv.taxes] == [(0, 750 + labs, 0, "0%"),
                                                                        (2000, 5000, 1000, "VAT")]


def test_nothing_is_billed_twice_and_a_billed_source_is_not_offered_again(clinic_a, in_tenant, billed_visit):
    with in_tenant(clinic_a):
        v = billed_visit["visit"]
        first = invoices.create_from_visit(v, f.admin())
        assert all(not c.available for c in sources.for_visit(v, f.set_billing()))
        with pytest.raises(invoices.BillingError, match="Nothing of this visit is left"):
            invoices.create_from_visit(v, f.admin())
        # Removing a draft line releases its source; finalising keeps the rest claimed for good.
        first = invoices.remove_line(first, 1, f.admin())
        offered = [c.key for c in sources.for_visit(v, f.set_billing()) if c.available]
        assert offered == [f"dispense:{billed_visit['dispense'].pk}"]
        first = invoices.finalise(first, f.admin())
        second = invoices.create_from_visit(v, f.admin())
        assert [ln.source for ln in second.lines] == offered
        invoices.void(first, "Entered twice", f.admin())
        assert [c for c in sources.for_visit(v, f.set_billing()) if c.available] == []  # void keeps its claims
        assert BillingClaim.objects.count() == 4


def test_two_desks_billing_one_visit_at_once_bill_each_item_once(app, clinic_a, in_tenant, billed_visit):
    from clinic_app.tenancy import tenant_context

    visit_id, results, barrier = billed_visit["visit"].pk, [], threading.Barrier(2)

    def desk():
        with app.app_context(), tenant_context(clinic_a):
            from clinic_app.models import Visit
            v = Visit.objects.get(pk=visit_id)
            candidates = [c for c in sources.for_visit(v, f.set_billing()) if c.available]
            barrier.wait(timeout=30)
            try:
                results.append(invoices.create_draft(v.patient, None, visit=v, candidates=candidates))
            except invoices.AlreadyBilled as exc:
                results.append(exc)

    threads = [threading.Thread(target=desk) for _ in range(2)]
    [t.start() for t in threads]
    [t.join(timeout=60) for t in threads]
    with in_tenant(clinic_a):
        assert sorted(type(r).__name__ for r in results) == ["AlreadyBilled", "Invoice"]
        assert Invoice.objects.count() == 1 and BillingClaim.objects.count() == 4


def test_cancelled_dispenses_and_lab_orders_are_not_offered(clinic_a, in_tenant, billed_visit):
    with in_tenant(clinic_a):
        doctor = billed_visit["doctor"]
        dispensing.cancel(billed_visit["dispense"], "Wrong strength", doctor)
        orders.cancel(billed_visit["order"], doctor, "Not needed")
        keys = [c.key for c in sources.for_visit(billed_visit["visit"], f.set_billing())]
        assert keys == [f"visit_service:{billed_visit['visit'].pk}"]


def test_a_draft_line_whose_source_was_cancelled_is_flagged(clinic_a, in_tenant, billed_visit):
    with in_tenant(clinic_a):
        inv = invoices.create_from_visit(billed_visit["visit"], f.admin())
        dispensing.cancel(billed_visit["dispense"], "Returned", billed_visit["doctor"])
        assert sources.no_longer_billable(inv.lines) == [1]


def test_hand_made_invoice_lines_can_be_edited_until_finalised(clinic_a, in_tenant, frozen_clock):
    with in_tenant(clinic_a):
        inv = f.draft(None, None, f.line("Dressing", 2, 1500))
        inv = invoices.update_line(inv, 0, {"quantity": 3, "discount_kind": "percent", "discount_value": 1000},
                                   f.admin())
        assert (inv.subtotal, inv.total, inv.discount_total) == (4050, 4050, 450)
        inv = invoices.finalise(inv, f.admin())
        for change in (lambda: invoices.update_line(inv, 0, {"quantity": 1}, f.admin()),
                       lambda: invoices.add_line(inv, f.line(), f.admin()),
                       lambda: invoices.remove_line(inv, 0, f.admin()),
                       lambda: invoices.delete_draft(inv, f.admin())):
            with pytest.raises(invoices.Conflict, match="finalised"):
                change()
        assert Invoice.objects.get(pk=inv.pk).total == 4050
        actions = {e.action for e in AuditEvent.objects}
        assert {"invoice.create", "invoice.line_update", "invoice.finalise"} <= actions


def test_sourced_lines_keep_their_quantity_and_price(clinic_a, in_tenant, billed_visit):
    with in_tenant(clinic_a):
        inv = invoices.create_from_visit(billed_visit["visit"], f.admin())
        inv = invoices.update_line(inv, 1, {"quantity": 1, "unit_price": 1, "discount_kind": "amount",
                                            "discount_value": 50}, f.admin())
        assert (inv.lines[1].quantity, inv.lines[1].unit_price, inv.lines[1].net) == (3, 250, 700)


def test_void_needs_a_reason_and_an_untouched_invoice(clinic_a, in_tenant, frozen_clock):
    with in_tenant(clinic_a):
        inv = f.issued()
        with pytest.raises(invoices.BillingError, match="reason"):
            invoices.void(inv, " ", f.admin())
        voided = invoices.void(inv, "Wrong patient", f.admin())
        assert (voided.status, voided.number, voided.balance) == ("void", "INV-2026-000001", 0)
        with pytest.raises(invoices.Conflict):
            invoices.void(voided, "again", f.admin())
        paid = f.issued()
        _, paid = f.paid(paid, 100)
        with pytest.raises(invoices.Conflict, match="credit note"):
            invoices.void(paid, "Mistake", f.admin())
        with pytest.raises(invoices.BillingError, match="delete it instead"):
            invoices.void(f.draft(), "x", f.admin())


def test_credit_notes_full_and_per_line(clinic_a, in_tenant, frozen_clock):
    with in_tenant(clinic_a):
        inv = f.issued(None, None, f.line("A", 3, 1000, 2000), f.line("B", 1, 999, 0))
        assert inv.total == 3600 + 999
        note, inv = credit_notes.issue(inv, "One A returned", None, {0: 1})
        assert (note.subtotal, note.tax_total, note.total) == (1000, 200, 1200)
        assert (inv.credited, inv.balance, inv.status) == (1200, 3399, "partly_paid")
        with pytest.raises(invoices.BillingError, match="at most 2"):
            credit_notes.issue(inv, "too many", None, {0: 3})
        note2, inv = credit_notes.issue(inv, "The rest", None)
        assert note2.total == 2400 + 999 and inv.credited == inv.total and inv.status == "credited"
        assert inv.balance == 0
        with pytest.raises(invoices.Conflict, match="credited"):
            credit_notes.issue(inv, "again", None)
        with pytest.raises(invoices.Conflict, match="draft"):
            credit_notes.issue(f.draft(), "x", None)


def test_credit_note_shares_rounding_so_crediting_the_rest_is_exact(clinic_a, in_tenant, frozen_clock):
    with in_tenant(clinic_a):
        inv = f.issued(None, None, f.line("Three", 3, 333, 825))  # net 999, tax 82.4175 -> 82
        notes = []
        for _ in range(3):
            note, inv = credit_notes.issue(inv, "one by one", None, {0: 1})
            notes.append((note.subtotal, note.tax_total))
        assert notes == [(333, 27), (333, 28), (333, 27)]  # 82/3 = 27.33 -> 27; 55/2 = 27.5 -> 28; 27
        assert sum(n + t for n, t in notes) == inv.total and inv.status == "credited"


def test_a_credit_note_on_a_paid_invoice_leaves_credit_due(clinic_a, in_tenant, frozen_clock):
    with in_tenant(clinic_a):
        inv = f.issued(None, None, f.line("X", 1, 10000))
        _, inv = f.paid(inv, 10000)
        assert inv.status == "paid"
        _, inv = credit_notes.issue(inv, "Overcharged", None, {0: 1})
        assert (inv.balance, inv.status) == (-10000, "credited")
