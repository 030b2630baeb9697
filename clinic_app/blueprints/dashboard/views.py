"""The clinic's home page: today's appointments by status, and my next patients."""
from flask import Blueprint
from flask_login import current_user

from ... import clock
from ...permissions import require_login
from ...services import scheduling
from ...services.labs import results as lab_results
from ...services.pharmacy import stock as pharmacy_stock
from ...web import render

bp = Blueprint("dashboard", __name__)


def index():
    """Dashboard for the signed-in user (shown at / on a clinic subdomain)."""
    return _dashboard()


@require_login
def _dashboard():
    now = clock.now()
    today, mine = None, []
    if current_user.can("appointments", "read"):
        today = scheduling.today_by_status(now)
        mine = scheduling.upcoming_for_doctor(current_user._get_current_object(), now, limit=8)
    labs = lab_results.dashboard(current_user._get_current_object()) if current_user.can("lab_results", "read") \
        else None
    # Stock counts for the roles that manage stock (inventory create: Admin, Medical Representative).
    pharmacy = pharmacy_stock.counts() if current_user.can("inventory", "create") else None
    return render("dashboard/index.html", today=today, mine=mine, day=scheduling.local_today(now), labs=labs,
                  pharmacy=pharmacy)
