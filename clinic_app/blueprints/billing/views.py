"""Invoices: the list, a new invoice from a visit or by hand, the draft's lines, finalise, void,
credit notes, the printable invoice, and the patient's account block.

Drafting (lines, finalise, discard a draft) needs invoices:create, so a receptionist can bill a
visit from start to finish; voiding and credit notes change a finalised invoice: invoices:update.
"""
from flask import abort, flash, request, url_for
from wtforms.fields.choices import SelectChoice

from ...localtime import clinic_settings
from ...models import CreditNote, Invoice, Patient, Visit
from ...models.invoicing import INVOICE_STATUSES
from ...money import major_str
from ...pagination import paginate
from ...permissions import require_permission
from ...services import patients as patient_svc
from ...services.billing import credit_notes, invoices, payments, price_list, sources
from ...services.billing.totals import rate_label
from ...services.visits import ref_id
from ...web import htmx_redirect, render
from ..common import get_or_404, page_number
from .base import STATUS_LABELS, attempt, bill_money, bp, invoice_form, load_invoice, show_page, to_invoice, user
from .forms import CreditNoteForm, EmptyForm, LineEditForm, LineForm, ReasonForm

PER_PAGE = 25


@bp.get("/")
@require_permission("invoices", "read")
def index():
    """Invoices, newest first; by status, or one patient's."""
    status = request.args.get("status", "")
    status = status if status in INVOICE_STATUSES else ""
    qs = Invoice.objects
    patient = get_or_404(Patient, request.args["patient_id"]) if request.args.get("patient_id") else None
    if patient is not None:
        qs = qs.filter(patient=patient)
    if status:
        qs = qs.filter(status=status)
    # Newest first; the id breaks ties, so invoices made in the same second keep the order they were made in.
    page = paginate(qs.exclude("lines", "taxes").order_by("-created_at", "-id"), page_number(), PER_PAGE)
    return render("billing/index.html", block="results", page=page, status_filter=status, patient=patient,
                  statuses=STATUS_LABELS)


# -- a new invoice ---------------------------------------------------------------------------


@bp.get("/new")
@require_permission("invoices", "create")
def new():
    """Start an invoice: find the patient, then bill one of their visits or start a blank invoice."""
    patient = get_or_404(Patient, request.args["patient_id"]) if request.args.get("patient_id") else None
    q = request.args.get("q", "")[:100]
    found = [] if patient is not None or not q else list(patient_svc.search(q).limit(20))
    visits = []
    if patient is not None:
        item = sources.visit_price_item()  # the same for every visit: read once, not per visit
        for v in Visit.objects(patient=patient).order_by("-started_at").limit(10):
            candidates = sources.for_visit(v, clinic_settings(), item)
            visits.append({"visit": v, "open": sum(1 for c in candidates if c.available), "all": len(candidates)})
    return render("billing/new.html", block="patients", patient=patient, q=q, found=found, visits=visits,
                  form=EmptyForm())


@bp.post("/new")
@require_permission("invoices", "create")
def create_blank():
    """A blank draft for the patient (lines are added by hand)."""
    patient = get_or_404(Patient, request.form.get("patient_id"))
    invoice = invoices.create_draft(patient, user())
    flash("Draft invoice started: add its lines, then finalise it.", "success")
    return to_invoice(invoice)


@bp.route("/visits/<visit_id>", methods=["GET", "POST"])
@require_permission("invoices", "create")
def from_visit(visit_id):
    """The visit's billable items (its consultation, dispensed medicines, lab tests); tick and create."""
    visit = get_or_404(Visit, visit_id)
    settings = clinic_settings()
    items = price_list.choices()
    chosen_item = next((i for i in items if str(i.pk) == request.values.get("price_item_id")), None)
    candidates = sources.for_visit(visit, settings, chosen_item)
    message, status = None, 200
    if request.method == "POST" and EmptyForm().validate_on_submit():
        keys = set(request.form.getlist("source"))
        try:
            invoice = invoices.create_from_visit(visit, user(), keys=keys, price_item=chosen_item) if keys else None
        except invoices.BillingError as exc:
            message, status = str(exc), exc.status
        else:
            if invoice is not None:
                n = len(invoice.lines)
                flash(f"Draft invoice with {n} line{'' if n == 1 else 's'} from the visit: check them, then "
                      "finalise it.", "success")
                return to_invoice(invoice)
            message, status = "Tick at least one item to bill.", 422
        candidates = sources.for_visit(visit, settings, chosen_item)
    billed_on = {c.claimed_by for c in candidates if c.claimed_by}
    numbers = {i.pk: i.label for i in Invoice.objects(pk__in=list(billed_on)).only("number")} if billed_on else {}
    return render("billing/from_visit.html", block="items", status=status, visit=visit, candidates=candidates,
                  numbers=numbers, items=[i for i in items if i.kind == "consultation"], chosen_item=chosen_item,
                  default_item=sources.visit_price_item(), message=message, form=EmptyForm())


