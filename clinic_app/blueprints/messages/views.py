"""Messages: every email of this clinic with its delivery status, newest first. Read-only."""
from flask import Blueprint, request

from ...permissions import require_permission
from ...services import outbox
from ...web import render
from ..common import page_number
from . import delivery
from .forms import MessageFilterForm

bp = Blueprint("messages", __name__, url_prefix="/messages")


@bp.get("/")
@require_permission("messages", "read")
def index():
    """The outbox, filtered by status; the results block is the htmx fragment."""
    form = MessageFilterForm(request.args)
    valid = form.validate()
    page = outbox.message_page(form.status.data, page=page_number()) if valid else None
    deliveries = delivery.describe_page(page.items) if page is not None else {}
    return render("messages/index.html", block="results", status=200 if valid else 422, form=form, page=page,
                  deliveries=deliveries)
