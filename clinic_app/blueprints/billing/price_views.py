"""The price list (services: consultation types, procedures): list, add, edit, archive/restore."""
from flask import flash, request, url_for

from ...localtime import clinic_settings
from ...models import PriceItem
from ...money import major_str
from ...pagination import paginate
from ...permissions import require_permission
from ...services.billing import price_list
from ...web import htmx_redirect, render
from ..common import get_or_404, page_number
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
    if form.validate_on_submit():
        try:
            if item is None:
                item = price_list.create(form.values())
                flash(f"{item.name} added to the price list.", "success")
            else:
                price_list.update(item, form.values())
                flash("Saved.", "success")
        except price_list.Duplicate:
            form.code.errors.append("Another item already has this code.")
        else:
            return htmx_redirect(url_for("billing.price_list_index"))
    status = 422 if form.is_submitted() else 200
    return render("billing/price_form.html", block="form", status=status, form=form, item=item)


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
    form = PriceItemForm(obj=item)
    if not form.is_submitted():
        form.price.data = major_str(item.price, clinic_settings().currency)
        form.tax_rate.data = str(item.tax_rate or 0)
    return _form_page(form.setup(clinic_settings()), item)


@bp.post("/price-list/<item_id>/archive")
@require_permission("price_list", "update")
def price_item_archive(item_id):
    """Archive an item: no longer offered on new lines."""
    item = get_or_404(PriceItem, item_id)
    price_list.set_active(item, False)
    flash(f"{item.name} archived.", "success")
    return htmx_redirect(url_for("billing.price_list_index"))


@bp.post("/price-list/<item_id>/restore")
@require_permission("price_list", "update")
def price_item_restore(item_id):
    """Restore an archived item."""
    item = get_or_404(PriceItem, item_id)
    price_list.set_active(item, True)
    flash(f"{item.name} restored.", "success")
    return htmx_redirect(url_for("billing.price_list_index"))
