"""The API's blueprint and envelope: {"success": true, "data": ...} / {"success": false, "error": ...}.

Every area's API module (`views.py` for patients and appointments, one module per later
area) registers its routes on this `bp` and answers through `ok`/`fail`/`body`/`paging`.
"""
from flask import Blueprint, abort, current_app, jsonify, request
from pydantic import ValidationError

from ...extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

MAX_PER_PAGE = 100


@bp.before_request
def csrf_for_cookie_sessions():
    """Bearer tokens are not ambient credentials; cookie sessions still need the CSRF header."""
    if request.method in ("GET", "HEAD", "OPTIONS") or not current_app.config["WTF_CSRF_ENABLED"]:
        return
    if request.headers.get("Authorization", "").lower().startswith("bearer "):
        return
    csrf.protect()


def ok(data, status=200, **extra):
    response = jsonify({"success": True, "data": data, **extra})
    response.status_code = status
    return response


def fail(status, message, fields=None):
    error = {"code": status, "message": message}
    if fields:
        error["fields"] = fields
    response = jsonify({"success": False, "error": error})
    response.status_code = status
    return response


def body(schema):
    """Parse the JSON body with `schema`; abort 400 with per-field messages."""
    if not request.is_json:
        abort(fail(415, "Send a JSON body with Content-Type: application/json."))
    try:
        return schema.model_validate_json(request.get_data() or b"{}")
    except ValidationError as exc:
        fields = {".".join(str(p) for p in e["loc"]) or "body": e["msg"] for e in exc.errors()}
        abort(fail(400, "The request body is not valid.", fields))


def paging():
    try:
        page = max(1, int(request.args.get("page", 1)))
        per_page = min(MAX_PER_PAGE, max(1, int(request.args.get("per_page", 25))))
    except ValueError:
        abort(fail(400, "page and per_page must be integers."))
    return page, per_page


def page_meta(page, per_page, total, pages):
    return {"page": page, "per_page": per_page, "total": total, "pages": pages}


@bp.errorhandler(404)
def api_not_found(exc):
    return fail(404, "Not found.")
