"""Payments, refunds and patient credit against finalised invoices.

Every money change is one transaction: the payment (or ledger entry), the invoice's new `paid` /
`credit_applied` and status (replaced guarded by `rev`), and the patient's credit balance (a guarded
`$inc`, never below zero). Two desks taking money for one invoice at once therefore cannot both
apply against the same balance: the second transaction conflicts, is retried by pymongo, and sees
the first one's result.

Rules:
- a payment is positive and goes against an open invoice (issued / partly paid); what exceeds the
  balance is kept as patient credit;
- a refund (a negative payment with a reason) goes back by the method of the payment it refunds, or
  onto the patient's credit; at most what that payment put on the invoice, less earlier refunds;
- credit is applied to an open invoice up to its balance and the credit available;
- a payment can be deleted only by an Admin, on the clinic-local day it was recorded, with a reason
  (audited); later it is reversed by a refund. A payment with refunds cannot be deleted.
"""
from collections import defaultdict
from datetime import datetime

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from ... import clock
from ...localtime import to_local
from ...money import format_money
from ...models import CreditBalance, Invoice, Payment, PatientCredit
from ...models.invoicing import OPEN_STATUSES, PAYMENT_METHODS, REFUND_METHODS
from ...tenancy import current_tenant_id
from .. import audit
from ..visits import ref_id
from . import numbering
from .invoices import CHANGED, BillingError, Conflict, NotAllowed, load, settle, who, write

SETTLEABLE = ("issued", "partly_paid", "paid", "credited")  # stored statuses money can still move on
NOT_OPEN = {
    "draft": "Finalise the invoice before taking payments.",
    "paid": "This invoice is paid in full.",
    "void": "This invoice is void.",
    "credited": "This invoice is fully credited.",
}


def _ensure_balance(patient_id):
    """Create the patient's credit balance document at 0 outside the transaction (see numbering)."""
    try:
        CreditBalance._get_collection().update_one(
            {"tenantId": current_tenant_id(), "patientId": patient_id}, {"$setOnInsert": {"balance": 0}}, upsert=True)
    except DuplicateKeyError:
        pass


def _credit(session, patient_id, amount, kind, invoice, payment_id, user, at,
            short="The patient does not have that much credit."):
    """Move the patient's credit by `amount` (+ or -) with its ledger entry; raises BillingError(`short`)
    when that would take the credit below zero."""
    flt = {"tenantId": current_tenant_id(), "patientId": patient_id}
    if amount < 0:
        flt["balance"] = {"$gte": -amount}
    done = CreditBalance._get_collection().update_one(flt, {"$inc": {"balance": amount}}, session=session)
    if done.matched_count != 1:
        raise BillingError(short)
    entry = PatientCredit(tenant_id=current_tenant_id(), patient=ObjectId(patient_id), amount=amount, kind=kind,
                          invoice_id=invoice.pk, payment_id=payment_id, currency=invoice.currency, at=at, by=who(user))
    PatientCredit._get_collection().insert_one(entry.to_mongo().to_dict(), session=session)


def _payment(invoice, amount, applied, method, user, at, **extra):
    p = Payment(id=ObjectId(), tenant_id=current_tenant_id(), invoice=invoice.pk, invoice_number=invoice.number,
                patient=ref_id(invoice, "patient"), practitioner_id=invoice.practitioner_id, currency=invoice.currency,
                amount=amount, applied=applied, method=method, received_at=at, received_by_id=getattr(user, "pk", None),
                received_by=who(user), **extra)
    return p


def _insert(session, doc):
    doc.validate()
    type(doc)._get_collection().insert_one(doc.to_mongo().to_dict(), session=session)


def _run(invoice, change):
    """Run `change(session, fresh_invoice)` in a transaction; returns (result, invoice as stored after)."""
    out = {}

    def apply(session):
        fresh = load(session, invoice.pk)
        if fresh is None:
            raise BillingError("This invoice no longer exists.")
        out["result"] = change(session, fresh)
        settle(fresh)
        write(fresh, session, fresh.rev, SETTLEABLE)
        fresh.rev += 1
        out["invoice"] = fresh

    try:
        numbering.transaction(apply)
    except numbering.Changed:
        raise Conflict(CHANGED) from None
    return out["result"], out["invoice"]


