"""Routes served on every host: the root dispatcher and the health check."""
import mongoengine
from flask import Blueprint, g, jsonify

from ...extensions import redis_conn
from ..dashboard.views import index
from ..public.views import landing

bp = Blueprint("core", __name__)


@bp.get("/")
def root():
    """Apex landing page, or the clinic's dashboard on a clinic subdomain."""
    if g.get("tenant") is None:
        return landing()
    return index()


@bp.get("/healthz")
def healthz():
    """200 when MongoDB and Redis answer, else 503 naming the one that is down."""
    checks = {}
    try:
        mongoengine.get_db().command("ping")
        checks["mongodb"] = "ok"
    except Exception as exc:  # any failure means "down" here
        checks["mongodb"] = f"down: {type(exc).__name__}"
    try:
        redis_conn().ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"down: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    response = jsonify({"status": "ok" if healthy else "unavailable", "checks": checks})
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response
