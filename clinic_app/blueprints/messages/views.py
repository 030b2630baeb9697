"""Messages: every email of this clinic with its delivery status, newest first. Read-only."""
from flask import Blueprint

from ...permissions import require_permission
from ...services import outbox
from ..flows import filtered_list
from . import delivery
from .forms import MessageFilterForm

bp = Blueprint("messages", __name__, url_prefix="/messages")


@bp.get("/")
@require_permission("messages", "read")
def index():
    """The outbox, filtered by status; the results block is the htmx fragment."""
    return filtered_list("messages/index.html", MessageFilterForm,
                         lambda form, page: outbox.message_page(form.status.data, page=page),
                         lambda page: {"deliveries": delivery.describe_page(page.items) if page is not None else {}})