def record_payment(invoice, amount, method, user, reference=None):
    """Take `amount` (minor units, > 0) by `method`; returns (payment, invoice). The part above the
    balance becomes patient credit. Raises BillingError/Conflict."""
    if method not in PAYMENT_METHODS:
        raise BillingError("Choose how it was paid.")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise BillingError("Enter an amount above zero.")
    _ensure_balance(_patient_id(invoice))
    now = clock.now()

    def change(session, inv):
        if inv.status not in OPEN_STATUSES:
            raise Conflict(NOT_OPEN.get(inv.status, "This invoice cannot take payments."))
        applied = min(amount, inv.balance)
        p = _payment(inv, amount, applied, method, user, now, reference=(reference or "").strip()[:120] or None)
        _insert(session, p)
        inv.paid += applied
        if amount > applied:
            _credit(session, _patient_id(inv), amount - applied, "overpayment", inv, p.pk, user, now)
        return p

    payment, fresh = _run(invoice, change)
    audit.record("payment.record", target=fresh, changes={
        "payment": str(payment.pk), "amount": amount, "method": method, "applied": payment.applied,
        "to_credit": amount - payment.applied, "currency": fresh.currency})
    return payment, fresh


def _patient_id(invoice):
    return ref_id(invoice, "patient")


def _refunded(invoice_id, session=None):
    """{payment id: what its recorded refunds took back} for one invoice's payments, in one query."""
    out = defaultdict(int)
    for r in Payment._get_collection().find({"invoice": invoice_id, "tenantId": current_tenant_id(),
                                             "status": "recorded"}, {"refundOf": 1, "applied": 1}, session=session):
        if r.get("refundOf") is not None:
            out[r["refundOf"]] -= r["applied"]
    return out


def _load_payment(session, payment_id):
    """The payment as stored now, read inside `session` (None if gone)."""
    raw = Payment._get_collection().find_one({"_id": payment_id, "tenantId": current_tenant_id()}, session=session)
    return Payment._from_son(raw) if raw else None


def _left(payment, refunded):
    if payment.amount <= 0 or payment.status != "recorded":
        return 0
    return max(0, payment.applied - refunded.get(payment.pk, 0))


def refundable(payment):
    """What can still be refunded of `payment`: what it put on the invoice less its refunds."""
    return _left(payment, _refunded(ref_id(payment, "invoice")))


def refundables(invoice):
    """[(payment, what can still be refunded of it)] of the invoice's payments with something left (two queries)."""
    refunded = _refunded(invoice.pk)
    return [(p, n) for p in of_invoice(invoice) if (n := _left(p, refunded)) > 0]


def refund(invoice, payment, amount, to, reason, user):
    """Refund `amount` of `payment`: back by its method (`to="method"`) or onto the patient's credit
    (`to="credit"`). Returns (refund, invoice). Raises BillingError/Conflict."""
    reason = (reason or "").strip()
    if not reason:
        raise BillingError("Give the reason for the refund.")
    if to not in ("method", "credit"):
        raise BillingError("Refund by the payment's method or to the patient's credit.")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise BillingError("Enter an amount above zero.")
    if ref_id(payment, "invoice") != invoice.pk:
        raise BillingError("That payment is not for this invoice.")
    method = payment.method if to == "method" else "credit"
    now = clock.now()
    _ensure_balance(_patient_id(invoice))

    def change(session, inv):
        original = _load_payment(session, payment.pk)
        if original is None or original.status != "recorded" or original.amount <= 0:
            raise BillingError("Only a recorded payment can be refunded.")
        left = min(original.applied - _refunded(inv.pk, session)[original.pk], inv.paid)
        if amount > left:
            raise BillingError(f"At most {format_money(left, inv.currency)} can be refunded of this payment."
                               if left > 0 else
                               "Nothing of this payment is left to refund.")
        r = _payment(inv, -amount, -amount, method, user, now, reason=reason[:500], refund_of=original.pk,
                     reference=original.reference)
        _insert(session, r)
        inv.paid -= amount
        if to == "credit":
            _credit(session, _patient_id(inv), amount, "refund_to_credit", inv, r.pk, user, now)
        return r

    r, fresh = _run(invoice, change)
    audit.record("payment.refund", target=fresh, changes={
        "refund": str(r.pk), "of": str(payment.pk), "amount": amount, "method": method, "reason": reason,
        "currency": fresh.currency})
    return r, fresh


