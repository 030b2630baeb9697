"""Prescriptions: list, write from a visit (allergy and duplicate-therapy checks), the prescription
page, issue, cancel, print; dispensing: the queue, dispense a line FEFO, cancel a dispense."""
import re

from flask import Blueprint, abort, flash, make_response, request, url_for
from flask_login import current_user

from ...localtime import clinic_settings
from ...models import Dispense, Medicine, Patient, Prescription, Visit
from ...models.pharmacy import PRESCRIPTION_STATUSES as STATUSES
from ...models.prefetch import prefetch
from ...pagination import paginate
from ...permissions import require_permission
from ...services.pharmacy import dispensing, prescribing, printout
from ...services.visits import ref_id
from ...web import htmx_redirect, render
from ..common import get_or_404, page_number, read_or_404
from .forms import MAX_LINES, CancelForm, DispenseForm, PrescriptionForm

bp = Blueprint("prescriptions", __name__, url_prefix="/prescriptions")
PER_PAGE = 25


@bp.app_template_global("rx_line_text")
def rx_line_text(line):
    return prescribing.line_text(line)


@bp.app_template_global("rx_line_name")
def rx_line_name(line):
    return prescribing.line_name(line)


@bp.app_template_global("rx_for_visit")
def rx_for_visit(visit):
    return list(Prescription.objects(visit=visit).order_by("created_at").limit(50))


@bp.app_template_global("rx_may_edit")
def rx_may_edit(rx):
    return current_user.can("prescriptions", "update") and prescribing.may_edit(rx, current_user)


@bp.app_template_global("rx_amount")
def rx_amount(value, unit):
    return prescribing.amount_text(value, unit)


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


def _form(posted, data=None):
    # Posted: the request's form (AppForm refuses a JSON body with 415); else the draft's data, or blank.
    form = PrescriptionForm() if posted else PrescriptionForm(formdata=None, data=data)
    if posted and "add_line" in request.form and len(form.lines) < MAX_LINES:
        form.lines.append_entry()
    form.set_medicines(Medicine.objects(active=True).order_by("name_lc", "strength_lc").limit(1000))
    return form


def _row_key(row):
    """What an allergy override was written for: the line's medicine (or its free text)."""
    return str(row.get("medicine_id") or "") or (row.get("free_text") or "").strip().lower()


def _posted_overrides(rows):
    """{row index: reason} from the override-N fields, each kept only while line N still holds the
    medicine it was written for (override-for-N), so a reason never carries over to another drug."""
    found = {}
    for key, reason in request.form.items():
        n = key.removeprefix("override-")
        if n.isdigit() and len(n) < 3 and int(n) < len(rows) \
                and request.form.get(f"override-for-{n}") == _row_key(rows[int(n)]):
            found[int(n)] = reason
    return found


def _prescribe(visit, rx=None):
    """The prescription form: a new one for `visit`, or the draft `rx` being edited (same checks)."""
    posted = request.method == "POST"
    form = _form(posted, None if posted or rx is None else prescribing.draft_rows(rx))
    message, status, warnings, overrides = None, 200, None, {}
    rows = form.rows()
    if posted:
        overrides = _posted_overrides(rows)
    elif rx is not None and rx.overrides:
        # The reasons already given show again, beside the matches as they stand now.
        warnings = prescribing.NeedsOverride(*prescribing.warnings_of(rx))
        overrides = {o.line: o.reason for o in rx.overrides}
    if posted and "add_line" not in request.form:
        if form.validate():
            user = current_user._get_current_object()
            options = {"issue": request.form.get("action") != "draft", "overrides": overrides,
                       "confirm_duplicates": form.confirm_duplicates.data,
                       "amendment_reason": form.amendment_reason.data}
            try:
                rx = prescribing.create(visit, rows, user, **options) if rx is None \
                    else prescribing.update_draft(rx, rows, user, **options)
            # 422 on the page whatever the cause: htmx swaps only 2xx/422 into the form.
            except prescribing.NeedsOverride as exc:
                message, status, warnings = str(exc), 422, exc
            except prescribing.PrescriptionError as exc:
                message, status = str(exc), 422
                _line_errors(form, exc.errors)
                if visit.locked and not form.amendment_reason.data:
                    form.amendment_reason.errors = ["Give the reason for amending the signed visit."]
            else:
                flash("Prescription issued." if rx.status == "issued" else "Prescription saved as a draft.", "success")
                return htmx_redirect(url_for("prescriptions.show", prescription_id=rx.pk))
        else:
            status = 422
    filled = [i + 1 for i, entry in enumerate(form.lines) if not entry.form.blank()]
    return render("prescriptions/form.html", block="form", status=status, form=form, visit=visit, rx=rx,
                  patient=visit.patient, message=message, warnings=warnings, overrides=overrides,
                  override_keys={i: _row_key(row) for i, row in enumerate(rows)},
                  line_number=lambda i: filled[i] if i < len(filled) else i + 1)


@bp.route("/new", methods=["GET", "POST"])
@require_permission("prescriptions", "create")
def create():
    """Write a prescription from a visit: lines, computed quantities, allergy override, amendment if signed."""
    return _prescribe(get_or_404(Visit, request.values.get("visit_id")))


@bp.route("/<prescription_id>/edit", methods=["GET", "POST"])
@require_permission("prescriptions", "update")
def edit(prescription_id):
    """Edit a draft (its prescriber or an Admin): the same form and checks; an issued one never changes."""
    rx = get_or_404(Prescription, prescription_id)
    if rx.status != "draft":
        flash("Only a draft can be edited; an issued prescription cannot change.", "error")
        return htmx_redirect(url_for("prescriptions.show", prescription_id=rx.pk))
    if not prescribing.may_edit(rx, current_user):
        abort(403)
    if rx.visit is None:
        abort(404)
    return _prescribe(rx.visit, rx)


