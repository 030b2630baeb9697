"""Payments: partial, full, over (kept as patient credit), refunds to the method or to credit,
credit applied to a later invoice, statuses, the balance rule, and deleting a payment."""
import threading
from datetime import timedelta

import pytest

from clinic_app.models import AuditEvent, Invoice, Payment, PatientCredit
from clinic_app.services.billing import credit_notes, invoices, payments
from tests import billing_factories as f
from tests.support import make_user


def _balance_rule(inv):
    return inv.balance == inv.total - inv.paid - inv.credit_applied - inv.credited


def test_partial_then_full_payment(clinic_a, in_tenant, frozen_clock):
    with in_tenant(clinic_a):
        inv = f.issued(None, None, f.line("Consultation", 1, 10000))
        assert inv.status == "issued" and inv.balance == 10000
        p1, inv = payments.record_payment(inv, 4000, "cash", f.admin(), reference="till 1")
        assert (inv.status, inv.paid, inv.balance) == ("partly_paid", 4000, 6000) and _balance_rule(inv)
        p2, inv = payments.record_payment(inv, 6000, "card", f.admin())
        assert (inv.status, inv.balance) == ("paid", 0)
        with pytest.raises(invoices.Conflict, match="paid in full"):
            payments.record_payment(inv, 1, "cash", f.admin())
        assert [p.amount for p in payments.of_invoice(inv)] == [4000, 6000]


def test_payments_need_a_finalised_open_invoice_and_a_positive_amount(clinic_a, in_tenant, frozen_clock):
    with in_tenant(clinic_a):
        with pytest.raises(invoices.Conflict, match="Finalise"):
            payments.record_payment(f.draft(), 100, "cash", f.admin())
        inv = f.issued()
        for amount in (0, -5, 1.5, True):
            with pytest.raises(invoices.BillingError, match="above zero"):
                payments.record_payment(inv, amount, "cash", f.admin())
        with pytest.raises(invoices.BillingError, match="how it was paid"):
            payments.record_payment(inv, 100, "bitcoin", f.admin())
        void = invoices.void(f.issued(), "mistake", f.admin())
        with pytest.raises(invoices.Conflict, match="void"):
            payments.record_payment(void, 100, "cash", f.admin())


def test_overpayment_becomes_patient_credit_that_pays_a_later_invoice(clinic_a, in_tenant, frozen_clock):
    with in_tenant(clinic_a):
        maria = f.patient()
        first = f.issued(maria, None, f.line("X", 1, 8000))
        p, first = payments.record_payment(first, 10000, "cash", f.admin())
        assert (p.amount, p.applied, p.to_credit, first.status, first.balance) == (10000, 8000, 2000, "paid", 0)
        assert payments.credit_available(maria) == 2000
        second = f.issued(maria, None, f.line("Y", 1, 3000))
        with pytest.raises(invoices.BillingError, match="not have that much credit"):
            payments.apply_credit(second, 2500, f.admin())
        second = payments.apply_credit(second, 2000, f.admin())
        assert (second.credit_applied, second.balance, second.status) == (2000, 1000, "partly_paid")
        assert _balance_rule(second) and payments.credit_available(maria) == 0
        assert [c.amount for c in PatientCredit.objects.order_by("at")] == [2000, -2000]


def test_refunds_by_method_and_to_credit(clinic_a, in_tenant, frozen_clock):
    with in_tenant(clinic_a):
        maria = f.patient()
        inv = f.issued(maria, None, f.line("X", 1, 10000))
        card, inv = payments.record_payment(inv, 10000, "card", f.admin())
        with pytest.raises(invoices.BillingError, match="reason"):
            payments.refund(inv, card, 1000, "method", "", f.admin())
        r1, inv = payments.refund(inv, card, 3000, "method", "Procedure not done", f.admin())
        assert (r1.amount, r1.method, inv.paid, inv.balance, inv.status) == (-3000, "card", 7000, 3000, "partly_paid")
        r2, inv = payments.refund(inv, card, 2000, "credit", "Keep for next visit", f.admin())
        assert (r2.method, inv.paid, payments.credit_available(maria)) == ("credit", 5000, 2000)
        with pytest.raises(invoices.BillingError, match=r"At most \$50\.00"):
            payments.refund(inv, card, 5001, "method", "too much", f.admin())
        assert payments.refundable(Payment.objects.get(pk=card.pk)) == 5000
        assert _balance_rule(inv)


