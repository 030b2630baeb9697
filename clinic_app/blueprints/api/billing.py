"""Billing API: invoices (list, get, create a draft, finalise), payments, credit notes, and the reports
(/api/v1/reports/<name>?from=&to=, the same figures as the pages and CSV). Amounts in minor units."""
from flask import request
from flask_login import current_user

from ...localtime import clinic_settings
from ...models import Invoice, Patient, PriceItem, Visit
from ...models.invoicing import INVOICE_STATUSES
from ...pagination import paginate
from ...permissions import require_permission
from ...services import reports
from ...services.billing import credit_notes, invoices, payments, sources
from ...services.reports.common import as_json
from ..common import get_or_404
from ..reports.views import report_args
from .base import attempt, body, bp, fail, ok, page_meta, paging
from .billing_schemas import CreditNoteIn, InvoiceIn, PaymentIn, credit_note_json, invoice_json, payment_json


def _user():
    return current_user._get_current_object()


@bp.get("/invoices")
@require_permission("invoices", "read")
def invoices_list():
    """Invoices, newest first: ?status=, ?patient_id= (lines left out; GET one for them)."""
    status = request.args.get("status")
    if status and status not in INVOICE_STATUSES:
        return fail(400, "Unknown status.", {"status": ", ".join(INVOICE_STATUSES)})
    qs = Invoice.objects
    if request.args.get("patient_id"):
        qs = qs.filter(patient=get_or_404(Patient, request.args["patient_id"]))
    if status:
        qs = qs.filter(status=status)
    page = paginate(qs.exclude("lines", "taxes").order_by("-created_at"), *paging())
    return ok([invoice_json(i, with_lines=False) for i in page.items], meta=page_meta(page))


@bp.get("/invoices/<invoice_id>")
@require_permission("invoices", "read")
def invoices_get(invoice_id):
    """One invoice with its lines, tax breakdown, payments and credit notes."""
    inv = get_or_404(Invoice, invoice_id)
    return ok({**invoice_json(inv), "payments": [payment_json(p) for p in payments.of_invoice(inv)],
               "credit_notes": [credit_note_json(n) for n in credit_notes.of_invoice(inv)]})


def _line(given, settings):
    item = get_or_404(PriceItem, given.price_item_id) if given.price_item_id else None
    return invoices.make_line(
        given.description or item.name, given.quantity,
        given.unit_price if given.unit_price is not None else item.price,
        given.tax_rate if given.tax_rate is not None else (item.tax_rate if item else 0),
        given.discount_kind, given.discount_value, kind="service" if item else "other",
        code=item.code if item else None, price_item_id=item.pk if item else None, tax_names=settings.tax_names())


@bp.post("/invoices")
@require_permission("invoices", "create")
def invoices_create():
    """Create a draft: for a visit (its unbilled items: from_visit "all", "none" or a list of source keys)
    and/or with hand-made lines."""
    given = body(InvoiceIn)
    visit = get_or_404(Visit, given.visit_id) if given.visit_id else None
    patient = get_or_404(Patient, given.patient_id) if given.patient_id else visit.patient
    settings = clinic_settings()
    lines = attempt(lambda: [_line(ln, settings) for ln in given.lines])
    candidates = []
    if visit is not None and given.from_visit != "none":
        wanted = None if given.from_visit == "all" else set(given.from_visit)
        candidates = [c for c in sources.for_visit(visit, settings)
                      if c.available and (wanted is None or c.key in wanted)]
        if wanted is not None and len(candidates) != len(wanted):
            return fail(409, "Some of these items are billed already or are not this visit's.",
                        {"from_visit": "Unknown or billed: " + ", ".join(sorted(wanted - {c.key for c in candidates}))})
    if not candidates and not lines and visit is not None and given.from_visit == "all":
        return fail(409, "Nothing of this visit is left to bill.")
    inv = attempt(lambda: invoices.create_draft(patient, _user(), visit=visit, candidates=candidates, lines=lines,
                                                note=given.note))
    return ok(invoice_json(inv), 201)


@bp.post("/invoices/<invoice_id>/finalise")
@require_permission("invoices", "create")
def invoices_finalise(invoice_id):
    """Finalise a draft: the next number of the clinic's series; 409 when already finalised."""
    inv = get_or_404(Invoice, invoice_id)
    inv = attempt(lambda: invoices.finalise(inv, _user()))
    return ok(invoice_json(inv))


@bp.post("/invoices/<invoice_id>/payments")
@require_permission("invoices", "create")
def invoices_pay(invoice_id):
    """Record a payment {amount, method, reference}; the part above the balance becomes patient credit."""
    inv = get_or_404(Invoice, invoice_id)
    given = body(PaymentIn)
    payment, inv = attempt(lambda: payments.record_payment(inv, given.amount, given.method, _user(), given.reference))
    return ok({"payment": payment_json(payment), "invoice": invoice_json(inv, with_lines=False)}, 201)


@bp.post("/invoices/<invoice_id>/credit-notes")
@require_permission("invoices", "update")
def invoices_credit(invoice_id):
    """Issue a credit note {reason, lines: [{line, quantity}]} (lines left out: everything left)."""
    inv = get_or_404(Invoice, invoice_id)
    given = body(CreditNoteIn)
    quantities = None if given.lines is None else {}
    for ln in given.lines or []:
        quantities[ln.line - 1] = quantities.get(ln.line - 1, 0) + ln.quantity
    note, inv = attempt(lambda: credit_notes.issue(inv, given.reason, _user(), quantities))
    return ok({"credit_note": credit_note_json(note), "invoice": invoice_json(inv, with_lines=False)}, 201)


@bp.get("/reports/<name>")
@require_permission("reports", "read")
def reports_get(name):
    """A report as JSON: ?from=&to= (clinic-local dates), ?period= for the periodic ones. Outstanding
    balances (every open invoice, not bounded by dates) come a page at a time: ?page=, `meta.has_next`;
    the totals are of all of them (the CSV has every row)."""
    start, end, options = report_args(name)
    if "page" in reports.REPORTS[name][3]:
        options["page"] = paging()[0]
    report = reports.run(name, start, end, **options)
    return ok(as_json(report), **({"meta": page_meta(report.page)} if report.page else {}))