def _line_errors(form, errors):
    """Put per-line service errors (indexes of non-blank lines) beside the field they are about."""
    filled = [entry for entry in form.lines if not entry.form.blank()]
    for i, error in errors.items():
        if i < len(filled):
            field = filled[i].form[getattr(error, "field", "medicine_id")]
            field.errors = list(field.errors or []) + [error]


def _show(rx, message=None, status=200, cancel_form=None):
    dispenses = dispensing.of_prescription(rx)
    return render("prescriptions/show.html", block="status", status=status, rx=rx, dispenses=dispenses,
                  message=message, cancel_form=cancel_form or CancelForm(formdata=None),
                  frequency_text=prescribing.frequency_text)


@bp.get("/<prescription_id>")
@require_permission("prescriptions", "read")
def show(prescription_id):
    """The prescription: lines in plain language, status, dispenses with the lots used."""
    rx = read_or_404(Prescription, prescription_id, "prescription.view")
    return _show(rx)


def _transition(rx, step, done, form=None):
    """Run `step()` on `rx`; a refusal is shown on the prescription's page (422), else flash `done` and back to it."""
    try:
        step()
    except prescribing.PrescriptionError as exc:
        return _show(rx, str(exc), 422, form)
    flash(done, "success")
    return htmx_redirect(url_for("prescriptions.show", prescription_id=rx.pk))


@bp.post("/<prescription_id>/issue")
@require_permission("prescriptions", "update")
def issue(prescription_id):
    """Issue a draft prescription (it can then be dispensed)."""
    rx = get_or_404(Prescription, prescription_id)
    return _transition(rx, lambda: prescribing.issue(rx), "Prescription issued.")


@bp.post("/<prescription_id>/cancel")
@require_permission("prescriptions", "update")
def cancel(prescription_id):
    """Cancel a prescription with a reason (what was dispensed stays dispensed)."""
    rx = get_or_404(Prescription, prescription_id)
    form = CancelForm()
    if not form.validate():
        return _show(rx, "Give the reason for cancelling.", 422, form)
    return _transition(rx, lambda: prescribing.cancel(rx, form.reason.data), "Prescription cancelled.", form)


@bp.get("/<prescription_id>/print")
@require_permission("prescriptions", "read")
def print_view(prescription_id):
    """A print-friendly prescription: clinic, prescriber, patient, date, lines in plain language."""
    rx = read_or_404(Prescription, prescription_id, "prescription.print")
    return render("prescriptions/print.html", rx=rx, settings=clinic_settings())


@bp.get("/<prescription_id>/pdf")
@require_permission("prescriptions", "read")
def pdf(prescription_id):
    """The prescription as a PDF download (the print page's content)."""
    rx = read_or_404(Prescription, prescription_id, "prescription.pdf")
    day = (rx.issued_at or rx.created_at).strftime("%Y-%m-%d")
    record = re.sub(r"[^A-Za-z0-9-]", "", rx.patient.record_number or "")
    response = make_response(printout.prescription_pdf(rx, clinic_settings()))
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="prescription-{record}-{day}.pdf"'
    response.headers["Cache-Control"] = "private, no-store"  # a patient's record: no shared caches
    return response


# -- dispensing -----------------------------------------------------------------------


@bp.get("/queue")
@require_permission("dispensing", "read")
def queue():
    """Prescriptions waiting to be dispensed, oldest first."""
    page = paginate(prescribing.queue(), page_number(), PER_PAGE)
    prefetch(page.items, "patient", "prescriber")
    return render("prescriptions/queue.html", block="results", page=page)


def _dispense_page(rx, form, message=None, status=200, line_error=None):
    """The dispensing panel; `line_error`: (line number, message) shown beside that line's quantity
    (or at the top when that line has no quantity field any more, e.g. another desk finished it)."""
    open_lines = {i + 1 for i, ln in enumerate(rx.lines) if rx.dispensable and ln.is_catalogue and ln.remaining}
    if line_error and line_error[0] not in open_lines:
        message, line_error = line_error[1], None
    dispenses = dispensing.of_prescription(rx)
    return render("prescriptions/dispense.html", block="lines", status=status, rx=rx, form=form,
                  message=message, dispenses=dispenses, line_error=line_error)


@bp.route("/<prescription_id>/dispense", methods=["GET", "POST"])
@require_permission("dispensing", "create")
def dispense(prescription_id):
    """Dispense a line fully or partly; the batches are chosen first-expiry-first-out."""
    rx = get_or_404(Prescription, prescription_id)
    form = DispenseForm()
    if request.method == "GET":
        return _dispense_page(rx, DispenseForm(formdata=None))
    # 422 whatever the cause, shown in the panel (htmx swaps 422), beside the line's quantity.
    if not form.validate():
        if form.line.errors:
            return _dispense_page(rx, form, form.line.errors[0], 422)
        return _dispense_page(rx, form, status=422, line_error=(form.line.data, form.quantity.errors[0]))
    try:
        record = dispensing.dispense(rx, form.line.data - 1, form.quantity.data, current_user._get_current_object())
    except dispensing.DispenseError as exc:
        rx.reload()
        return _dispense_page(rx, form, status=422, line_error=(form.line.data, str(exc)))
    flash(f"Dispensed {prescribing.amount_text(record.quantity, rx.lines[record.line].unit)} of "
          f"{record.medicine_name} from lot {record.lots}.", "success")
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
