"""The apex site: landing page (onboarding lives here too)."""
from flask import Blueprint

from ...web import render

bp = Blueprint("public", __name__)


def landing():
    """Apex landing page."""
    return render("public/landing.html")
