"""Prescriptions: list, write from a visit (allergy and duplicate-therapy checks), the prescription
page, issue, cancel, print; dispensing: the queue, dispense a line FEFO, cancel a dispense."""
from flask import Blueprint, abort, flash, request, url_for
from flask_login import current_user

from ...localtime import clinic_settings
from ...models import Dispense, Medicine, Patient, Prescription, Visit
from ...models.prefetch import prefetch
from ...pagination import paginate
from ...permissions import require_permission
from ...services import audit
from ...services.pharmacy import dispensing, prescribing
from ...services.visits import ref_id
from ...web import htmx_redirect, render
from ..common import get_or_404, page_number
from .forms import MAX_LINES, CancelForm, DispenseForm, PrescriptionForm

bp = Blueprint("prescriptions", __name__, url_prefix="/prescriptions")
PER_PAGE = 25
STATUSES = ("draft", "issued", "partly_dispensed", "dispensed", "cancelled")


@bp.app_template_global("rx_line_text")
def rx_line_text(line):
    return prescribing.line_text(line)


@bp.app_template_global("rx_line_name")
def rx_line_name(line):
    return prescribing.line_name(line)


@bp.app_template_global("rx_for_visit")
def rx_for_visit(visit):
    return list(Prescription.objects(visit=visit).order_by("created_at").limit(50))


@bp.app_template_global("rx_quantity")
def rx_quantity(line):
    return prescribing.line_quantity_text(line)


@bp.get("/")
@require_permission("prescriptions", "read")
def index():
    """Prescriptions, newest first; filter by status and patient."""
    status = request.args.get("status", "")
    status = status if status in STATUSES else ""
    patient = None
    if request.args.get("patient_id"):
        patient = get_or_404(Patient, request.args["patient_id"])
    page = paginate(prescribing.recent(status or None, patient), page_number(), PER_PAGE)
    prefetch(page.items, "patient", "prescriber")
    return render("prescriptions/index.html", block="results", page=page, status_filter=status, patient=patient,
                  statuses=STATUSES)


def _form(visit, formdata=None):
    form = PrescriptionForm(formdata=formdata)
    if formdata is not None and "add_line" in formdata and len(form.lines) < MAX_LINES:
        form.lines.append_entry()
    form.set_medicines(Medicine.objects(active=True).order_by("name_lc", "strength_lc").limit(1000))
    return form


@bp.route("/new", methods=["GET", "POST"])
@require_permission("prescriptions", "create")
def create():
    """Write a prescription from a visit: lines, computed quantities, allergy override, amendment if signed."""
    visit = get_or_404(Visit, request.values.get("visit_id"))
    posted = request.method == "POST"
    form = _form(visit, request.form if posted else None)
    message, status, warnings = None, 200, None
    overrides = {int(k.split("-", 1)[1]): v for k, v in request.form.items()
                 if k.startswith("override-") and k.split("-", 1)[1].isdigit()}
    if posted and "add_line" not in request.form:
        if form.validate():
            try:
                rx = prescribing.create(visit, form.rows(), current_user._get_current_object(),
                                        issue=request.form.get("action") != "draft", overrides=overrides,
                                        confirm_duplicates=form.confirm_duplicates.data,
                                        amendment_reason=form.amendment_reason.data)
            # 422 on the page whatever the cause: htmx swaps only 2xx/422 into the form.
            except prescribing.NeedsOverride as exc:
                message, status, warnings = str(exc), 422, exc
            except prescribing.PrescriptionError as exc:
                message, status = str(exc), 422
                _line_errors(form, exc.errors)
            else:
                flash("Prescription issued." if rx.status == "issued" else "Prescription saved as a draft.", "success")
                return htmx_redirect(url_for("prescriptions.show", prescription_id=rx.pk))
        else:
            status = 422
    return render("prescriptions/form.html", block="form", status=status, form=form, visit=visit,
                  patient=visit.patient, message=message, warnings=warnings, overrides=overrides)


def _line_errors(form, errors):
    """Put per-line service errors (indexes of non-blank lines) beside the line's medicine field."""
    filled = [entry for entry in form.lines if not entry.form.blank()]
    for i, error in errors.items():
        if i < len(filled):
            filled[i].form.medicine_id.errors = list(filled[i].form.medicine_id.errors or []) + [error]


