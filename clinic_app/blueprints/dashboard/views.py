"""The clinic's home page."""
from flask import Blueprint

from ...models import Settings
from ...permissions import require_login
from ...web import render

bp = Blueprint("dashboard", __name__)


@require_login
def index():
    """Dashboard: the clinic at a glance."""
    return render("dashboard/index.html", settings=Settings.current())