def test_a_credit_note_then_a_refund_settles_the_invoice(clinic_a, in_tenant, frozen_clock):
    with in_tenant(clinic_a):
        inv = f.issued(None, None, f.line("X", 2, 5000))
        cash, inv = payments.record_payment(inv, 10000, "cash", f.admin())
        _, inv = credit_notes.issue(inv, "One not given", None, {0: 1})
        assert (inv.balance, inv.status) == (-5000, "paid")
        _, inv = payments.refund(inv, cash, 5000, "method", "One not given", f.admin())
        assert (inv.balance, inv.paid, inv.credited) == (0, 5000, 5000) and _balance_rule(inv)


def test_two_desks_paying_the_same_balance_at_once_take_it_once(app, clinic_a, in_tenant):
    from clinic_app.tenancy import tenant_context

    with in_tenant(clinic_a):
        maria = f.patient()
        inv_id = f.issued(maria, None, f.line("X", 1, 5000)).pk
    barrier, outcomes = threading.Barrier(2), []

    def desk():
        with app.app_context(), tenant_context(clinic_a):
            inv = Invoice.objects.get(pk=inv_id)
            barrier.wait(timeout=30)
            try:
                payments.record_payment(inv, 5000, "cash", None)
                outcomes.append("paid")
            except invoices.Conflict as exc:
                outcomes.append(str(exc))

    threads = [threading.Thread(target=desk) for _ in range(2)]
    [t.start() for t in threads]
    [t.join(timeout=60) for t in threads]
    assert sorted(outcomes) == ["This invoice is paid in full.", "paid"]
    with in_tenant(clinic_a):
        inv = Invoice.objects.get(pk=inv_id)
        assert (inv.paid, inv.balance, inv.status) == (5000, 0, "paid")
        assert [p.amount for p in Payment.objects] == [5000]


def test_only_an_admin_deletes_a_payment_on_the_same_day_with_a_reason(clinic_a, in_tenant, frozen_clock):
    with in_tenant(clinic_a):
        accountant = make_user("Accountant")
        maria = f.patient()
        inv = f.issued(maria, None, f.line("X", 1, 5000))
        p, inv = payments.record_payment(inv, 6000, "cash", accountant)
        with pytest.raises(invoices.NotAllowed):
            payments.delete_payment(p, "typo", accountant)
        with pytest.raises(invoices.BillingError, match="reason"):
            payments.delete_payment(p, "", f.admin())
        inv = payments.delete_payment(p, "Typed the wrong amount", f.admin())
        assert (inv.paid, inv.balance, inv.status) == (0, 5000, "issued")
        assert payments.credit_available(maria) == 0
        assert Payment.objects.get(pk=p.pk).status == "deleted"
        event = AuditEvent.objects.get(action="payment.delete")
        assert event.changes["reason"] == "Typed the wrong amount" and event.changes["amount"] == 6000
        with pytest.raises(invoices.Conflict, match="already deleted"):
            payments.delete_payment(Payment.objects.get(pk=p.pk), "again", f.admin())
        old, inv = payments.record_payment(inv, 1000, "cash", f.admin())
        frozen_clock.advance(days=1)
        with pytest.raises(invoices.BillingError, match="today"):
            payments.delete_payment(old, "late", f.admin())


def test_deleting_is_by_the_clinics_day_not_utcs(clinic_a, in_tenant, frozen_clock):
    from datetime import datetime, timezone

    with in_tenant(clinic_a):
        f.set_billing(timezone="America/New_York")
        frozen_clock.set(datetime(2026, 3, 3, 4, 0, tzinfo=timezone.utc))  # 23:00 on the 2nd in New York
        p, inv = f.paid(f.issued(), 100)
        frozen_clock.advance(hours=1, minutes=30)  # 00:30 on the 3rd in New York, still the 3rd in UTC
        with pytest.raises(invoices.BillingError, match="today"):
            payments.delete_payment(p, "late", f.admin())
        frozen_clock.set(datetime(2026, 3, 3, 4, 30, tzinfo=timezone.utc) - timedelta(minutes=1))
        payments.delete_payment(p, "same evening", f.admin())


def test_a_payment_with_refunds_cannot_be_deleted(clinic_a, in_tenant, frozen_clock):
    with in_tenant(clinic_a):
        p, inv = f.paid(f.issued(), 1000)
        payments.refund(inv, p, 500, "method", "part", f.admin())
        with pytest.raises(invoices.BillingError, match="has refunds"):
            payments.delete_payment(p, "oops", f.admin())
