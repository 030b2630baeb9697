"""The clinic's home page."""
from flask import Blueprint

from ...models import Settings
from ...web import render

bp = Blueprint("dashboard", __name__)


def index():
    """Dashboard: the clinic at a glance."""
    return render("dashboard/index.html", settings=Settings.current())
