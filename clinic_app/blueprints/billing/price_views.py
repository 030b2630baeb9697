"""The price list (services: consultation types, procedures): list, add, edit, archive/restore."""
from flask import request, url_for

from ...localtime import clinic_settings
from ...models import PriceItem
from ...pagination import paginate
from ...permissions import require_permission
from ...services.billing import price_list
from ...web import render
from ..common import get_or_404, page_number
from ..flows import archive_routes, save_form
from .forms import PriceItemForm
from .base import bp


@bp.get("/price-list/")
@require_permission("price_list", "read")
def price_list_index():
    """The clinic's services with their prices and tax rates; search by name or code."""
    q = request.args.get("q", "")[:100]
    archived = request.args.get("archived") == "1"
    page = paginate(price_list.search(q, include_archived=archived), page_number(), 50)
    return render("billing/price_list.html", block="results", page=page, q=q, archived=archived)


def _form_page(form, item=None):
    """Add or edit a price list item; a code another item has is refused beside the code."""
    return save_form("billing/price_form.html", form, item, name="item",
                     create=price_list.create, update=price_list.update,
                     duplicate=(price_list.Duplicate, "code", "Another item already has this code."),
                     added=lambda item: f"{item.name} added to the price list.",
                     redirect_to=lambda item: url_for("billing.price_list_index"))


@bp.route("/price-list/new", methods=["GET", "POST"])
@require_permission("price_list", "create")
def price_item_new():
    """Add a service to the price list."""
    return _form_page(PriceItemForm().setup(clinic_settings()))


@bp.route("/price-list/<item_id>/edit", methods=["GET", "POST"])
@require_permission("price_list", "update")
def price_item_edit(item_id):
    """Edit a price list item (invoices already made keep the price they were made with)."""
    item = get_or_404(PriceItem, item_id)
    return _form_page(PriceItemForm.for_item(item, clinic_settings()), item)


# Archived: no longer offered on new invoice lines.
archive_routes(bp, "/price-list/<item_id>", PriceItem, require_permission("price_list", "update"),
               price_list.set_active, endpoint_prefix="price_item_",
               done=lambda item, active: (f"{item.name} {'restored' if active else 'archived'}.",
                                          url_for("billing.price_list_index")))
