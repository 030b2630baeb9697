"""The clinic's subscription: plan, state, dates and what happens next."""
from flask import Blueprint, g

from ...permissions import require_permission
from ...tenancy import allow_when_suspended
from ...web import render

bp = Blueprint("subscription", __name__, url_prefix="/subscription")


@bp.get("")
@allow_when_suspended
@require_permission("subscription", "read")
def index():
    """Subscription status page (reachable while suspended)."""
    return render("subscription/index.html", standing=g.standing)
