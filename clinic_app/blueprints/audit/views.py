"""The audit log: who changed what, newest first. Read-only: there are no edit or delete routes."""
from flask import Blueprint, request

from ...permissions import require_permission
from ...services import audit
from ...web import wants_fragment
from ..flows import filtered_list
from .actions import action_label
from .forms import AuditFilterForm
from .present import present

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.get("/")
@require_permission("audit", "read")
def index():
    """Audit events, filtered by action, actor and dates; the results block is the htmx fragment."""
    return filtered_list("audit/index.html", AuditFilterForm, _events, _shown)


def _events(form, page):
    return audit.audit_page(form.action.data, form.actor.data, form.start.data, form.end.data, page=page)


def _shown(page):
    # A fragment swaps only the results; the filter form comes along out of band when it
    # shows errors (no page) or had shown them (so they appear beside the fields, and then go away).
    oob = wants_fragment() and (page is None or request.headers.get("X-Audit-Filter-Errors") == "1")
    return {"oob_filters": oob, "shown": present(page.items) if page is not None else None,
            "action_label": action_label}
