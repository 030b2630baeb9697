"""The audit log: who changed what, newest first. Read-only: there are no edit or delete routes."""
from flask import Blueprint, request

from ...permissions import require_permission
from ...services import audit
from ...web import render, wants_fragment
from ..common import page_number
from .actions import action_label
from .forms import AuditFilterForm
from .present import present

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.get("/")
@require_permission("audit", "read")
def index():
    """Audit events, filtered by action, actor and dates; the results block is the htmx fragment."""
    form = AuditFilterForm(request.args)
    valid = form.validate()
    page = audit.audit_page(form.action.data, form.actor.data, form.start.data, form.end.data,
                            page=page_number()) if valid else None
    # A fragment swaps only the results; the filter form comes along out of band when it
    # shows errors or had shown them (so they appear beside the fields, and then go away).
    oob = wants_fragment() and (not valid or request.headers.get("X-Audit-Filter-Errors") == "1")
    shown = present(page.items) if page is not None else None
    return render("audit/index.html", block="results", status=200 if valid else 422, form=form, page=page,
                  oob_filters=oob, shown=shown, action_label=action_label)