def _show(rx, message=None, status=200, cancel_form=None):
    dispenses = dispensing.of_prescription(rx)
    return render("prescriptions/show.html", block="status", status=status, rx=rx, dispenses=dispenses,
                  message=message, cancel_form=cancel_form or CancelForm(formdata=None),
                  frequency_text=prescribing.frequency_text)


@bp.get("/<prescription_id>")
@require_permission("prescriptions", "read")
def show(prescription_id):
    """The prescription: lines in plain language, status, dispenses with the lots used."""
    rx = get_or_404(Prescription, prescription_id)
    audit.record("prescription.view", target=rx)
    return _show(rx)


@bp.post("/<prescription_id>/issue")
@require_permission("prescriptions", "update")
def issue(prescription_id):
    """Issue a draft prescription (it can then be dispensed)."""
    rx = get_or_404(Prescription, prescription_id)
    try:
        prescribing.issue(rx)
    except prescribing.PrescriptionError as exc:
        return _show(rx, str(exc), 422)
    flash("Prescription issued.", "success")
    return htmx_redirect(url_for("prescriptions.show", prescription_id=rx.pk))


@bp.post("/<prescription_id>/cancel")
@require_permission("prescriptions", "update")
def cancel(prescription_id):
    """Cancel a prescription with a reason (what was dispensed stays dispensed)."""
    rx = get_or_404(Prescription, prescription_id)
    form = CancelForm()
    if not form.validate():
        return _show(rx, "Give the reason for cancelling.", 422, form)
    try:
        prescribing.cancel(rx, form.reason.data)
    except prescribing.PrescriptionError as exc:
        return _show(rx, str(exc), 422, form)
    flash("Prescription cancelled.", "success")
    return htmx_redirect(url_for("prescriptions.show", prescription_id=rx.pk))


@bp.get("/<prescription_id>/print")
@require_permission("prescriptions", "read")
def print_view(prescription_id):
    """A print-friendly prescription: clinic, prescriber, patient, date, lines in plain language."""
    rx = get_or_404(Prescription, prescription_id)
    audit.record("prescription.print", target=rx)
    return render("prescriptions/print.html", rx=rx, settings=clinic_settings())


# -- dispensing -----------------------------------------------------------------------


@bp.get("/queue")
@require_permission("dispensing", "read")
def queue():
    """Prescriptions waiting to be dispensed, oldest first."""
    page = paginate(prescribing.queue(), page_number(), PER_PAGE)
    prefetch(page.items, "patient", "prescriber")
    return render("prescriptions/queue.html", block="results", page=page)


def _dispense_page(rx, form, message=None, status=200, done=None):
    dispenses = dispensing.of_prescription(rx)
    return render("prescriptions/dispense.html", block="lines", status=status, rx=rx, form=form,
                  message=message, dispenses=dispenses, done=done)


@bp.route("/<prescription_id>/dispense", methods=["GET", "POST"])
@require_permission("dispensing", "create")
def dispense(prescription_id):
    """Dispense a line fully or partly; the batches are chosen first-expiry-first-out."""
    rx = get_or_404(Prescription, prescription_id)
    form = DispenseForm()
    if request.method == "GET":
        return _dispense_page(rx, DispenseForm(formdata=None))
    if not form.validate():
        return _dispense_page(rx, form, "Enter a quantity of at least 1.", 422)
    try:
        record = dispensing.dispense(rx, form.line.data - 1, form.quantity.data, current_user._get_current_object())
    except dispensing.DispenseError as exc:
        rx.reload()
        return _dispense_page(rx, form, str(exc), 422)  # shown in the panel (htmx swaps 422)
    flash(f"Dispensed {record.quantity} × {record.medicine_name} from lot {record.lots}.", "success")
    return htmx_redirect(url_for("prescriptions.dispense", prescription_id=rx.pk))


@bp.post("/dispenses/<dispense_id>/cancel")
@require_permission("dispensing", "delete")
def cancel_dispense(dispense_id):
    """Cancel a dispense: its units return to their batches through the ledger."""
    record = get_or_404(Dispense, dispense_id)
    try:
        dispensing.cancel(record, request.form.get("reason"), current_user._get_current_object())
    except dispensing.DispenseError as exc:
        abort(409, description=str(exc))
    flash(f"Dispense cancelled: {record.quantity} returned to stock.", "success")
    return htmx_redirect(url_for("prescriptions.dispense", prescription_id=ref_id(record, "prescription")))
