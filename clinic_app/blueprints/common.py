"""Helpers shared by blueprints: the one way to load a record for a request (audited when it is a
read of a patient's record), reading query-string arguments (page, dates), and refusing bad input with
per-field messages. Whole view flows built on them are in flows.py."""
import re
from datetime import date

from bson import ObjectId
from flask import abort, request
from werkzeug.exceptions import default_exceptions

from ..pagination import MAX_PAGE
from ..services import audit
from ..services.scheduling.days import FIRST_DAY, LAST_DAY, OUT_OF_RANGE  # the days a date argument may name


def refuse(status, message, fields=None):
    """Abort with `status` and `message`; `fields` ({name: message}) reach the API's error envelope."""
    exc = default_exceptions[status](description=message)
    exc.fields = fields
    raise exc


def find(model, doc_id, **filters):
    """The bound clinic's `model` document with id `doc_id` (and `filters`), or None.

    None too for a malformed id, a non-string (JSON) value and another clinic's id.
    For ids the user picked in a form (a role, a doctor), where "gone" is a form error.
    """
    if isinstance(doc_id, ObjectId):
        oid = doc_id
    elif isinstance(doc_id, str) and ObjectId.is_valid(doc_id):
        oid = ObjectId(doc_id)
    else:
        return None
    return model.objects(pk=oid, **filters).first()


def get_or_404(model, doc_id, **filters):
    """The record a request's URL names, or 404 (also for other clinics' ids: never reveal they exist).

    The error handler answers the 404 by request kind: a page, an htmx fragment, or the
    API's JSON envelope under /api/.
    """
    doc = find(model, doc_id, **filters)
    if doc is None:
        abort(404, description=f"There is no such {_noun(model)}.")
    return doc


def read_or_404(model, doc_id, action):
    """`get_or_404`, recording `action` ("visit.view", "prescription.print") on the record in the audit
    log: who opened which part of a patient's record, and when."""
    doc = get_or_404(model, doc_id)
    audit.record(action, target=doc)
    return doc


def _noun(model):
    """'user session' for UserSession."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", model.__name__).lower()


def day_arg(name, default=None, lenient=False):
    """?name=YYYY-MM-DD as a date, `default` when absent (or malformed, when `lenient`); 400 (with
    the field) when malformed or outside FIRST_DAY..LAST_DAY."""
    raw = request.args.get(name)
    if not raw:
        return default
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        if lenient:
            return default
        refuse(400, f"{name}: “{raw[:30]}” is not a date; use YYYY-MM-DD.", {name: "Not a date (YYYY-MM-DD)."})
    if not FIRST_DAY <= day <= LAST_DAY:
        refuse(400, f"{name}: {OUT_OF_RANGE}", {name: OUT_OF_RANGE})
    return day


def page_number():
    """?page= as an int in 1..MAX_PAGE (1 for anything else)."""
    try:
        return min(max(1, int(request.args.get("page", "1"))), MAX_PAGE)
    except ValueError:
        return 1


def beside_field(form, exc):
    """Put a service's refusal (`exc.field`, its message) beside that field of `form`; returns the message
    when the form has no such field (the page shows it on top), else None."""
    if exc.field and exc.field in form:
        form[exc.field].errors = list(form[exc.field].errors or []) + [str(exc)]
        return None
    return str(exc)
