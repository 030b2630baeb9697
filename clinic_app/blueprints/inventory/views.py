"""Pharmacy: catalogue (search as you type), a medicine's batches, receive / adjust / write off,
and the stock lists (all, low, expiring, expired)."""
from flask import Blueprint, flash, request, url_for
from flask_login import current_user

from ...localtime import clinic_settings
from ...models import Medicine, StockBatch, StockMovement
from ...models.prefetch import prefetch
from ...money import format_money
from ...pagination import paginate
from ...permissions import require_permission
from ...services.pharmacy import catalogue, stock
from ...web import htmx_redirect, render, render_form
from ..common import beside_field, get_or_404, page_number
from ..flows import archive_routes, save_form
from .forms import AdjustForm, MedicineForm, ReceiveForm

bp = Blueprint("inventory", __name__, url_prefix="/inventory")
PER_PAGE = 25
VIEWS = {"all": "All stock", "low": "Low stock", "expiring": "Expiring soon", "expired": "Expired"}


@bp.app_template_filter("rx_money")
def rx_money(minor):
    """Integer minor units in the clinic's currency, for people."""
    return format_money(minor or 0, clinic_settings().currency)


def _currency(form, *fields):
    for name in fields:
        form[name].currency = clinic_settings().currency
    return form


@bp.get("/")
@require_permission("inventory", "read")
def index():
    """The medicines catalogue with usable on-hand; search as you type."""
    q = request.args.get("q", "")[:100]
    archived = request.args.get("archived") == "1"
    page = paginate(catalogue.search(q, include_archived=archived), page_number(), PER_PAGE)
    totals = stock.usable_on_hand([m.pk for m in page.items]) if page.items else {}
    return render("inventory/index.html", block="results", page=page, q=q, archived=archived, totals=totals,
                  counts=stock.counts())


def _medicine_form(form, medicine=None):
    """Add or edit a catalogue medicine; a second one of the same name, form and strength is refused."""
    return save_form("inventory/medicine_form.html", form, medicine, name="medicine",
                     create=catalogue.create, update=catalogue.update,
                     duplicate=(catalogue.Duplicate, "name",
                                "This clinic already has a medicine with this name, form and strength."),
                     added=lambda medicine: f"{medicine.label} added to the catalogue.",
                     redirect_to=lambda medicine: url_for("inventory.show", medicine_id=medicine.pk))


@bp.route("/medicines/new", methods=["GET", "POST"])
@require_permission("inventory", "create")
def create():
    """Add a medicine to the catalogue."""
    return _medicine_form(_currency(MedicineForm(), "sale_price"))


@bp.get("/medicines/<medicine_id>")
@require_permission("inventory", "read")
def show(medicine_id):
    """A medicine: details, its batches (FEFO order) and recent movements."""
    medicine = get_or_404(Medicine, medicine_id)
    batches = list(StockBatch.objects(medicine=medicine).order_by("expiry", "lot").limit(100))
    movements = paginate(StockMovement.objects(medicine=medicine).order_by("-at"), page_number(), PER_PAGE)
    prefetch(movements.items, "batch")
    return render("inventory/show.html", block="movements", medicine=medicine, batches=batches,
                  movements=movements, today=stock.today(), counts=stock.counts(),
                  usable=stock.usable_on_hand([medicine.pk]).get(medicine.pk, 0))


@bp.route("/medicines/<medicine_id>/edit", methods=["GET", "POST"])
@require_permission("inventory", "update")
def edit(medicine_id):
    """Edit a catalogue medicine."""
    medicine = get_or_404(Medicine, medicine_id)
    return _medicine_form(MedicineForm.for_medicine(medicine, clinic_settings().currency), medicine)


# Archived: no longer offered for prescribing or receiving; its history is kept.
archive_routes(bp, "/medicines/<medicine_id>", Medicine, require_permission("inventory", "update"),
               catalogue.set_active,
               done=lambda medicine, active: (f"{medicine.label} was {'restored' if active else 'archived'}.",
                                              url_for("inventory.show", medicine_id=medicine.pk)))


@bp.route("/medicines/<medicine_id>/receive", methods=["GET", "POST"])
@require_permission("inventory", "create")
def receive(medicine_id):
    """Receive stock: a lot, its expiry, quantity, unit cost and supplier."""
    medicine = get_or_404(Medicine, medicine_id)
    form = _currency(ReceiveForm(), "unit_cost")
    message = None
    if form.validate_on_submit():
        try:
            batch = stock.receive(medicine, form.lot.data, form.expiry_date, form.quantity.data,
                                  form.unit_cost.minor(), form.supplier.data, current_user)
        except stock.StockError as exc:
            message = beside_field(form, exc)
        else:
            flash(f"Received {form.quantity.data} into lot {batch.lot}; {batch.on_hand} on hand.", "success")
            return htmx_redirect(url_for("inventory.show", medicine_id=medicine.pk))
    return render_form("inventory/receive.html", form, medicine=medicine, message=message)


@bp.route("/batches/<batch_id>/adjust", methods=["GET", "POST"])
@require_permission("inventory", "update")
def adjust(batch_id):
    """Adjust a batch's quantity with a reason (damaged, expired, returned, count correction, other)."""
    batch = get_or_404(StockBatch, batch_id)
    form = AdjustForm()
    message = None
    if form.validate_on_submit():
        try:
            stock.adjust(batch, form.delta(), form.reason.data, form.note.data, current_user)
        except stock.StockError as exc:
            message = beside_field(form, exc)
        else:
            flash(f"Lot {batch.lot} adjusted by {form.delta():+d}.", "success")
            return htmx_redirect(url_for("inventory.show", medicine_id=batch.medicine.pk))
    return render_form("inventory/adjust.html", form, batch=batch, message=message)


@bp.post("/batches/<batch_id>/write-off")
@require_permission("inventory", "update")
def write_off(batch_id):
    """Write off everything left in a batch (one click from the expired list)."""
    batch = get_or_404(StockBatch, batch_id)
    movement = stock.write_off(batch, current_user)
    flash(f"Wrote off {-movement.quantity} from lot {batch.lot}." if movement else f"Lot {batch.lot} is already empty.",
          "success")
    return htmx_redirect(request.form.get("next") if (request.form.get("next") or "").startswith("/inventory/")
                         else url_for("inventory.stock_list", view="expired"))


@bp.get("/stock")
@require_permission("inventory", "read")
def stock_list():
    """Stock lists: all batches with stock, low stock, expiring within the clinic's window, expired."""
    view = request.args.get("view", "all")
    view = view if view in VIEWS else "all"
    if view == "low":
        page = paginate(stock.low_stock(), page_number(), PER_PAGE)
    else:
        page = paginate(stock.batches(view), page_number(), PER_PAGE)
        prefetch(page.items, "medicine")
    return render("inventory/stock.html", block="results", page=page, view=view, views=VIEWS, today=stock.today(),
                  window=stock.expiry_window_days(), counts=stock.counts())
