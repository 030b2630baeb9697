"""The clinic's home page: today's appointments by status, and my next patients."""
from flask import Blueprint
from flask_login import current_user

from ... import clock
from ...permissions import require_login
from ...web import render

bp = Blueprint("dashboard", __name__)


def index():
    """Dashboard for the signed-in user (shown at / on a clinic subdomain)."""
    return _dashboard()


@require_login
def _dashboard():
    from ...services import scheduling

    now = clock.now()
    today, mine = None, []
    if current_user.can("appointments", "read"):
        today = scheduling.today_by_status(now)
        mine = scheduling.upcoming_for_doctor(current_user._get_current_object(), now, limit=8)
    return render("dashboard/index.html", today=today, mine=mine, day=scheduling.local_today(now))
