"""Money on an invoice: take a payment, refund, use patient credit, delete a payment (Admin, same
day), the printable receipt and the receipt by email."""
from flask import flash, url_for

from ...localtime import clinic_settings
from ...models import Invoice, Payment
from ...money import major_str
from ...permissions import require_permission
from ...services.billing import invoices, payments, receipts
from ...services.visits import ref_id
from ...web import render
from ..common import get_or_404
from .forms import CreditForm, EmptyForm, PaymentForm, ReasonForm, RefundForm
from .base import attempt, bill_money, bp, invoice_form, load_invoice, to_invoice, user


@bp.route("/<invoice_id>/payments/new", methods=["GET", "POST"])
@require_permission("invoices", "create")
def take_payment(invoice_id):
    """Record a payment (cash, card, bank transfer, other); what exceeds the balance becomes patient credit."""
    invoice = load_invoice(invoice_id)
    form = PaymentForm()
    form.amount.currency = invoice.currency
    if not form.is_submitted() and invoice.balance > 0:
        form.amount.data = major_str(invoice.balance, invoice.currency)
    return invoice_form(
        "billing/payment.html", form, invoice,
        lambda: payments.record_payment(invoice, form.amount.minor(), form.method.data, user(), form.reference.data)[0],
        _paid, anchor="payments", credit=payments.credit_available(invoice.patient), credit_form=_credit_form(invoice))


def _paid(payment):
    extra = f" {bill_money(payment.to_credit, payment.currency)} kept as patient credit." if payment.to_credit else ""
    return f"Payment of {bill_money(payment.amount, payment.currency)} recorded.{extra}"


def _credit_form(invoice):
    form = CreditForm()
    form.amount.currency = invoice.currency
    if not form.is_submitted():
        form.amount.data = major_str(max(0, min(payments.credit_available(invoice.patient), invoice.balance)),
                                     invoice.currency)
    return form


@bp.post("/<invoice_id>/apply-credit")
@require_permission("invoices", "create")
def apply_credit(invoice_id):
    """Use the patient's credit on this invoice."""
    invoice = load_invoice(invoice_id)
    form = _credit_form(invoice)
    message, status = None, 422
    if form.validate_on_submit():
        try:
            invoice = payments.apply_credit(invoice, form.amount.minor(), user())
        except invoices.BillingError as exc:
            message, status = str(exc), exc.status
        else:
            flash(f"{bill_money(form.amount.minor(), invoice.currency)} of credit used.", "success")
            return to_invoice(invoice, "payments")
    pay = PaymentForm(formdata=None)
    pay.amount.currency = invoice.currency
    response = render("billing/payment.html", status=status, form=pay, invoice=invoice, credit_message=message,
                      credit=payments.credit_available(invoice.patient), credit_form=form)
    response.headers["HX-Push-Url"] = url_for("billing.take_payment", invoice_id=invoice.pk)  # not the POST-only URL
    return response


@bp.route("/<invoice_id>/refund", methods=["GET", "POST"])
@require_permission("invoices", "update")
def refund(invoice_id):
    """Refund (part of) a payment: back by its method or to the patient's credit, with a reason."""
    invoice = load_invoice(invoice_id)
    refundable = payments.refundables(invoice)
    form = RefundForm()
    form.amount.currency = invoice.currency
    form.payment_id.choices = [(str(p.pk), f"{bill_money(p.amount, p.currency)} {payments.method_label(p.method)}"
                                f" (up to {bill_money(n, p.currency)})") for p, n in refundable]

    def refund_it():
        r, _ = payments.refund(invoice, get_or_404(Payment, form.payment_id.data), form.amount.minor(), form.to.data,
                               form.reason.data, user())
        return r

    return invoice_form("billing/refund.html", form, invoice, refund_it,
                        lambda r: f"Refund of {bill_money(-r.amount, r.currency)} recorded.", anchor="payments",
                        refundable=refundable)


def _payment_and_invoice(payment_id):
    payment = get_or_404(Payment, payment_id)
    return payment, Invoice.objects.get(pk=ref_id(payment, "invoice"))


@bp.route("/payments/<payment_id>/delete", methods=["GET", "POST"])
@require_permission("invoices", "delete")
def delete_payment(payment_id):
    """Delete a payment recorded today, with a reason (Admins only; audited). Later: refund it."""
    payment, invoice = _payment_and_invoice(payment_id)
    form = ReasonForm()
    return invoice_form("billing/delete_payment.html", form, invoice, lambda: payments.delete_payment(
        payment, form.reason.data, user()), lambda _: "Payment deleted.", anchor="payments", payment=payment)


@bp.get("/payments/<payment_id>/receipt")
@require_permission("invoices", "read")
def receipt(payment_id):
    """The print-friendly receipt of one payment (or refund), with the invoice's balance after it."""
    payment, invoice = _payment_and_invoice(payment_id)
    return render("billing/receipt.html", payment=payment, invoice=invoice, settings=clinic_settings(),
                  emailed=receipts.already_queued(payment), form=EmptyForm())


@bp.post("/payments/<payment_id>/email")
@require_permission("invoices", "create")
def email_receipt(payment_id):
    """Email the receipt to the patient (through the outbox; once per payment)."""
    payment, invoice = _payment_and_invoice(payment_id)
    message, new = attempt(invoice, lambda: receipts.email_receipt(payment, invoice))
    flash(f"Receipt sent to {message.to}." if new else f"The receipt was already sent to {message.to}.", "success")
    return to_invoice(invoice, "payments")
