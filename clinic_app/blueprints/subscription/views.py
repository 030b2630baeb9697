"""The clinic's subscription: plan, state, dates, what happens next, paying, payment history."""
from flask import Blueprint, flash, g, request, url_for

from ...models import SubscriptionPayment
from ...money import format_money
from ...permissions import require_permission
from ...services import payments
from ...gate import allow_when_suspended
from ...web import htmx_redirect, render

bp = Blueprint("subscription", __name__, url_prefix="/subscription")

HISTORY_LIMIT = 24

CHECKOUT_NOTES = {
    "cancelled": "Checkout cancelled: nothing was charged.",
    "done": "Thank you. The payment shows here as soon as the payment service confirms it (usually seconds).",
}


@bp.get("")
@allow_when_suspended
@require_permission("subscription", "read")
def index():
    """Subscription status, what happens next, the pay button and past payments (reachable while suspended)."""
    amount, currency = payments.price()
    return render(
        "subscription/index.html",
        standing=g.standing,
        price=format_money(amount, currency),
        renewal_until=payments.renewal_preview(g.tenant, g.standing.now),
        plan_days=payments.PLAN_DAYS,
        provider=payments.get_provider().name,
        operator_hold=g.tenant.status in ("suspended", "inactive"),
        history=SubscriptionPayment.objects.order_by("-recorded_at").limit(HISTORY_LIMIT),
        checkout_note=CHECKOUT_NOTES.get(request.args.get("checkout", "")),
    )


@bp.post("/checkout")
@allow_when_suspended
@require_permission("subscription", "update")
def checkout():
    """Start paying for the monthly plan: send the browser to the provider's checkout."""
    try:
        started = payments.start_checkout(g.tenant)
    except payments.PaymentsUnavailable as exc:
        flash(str(exc), "error")
        return htmx_redirect(url_for("subscription.index"))
    return htmx_redirect(started.url)
