"""The API's blueprint and envelope: {"success": true, "data": ...} / {"success": false, "error": ...}.

Every area's API module (`views.py` for patients and appointments, one module per later
area) registers its routes on this `bp` and answers through `ok`/`fail`/`body`/`paging`.
The envelope itself lives in clinic_app/envelope.py, which the error handler uses too:
every error under /api/ (404 from `get_or_404`, 401, 500, a bad body) has the `fail` shape.

Lists: `paginate(qs, *paging())` then `ok([...], meta=page_meta(page))`, where meta is
{"page", "per_page", "has_next"}: no total, because counting a clinic's whole collection
on every request is O(clinic) (SecantusDB counts by scanning). Follow `has_next`.
"""
from flask import Blueprint, current_app, request
from pydantic import ValidationError

from ...envelope import fail, ok  # noqa: F401  (the API's envelope, for every API module)
from ...extensions import csrf
from ...pagination import MAX_PAGE, Page
from ...services import api_tokens
from ...services.errors import Refused
from ..common import refuse

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

MAX_PER_PAGE = 100


@bp.before_request
def csrf_for_cookie_sessions():
    """An Authorization header must authenticate (else 401); only a cookie session needs the CSRF header.

    Decided by how the request was actually authenticated: a token is not an
    ambient credential, a session cookie is, whatever other headers come along.
    """
    if api_tokens.presents_credentials():
        if not api_tokens.authenticated_by_token():
            return fail(401, api_tokens.INVALID_TOKEN)
        return None
    if request.method in ("GET", "HEAD", "OPTIONS") or not current_app.config["WTF_CSRF_ENABLED"]:
        return None
    csrf.protect()
    return None


def body(schema):
    """Parse the JSON body with `schema`; 415 when it is not JSON, 400 with per-field messages."""
    if not request.is_json:
        refuse(415, "Send a JSON body with Content-Type: application/json.")
    try:
        return schema.model_validate_json(request.get_data() or b"{}")
    except ValidationError as exc:
        fields = {".".join(str(p) for p in e["loc"]) or "body": e["msg"] for e in exc.errors()}
        refuse(400, "The request body is not valid.", fields)


def attempt(act, statuses=None, names=None):
    """`act()`'s result; a refusal (services/errors.py: any area's) ends the request with the error envelope:
    its message, its `fields` and its status.

    `statuses` maps a refusal's status to the one this endpoint answers instead (the lab API answers 400
    where the others answer 422); `names` maps the service's field names to the body's."""
    try:
        return act()
    except Refused as exc:
        names = names or {}
        refuse((statuses or {}).get(exc.status, exc.status), str(exc),
               {names.get(k, k): v for k, v in exc.fields.items()})


def paging():
    """(page, per_page) from ?page= (1..MAX_PAGE) and ?per_page= (1..MAX_PER_PAGE, default 25); 400 otherwise."""
    try:
        page = min(MAX_PAGE, max(1, int(request.args.get("page", 1))))
        per_page = min(MAX_PER_PAGE, max(1, int(request.args.get("per_page", 25))))
    except ValueError:
        refuse(400, "page and per_page must be integers.", {"page": "An integer.", "per_page": "An integer."})
    return page, per_page


def page_meta(page, per_page=None, total=None, pages=None):
    """The list's `meta`: page_meta(Page) -> {"page", "per_page", "has_next"} (plus "total" when counted).

    The older call page_meta(number, per_page, total, pages) still works (and adds has_next).
    """
    if isinstance(page, Page):
        meta = {"page": page.number, "per_page": page.per_page, "has_next": page.has_next}
        if page.total is not None:
            meta["total"] = page.total
        return meta
    return {"page": page, "per_page": per_page, "total": total, "pages": pages, "has_next": page < (pages or 0)}
