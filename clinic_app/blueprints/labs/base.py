"""The labs blueprint's `bp`: views.py (orders and results) and catalogue_views.py (tests and panels) add
their routes to it."""
from flask import Blueprint

bp = Blueprint("labs", __name__, url_prefix="/lab")
