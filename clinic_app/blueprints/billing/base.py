"""The billing blueprint's `bp`, its template filters, and what its view modules share (loading the
invoice, the invoice page with a message, the two ways an invoice's action answers a refusal):
views.py, money_views.py and price_views.py import this."""
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, request, url_for
from flask_login import current_user

from ... import clock
from ...forms import SEND_A_FORM
from ...localtime import clinic_settings
from ...models import Invoice
from ...models.invoicing import REFUND_METHODS
from ...money import format_money
from ...services.billing import credit_notes, invoices, payments, price_list, sources
from ...services.billing.totals import rate_label
from ...web import htmx_redirect, render, render_form
from ..common import get_or_404, refuse
from .forms import EmptyForm, LineForm

bp = Blueprint("billing", __name__, url_prefix="/invoices")
STATUS_LABELS = {"draft": "Draft", "issued": "Issued", "partly_paid": "Partly paid", "paid": "Paid", "void": "Void",
                 "credited": "Credited"}


@bp.before_request
def web_forms_only():
    """Every billing POST is a web form: a JSON body is refused before anything is read or changed (the
    forms refuse it too, but finalise, remove line and the like read no form and would act on it)."""
    if request.method == "POST" and request.is_json:
        refuse(415, SEND_A_FORM)


@bp.app_template_filter("bill_money")
def bill_money(minor, currency=None):
    """Integer minor units for people, in `currency` (default: the clinic's)."""
    return format_money(minor or 0, currency or clinic_settings().currency)


@bp.app_template_global("billing_labels")
def billing_labels():
    return {"status": STATUS_LABELS, "method": REFUND_METHODS, "rate": rate_label}


def user():
    """The signed-in user (or API client) behind the proxy."""
    return current_user._get_current_object()


def load_invoice(invoice_id):
    """The invoice the URL names, or 404 (another clinic's too)."""
    return get_or_404(Invoice, invoice_id)


def to_invoice(invoice, anchor=None):
    """Redirect to the invoice page (at `anchor`), for htmx too.

    htmx follows HX-Redirect by setting location.href; from the invoice page itself a URL that differs
    only by its #fragment is a same-document jump, not a load, so the page would keep showing what it
    showed before the change: then HX-Refresh makes it reload (keeping the fragment)."""
    location = url_for("billing.show", invoice_id=invoice.pk, _anchor=anchor)
    response = htmx_redirect(location)
    current = urlsplit(request.headers.get("HX-Current-URL", ""))
    target = urlsplit(location)
    if "HX-Redirect" in response.headers and anchor and (current.path, current.query) == (target.path, target.query):
        response.headers["HX-Refresh"] = "true"
    return response


def show_page(invoice, status=200, message=None, line_form=None):
    """The invoice page, optionally with a refusal `message` and the status that goes with it."""
    settings = clinic_settings()
    draft = invoice.is_draft
    candidates = []
    if draft and invoice._data.get("visit") is not None:
        candidates = [c for c in sources.for_visit(invoice.visit, settings) if c.available]
    response = render("billing/show.html", status=status, invoice=invoice, message=message,
                      payment_list=payments.of_invoice(invoice) if not draft else [],
                      notes=credit_notes.of_invoice(invoice) if not draft else [],
                      credit=payments.credit_available(invoice.patient),
                      stale=sources.no_longer_billable(invoice.lines) if draft else [], candidates=candidates,
                      line_form=line_form or (LineForm().setup(settings, price_list.choices()) if draft else None),
                      form=EmptyForm(),
                      deletable_today=lambda p: payments.same_local_day(p.received_at, clock.now()))
    if request.method == "POST":
        # A refused form posted to /invoices/<id>/lines (and the like) shows the invoice page: htmx must not
        # put that POST-only address in the URL bar, where reloading it would answer 405.
        response.headers["HX-Push-Url"] = url_for("billing.show", invoice_id=invoice.pk)
    return response


def refused(invoice, exc):
    """The invoice page (as stored now) with a BillingError's message and status."""
    return show_page(Invoice.objects(pk=invoice.pk).first() or invoice, status=exc.status, message=str(exc))


def attempt(invoice, act):
    """`act()`'s result, for a button on the invoice page; a refusal (BillingError) ends the request with
    that page showing its message and status."""
    try:
        return act()
    except invoices.BillingError as exc:
        abort(refused(invoice, exc))


def invoice_form(template, form, invoice, act, flashed=None, anchor=None, **context):
    """An invoice's form page (`template`'s "form" block, with `context`), 422 when the post is invalid.

    A valid post runs `act()`, flashes `flashed(its result)` and goes back to the invoice (at `anchor`);
    a refusal (BillingError) shows the form again with its message and status."""
    message, status = None, None
    if form.validate_on_submit():
        try:
            done = act()
        except invoices.BillingError as exc:
            message, status = str(exc), exc.status
        else:
            if flashed is not None:
                flash(flashed(done), "success")
            return to_invoice(invoice, anchor)
    return render_form(template, form, status=status, invoice=invoice, message=message, **context)
