"""The patient's receipt by email, through the outbox: one message per payment (key
`patient_receipt:<payment id>`), however often it is asked for."""
from ...models import OutboundMessage, Settings
from ...money import format_money
from ..notifications import queue_email, render_email
from . import payments
from .invoices import BillingError


def key_for(payment):
    return f"patient_receipt:{payment.pk}"


def already_queued(payment):
    return OutboundMessage.objects(key=key_for(payment)).only("id").first() is not None


def email_receipt(payment, invoice):
    """Queue the receipt of `payment` to the patient's email; returns (message, new?). Raises BillingError
    when the patient has no email address or the payment was deleted."""
    if payment.status != "recorded":
        raise BillingError("This payment was deleted: there is no receipt to send.")
    patient = invoice.patient
    if not patient.email:
        raise BillingError(f"{patient.full_name} has no email address on file.")
    if already_queued(payment):
        return OutboundMessage.objects.get(key=key_for(payment)), False
    settings = Settings.current()
    amount = format_money(abs(payment.amount), payment.currency)
    kind = "Refund" if payment.is_refund else "Receipt"
    text, html = render_email("patient_receipt", settings=settings, patient=patient, invoice=invoice, payment=payment,
                              amount=amount, kind=kind, method=payments.method_label(payment.method),
                              money=lambda m: format_money(m, invoice.currency))
    message = queue_email(key=key_for(payment), kind="patient_receipt", to=patient.email,
                          subject=f"{kind} from {settings.clinic_name}: {amount} ({invoice.number})",
                          text_body=text, html_body=html)
    return message, True