def apply_credit(invoice, amount, user):
    """Use `amount` of the patient's credit on this open invoice (at most its balance). Returns the invoice."""
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise BillingError("Enter an amount above zero.")
    now = clock.now()
    _ensure_balance(_patient_id(invoice))

    def change(session, inv):
        if inv.status not in OPEN_STATUSES:
            raise Conflict(NOT_OPEN.get(inv.status, "This invoice cannot take credit."))
        if amount > inv.balance:
            raise BillingError("That is more than the invoice's balance.")
        _credit(session, _patient_id(inv), -amount, "applied", inv, None, user, now)
        inv.credit_applied += amount

    _, fresh = _run(invoice, change)
    audit.record("credit.apply", target=fresh, changes={"amount": amount, "currency": fresh.currency})
    return fresh


def same_local_day(at, now):
    return to_local(at).date() == to_local(now).date()


def delete_payment(payment, reason, user):
    """Delete a payment recorded today (clinic time), by an Admin, with a reason; its effect on the
    invoice and on the patient's credit is undone. Returns the invoice. Raises NotAllowed/BillingError."""
    role = getattr(user, "role", None)
    if role is None or not role.is_admin:
        raise NotAllowed("Only an Admin can delete a payment. Record a refund instead.")
    reason = (reason or "").strip()
    if not reason:
        raise BillingError("Give the reason for deleting the payment.")
    now = clock.now()
    if not same_local_day(payment.received_at, now):
        raise BillingError("Only a payment recorded today can be deleted; reverse an older one with a refund.")
    invoice = Invoice.objects(pk=ref_id(payment, "invoice")).first()

    def change(session, inv):
        p = _load_payment(session, payment.pk)
        if p is None or p.status != "recorded":
            raise Conflict("This payment is already deleted.")
        if Payment._get_collection().find_one({"invoice": inv.pk, "tenantId": current_tenant_id(),
                                               "refundOf": p.pk, "status": "recorded"}, session=session):
            raise BillingError("This payment has refunds: delete those first, or refund it instead.")
        Payment._get_collection().update_one(
            {"_id": p.pk, "tenantId": current_tenant_id(), "status": "recorded"},
            {"$set": {"status": "deleted", "deletedAt": now, "deletedBy": who(user), "deleteReason": reason[:500]}},
            session=session)
        inv.paid -= p.applied
        if p.to_credit:
            _credit(session, _patient_id(inv), -p.to_credit, "payment_deleted", inv, p.pk, user, now,
                    short=f"{format_money(p.to_credit, p.currency)} of this payment went to the patient's credit, "
                          "and that credit has been used since: it cannot be deleted. Record a refund instead.")
        return p

    p, fresh = _run(invoice, change)
    audit.record("payment.delete", target=fresh, changes={
        "payment": str(p.pk), "amount": p.amount, "method": p.method, "received_at": p.received_at.isoformat()
        if isinstance(p.received_at, datetime) else None, "reason": reason, "currency": fresh.currency})
    return fresh


# -- reading ---------------------------------------------------------------------------------


def of_invoice(invoice):
    """The invoice's payments and refunds (deleted ones too, marked), oldest first."""
    return list(Payment.objects(invoice=invoice).order_by("received_at"))


def credit_available(patient):
    doc = CreditBalance.objects(patient_id=patient.pk).first()
    return doc.balance if doc else 0


def method_label(method):
    return REFUND_METHODS.get(method, method)