# -- one invoice -------------------------------------------------------------------------------


@bp.get("/<invoice_id>")
@require_permission("invoices", "read")
def show(invoice_id):
    """An invoice: lines, totals with the tax breakdown, payments, credit notes and what can be done next."""
    return show_page(load_invoice(invoice_id))


@bp.get("/<invoice_id>/print")
@require_permission("invoices", "read")
def print_invoice(invoice_id):
    """The print-friendly invoice (clinic header, patient, lines, taxes, payments, balance, footer)."""
    invoice = load_invoice(invoice_id)
    return render("billing/print.html", invoice=invoice, settings=clinic_settings(),
                  payment_list=[p for p in payments.of_invoice(invoice) if p.status == "recorded"],
                  notes=credit_notes.of_invoice(invoice))


def _line_index(text):
    """A line's 0-based index from the URL; 404 for anything else (lines are few: 0..99)."""
    if not (isinstance(text, str) and text.isascii() and text.isdigit() and len(text) <= 3):
        abort(404, description="There is no such line on this invoice.")
    return int(text)


@bp.post("/<invoice_id>/lines")
@require_permission("invoices", "create")
def add_line(invoice_id):
    """Add a line to a draft: an item of the price list or free text."""
    invoice = load_invoice(invoice_id)
    form = LineForm().setup(clinic_settings(), price_list.choices())
    if not form.validate_on_submit():
        return show_page(invoice, status=422, line_form=form)
    attempt(invoice, lambda: invoices.add_line(
        invoice, invoices.make_line(tax_names=clinic_settings().tax_names(), **form.values()), user()))
    return to_invoice(invoice, "lines")


@bp.route("/<invoice_id>/lines/<index>", methods=["GET", "POST"])
@require_permission("invoices", "create")
def edit_line(invoice_id, index):
    """Change a draft line (a line from a visit keeps its quantity and price: only discount and tax)."""
    invoice, index = load_invoice(invoice_id), _line_index(index)
    if index >= len(invoice.lines):
        abort(404, description="There is no such line on this invoice.")
    line, settings = invoice.lines[index], clinic_settings()
    source = {}  # none given: Flask-WTF reads the request (formdata=None would mean "no data at all")
    if line.source and request.method == "POST" and not request.is_json:
        # The page disables description, quantity and price of a visit's line, so a browser does not send
        # them: validate the recorded values instead (whatever is sent for them is ignored).
        sent = request.form.copy()
        sent.setlist("description", [line.description])
        sent.setlist("quantity", [str(line.quantity)])
        sent.setlist("unit_price", [major_str(line.unit_price, invoice.currency)])
        source = {"formdata": sent}
    form = LineEditForm(obj=None if request.method == "POST" else line, **source).setup(settings)
    if str(line.tax_rate or 0) not in {c.value for c in form.tax_rate.choices}:  # a rate since removed in settings
        form.tax_rate.choices.append(SelectChoice(str(line.tax_rate), f"{line.tax_name or 'Tax'} "
                                                                      f"({rate_label(line.tax_rate)})"))
    if request.method == "GET":
        form.unit_price.data = major_str(line.unit_price, invoice.currency)
        form.tax_rate.data = str(line.tax_rate or 0)
        form.discount_kind.data = line.discount_kind or ""
        form.discount_value.data = ("" if not line.discount_kind else major_str(line.discount_value, invoice.currency)
                                    if line.discount_kind == "amount" else rate_label(line.discount_value)[:-1])
    return invoice_form("billing/line_form.html", form, invoice, lambda: invoices.update_line(
        invoice, index, form.values(), user()), anchor="lines", line=line, index=index)


@bp.post("/<invoice_id>/lines/<index>/remove")
@require_permission("invoices", "create")
def remove_line(invoice_id, index):
    """Remove a draft line; a line from a visit becomes billable again."""
    invoice, index = load_invoice(invoice_id), _line_index(index)
    if index >= len(invoice.lines):
        abort(404, description="There is no such line on this invoice.")
    attempt(invoice, lambda: invoices.remove_line(invoice, index, user()))
    return to_invoice(invoice, "lines")


