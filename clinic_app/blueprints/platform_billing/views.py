"""Payment provider webhooks, on the apex (Stripe posts every clinic's events to one URL).

The event names its clinic (client_reference_id and metadata.tenant_id, set
when the checkout was created); the signature, not the host or a session,
authenticates it, so the route is exempt from CSRF and from the subscription
gate.
"""
import logging

from flask import Blueprint, abort, current_app, jsonify, request

from ...extensions import csrf
from ...services import payments
from ...gate import allow_when_suspended

log = logging.getLogger(__name__)

bp = Blueprint("platform_billing", __name__, url_prefix="/billing")


@bp.post("/stripe/webhook")
@allow_when_suspended
def stripe_webhook():
    """Stripe's webhook: verify the signature, then record a paid checkout (replays change nothing)."""
    if not current_app.config["STRIPE_WEBHOOK_SECRET"]:
        abort(404)
    provider = payments.get_provider("stripe")
    try:
        event = provider.parse_webhook(request.get_data(), request.headers.get("Stripe-Signature"))
        if event is None:
            return jsonify(received=True, result="ignored")
        outcome = event.handle()
    except payments.InvalidPayment as exc:
        log.warning("refused a Stripe webhook from %s: %s", request.remote_addr, exc)
        return jsonify(received=False, error=str(exc)), 400
    return jsonify(received=True, result=outcome.status)


csrf.exempt(stripe_webhook)
