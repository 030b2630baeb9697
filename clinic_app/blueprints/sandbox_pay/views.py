"""The sandbox checkout (PAYMENT_PROVIDER=sandbox only): a local page standing in for a
payment provider, whose "Pay" posts an HMAC-signed callback back to the clinic.

Both routes live on the clinic's own host, for those who may pay
(subscription:update), and stay open while the clinic is in grace or suspended
(that is when clinics pay). The callback is proven by its signature, like a
real provider's return, so it needs no CSRF token: a forged, altered, expired
or other-clinic callback is refused with 400 and changes nothing.
"""
from flask import Blueprint, abort, current_app, flash, g, request, url_for
from flask_login import current_user

from ...extensions import csrf
from ...localtime import local_date
from ...money import format_money
from ...permissions import require_permission
from ...services import payments
from ...gate import allow_when_suspended
from ...web import htmx_redirect, render

bp = Blueprint("sandbox_pay", __name__, url_prefix="/sandbox-pay")


@bp.before_request
def sandbox_only():
    if current_app.config["PAYMENT_PROVIDER"] != "sandbox":
        abort(404)


def _verified(values):
    """The PaymentEvent `values` prove, for this clinic; 400 otherwise."""
    try:
        event = payments.get_provider("sandbox").verify(values)
    except payments.InvalidPayment as exc:
        abort(400, description=str(exc))
    if event.tenant_id != g.tenant.pk:
        abort(400, description="This payment link is for another clinic.")
    return event


@bp.get("/checkout")
@allow_when_suspended
@require_permission("subscription", "update")
def checkout():
    """The sandbox's checkout page: amount, clinic, Pay or Cancel."""
    event = _verified(request.args)
    fields = {k: request.args[k] for k in (*payments.SandboxProvider.FIELDS, "sig")}
    return render("sandbox_pay/checkout.html", fields=fields, plan_days=payments.PLAN_DAYS,
                  amount=format_money(event.amount_cents, event.currency))


@bp.post("/callback")
@allow_when_suspended
@require_permission("subscription", "update")
def callback():
    """The signed return from the sandbox checkout: record the payment (a replay changes nothing)."""
    event = _verified(request.form)
    try:
        outcome = event.handle(paid_by=current_user)
    except payments.InvalidPayment as exc:
        abort(400, description=str(exc))
    if outcome.status == "duplicate":
        flash("This payment was already recorded; nothing changed.", "info")
    else:
        until = local_date(outcome.payment.period_end)  # the clinic's format and zone, like every date shown
        flash(f"Payment received: {outcome.payment.amount_display}. The clinic is paid through {until}.", "success")
    return htmx_redirect(url_for("subscription.index"))


csrf.exempt(callback)