@bp.post("/<invoice_id>/visit-items")
@require_permission("invoices", "create")
def add_visit_items(invoice_id):
    """Add the visit's items billed on no invoice yet (e.g. a lab test ordered after the draft began)."""
    invoice = load_invoice(invoice_id)
    attempt(invoice, lambda: invoices.add_from_visit(invoice, request.form.getlist("source"), user()))
    return to_invoice(invoice, "lines")


@bp.post("/<invoice_id>/finalise")
@require_permission("invoices", "create")
def finalise(invoice_id):
    """Finalise the draft: it gets the next number of the clinic's series and cannot be edited again."""
    invoice = load_invoice(invoice_id)
    invoice = attempt(invoice, lambda: invoices.finalise(invoice, user()))
    flash(f"Invoice {invoice.number} finalised.", "success")
    return to_invoice(invoice)


@bp.post("/<invoice_id>/delete")
@require_permission("invoices", "create")
def delete(invoice_id):
    """Discard a draft (it has no number); what it billed from a visit is offered again."""
    invoice = load_invoice(invoice_id)
    attempt(invoice, lambda: invoices.delete_draft(invoice, user()))
    flash("Draft discarded.", "success")
    return htmx_redirect(url_for("billing.index"), status=303)


@bp.route("/<invoice_id>/void", methods=["GET", "POST"])
@require_permission("invoices", "update")
def void(invoice_id):
    """Void a finalised invoice nothing was paid or credited on; it keeps its number, shown as void."""
    invoice, form = load_invoice(invoice_id), ReasonForm()
    return invoice_form("billing/void.html", form, invoice, lambda: invoices.void(invoice, form.reason.data, user()),
                        lambda _: f"Invoice {invoice.number} is void.")


def _quantities(invoice):
    """{line index: units} from the credit note form's qty-<n> fields (1-based n)."""
    out = {}
    for i, ln in enumerate(invoice.lines):
        raw = (request.form.get(f"qty-{i + 1}") or "").strip()
        if raw:
            if not (raw.isascii() and raw.isdigit() and len(raw) <= 6):
                raise invoices.BillingError(f"Line {i + 1}: enter a whole number of units, at most "
                                            f"{ln.creditable_quantity}.")
            out[i] = int(raw)
    return out


@bp.route("/<invoice_id>/credit-note", methods=["GET", "POST"])
@require_permission("invoices", "update")
def credit_note(invoice_id):
    """Issue a credit note: everything left, or chosen quantities of chosen lines."""
    invoice, form = load_invoice(invoice_id), CreditNoteForm()

    def issue():
        chosen = _quantities(invoice)
        if form.mode.data == "full" and any(chosen.values()):
            # Units typed under "everything left" would silently credit the whole invoice.
            raise invoices.BillingError("You typed units to credit: choose “Chosen quantities of chosen lines”, "
                                        "or clear the units to credit everything left.")
        note, _ = credit_notes.issue(invoice, form.reason.data, user(), None if form.mode.data == "full" else chosen)
        return note

    return invoice_form("billing/credit_note.html", form, invoice, issue,
                        lambda note: f"Credit note {note.number} issued for {bill_money(note.total, note.currency)}.")


@bp.get("/credit-notes/<note_id>")
@require_permission("invoices", "read")
def credit_note_print(note_id):
    """The print-friendly credit note."""
    note = get_or_404(CreditNote, note_id)
    return render("billing/credit_note_print.html", note=note, invoice=Invoice.objects(pk=ref_id(note, "invoice"))
                  .first(), settings=clinic_settings())


@bp.get("/patients/<patient_id>/account")
@require_permission("invoices", "read")
def patient_account(patient_id):
    """The patient's balance, credit and recent invoices; a block of the patient page."""
    patient = get_or_404(Patient, patient_id)
    recent = list(Invoice.objects(patient=patient).exclude("lines", "taxes").order_by("-created_at").limit(10))
    open_invoices = list(Invoice.objects(patient=patient, status__in=list(payments.SETTLEABLE)).only("balance"))
    owed = sum(i.balance for i in open_invoices if i.balance > 0)
    due_back = -sum(i.balance for i in open_invoices if i.balance < 0)
    return render("billing/account.html", block="account", patient=patient, recent=recent, owed=owed,
                  due_back=due_back, credit=payments.credit_available(patient))


from . import money_views, price_views  # noqa: E402,F401  (they add their routes to base.bp)
