"""Pharmacy: catalogue (search as you type), a medicine's batches, receive / adjust / write off,
and the stock lists (all, low, expiring, expired)."""
from flask import Blueprint, flash, request, url_for
from flask_login import current_user

from ...localtime import clinic_settings
from ...models import Medicine, StockBatch, StockMovement
from ...models.prefetch import prefetch
from ...money import format_money, major_str
from ...pagination import paginate
from ...permissions import require_permission
from ...services.pharmacy import catalogue, stock
from ...web import htmx_redirect, render
from ..common import get_or_404, page_number
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


def _beside_field(form, exc):
    """Put a refused stock operation's message beside its field; returns it when it has none (shown on top)."""
    if exc.field and exc.field in form:
        form[exc.field].errors = list(form[exc.field].errors or []) + [str(exc)]
        return None
    return str(exc)


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
    if form.validate_on_submit():
        try:
            if medicine is None:
                medicine = catalogue.create(form.values())
                flash(f"{medicine.label} added to the catalogue.", "success")
            else:
                catalogue.update(medicine, form.values())
                flash("Saved.", "success")
        except catalogue.Duplicate:
            form.name.errors.append("This clinic already has a medicine with this name, form and strength.")
        else:
            return htmx_redirect(url_for("inventory.show", medicine_id=medicine.pk))
    status = 422 if form.is_submitted() else 200
    return render("inventory/medicine_form.html", block="form", status=status, form=form, medicine=medicine)


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
    form = MedicineForm(obj=medicine)
    if not form.is_submitted():
        form.sale_price.data = major_str(medicine.sale_price or 0, clinic_settings().currency)
    return _medicine_form(_currency(form, "sale_price"), medicine)


@bp.post("/medicines/<medicine_id>/archive")
@require_permission("inventory", "update")
def archive(medicine_id):
    """Archive a medicine: no longer offered for prescribing or receiving; history kept."""
    medicine = get_or_404(Medicine, medicine_id)
    catalogue.set_active(medicine, False)
    flash(f"{medicine.label} was archived.", "success")
    return htmx_redirect(url_for("inventory.show", medicine_id=medicine.pk))


@bp.post("/medicines/<medicine_id>/restore")
@require_permission("inventory", "update")
def restore(medicine_id):
    """Restore an archived medicine."""
    medicine = get_or_404(Medicine, medicine_id)
    catalogue.set_active(medicine, True)
    flash(f"{medicine.label} was restored.", "success")
    return htmx_redirect(url_for("inventory.show", medicine_id=medicine.pk))


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
            message = _beside_field(form, exc)
        else:
            flash(f"Received {form.quantity.data} into lot {batch.lot}; {batch.on_hand} on hand.", "success")
            return htmx_redirect(url_for("inventory.show", medicine_id=medicine.pk))
    status = 422 if form.is_submitted() else 200
    return render("inventory/receive.html", block="form", status=status, form=form, medicine=medicine,
                  message=message)


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
            message = _beside_field(form, exc)
        else:
            flash(f"Lot {batch.lot} adjusted by {form.delta():+d}.", "success")
            return htmx_redirect(url_for("inventory.show", medicine_id=batch.medicine.pk))
    status = 422 if form.is_submitted() else 200
    return render("inventory/adjust.html", block="form", status=status, form=form, batch=batch, message=message)


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
