"""Invoices: drafts (from a visit or by hand) and their lines, finalising, voiding.

A draft is changed only through `_change_draft`: one transaction that inserts the claims of the
sources it gains, releases those of the lines it loses, and replaces the invoice guarded by its
`rev` and status. So a source is on at most one invoice (the claim's unique index), a stale page
cannot overwrite a newer change, and nothing changes once the invoice is finalised (409).
"""
from bson import ObjectId
from pymongo.errors import BulkWriteError, DuplicateKeyError

from ... import clock
from ...models import BillingClaim, Invoice, Settings
from ...models.invoicing import InvoiceLine, TaxLine
from ...tenancy import current_tenant_id
from .. import audit
from ..errors import Conflict, NotAllowed, Refused  # noqa: F401  (NotAllowed: the billing views catch it here)
from ..visits import ref_id
from . import numbering, sources, totals


# Billing's names for the shared refusals (services/errors.py): Conflict is finalised (immutable), or
# changed by someone else meanwhile.
BillingError = Refused


FINALISED = "This invoice is finalised: it cannot be changed. Correct it with a credit note, or void it."
CHANGED = "This invoice was changed by someone else meanwhile. Reload it and try again."


def who(user):
    return getattr(user, "name", None) or "system"


# -- arithmetic onto the documents -------------------------------------------------------


def make_line(description, quantity, unit_price, tax_rate=0, discount_kind=None, discount_value=0, kind="other",
              source=None, code=None, price_item_id=None, tax_names=None):
    """An InvoiceLine with its amounts computed; raises BillingError for impossible numbers."""
    line = InvoiceLine(description=(description or "").strip()[:250], quantity=quantity, unit_price=unit_price,
                       tax_rate=tax_rate or 0, discount_kind=discount_kind or None,
                       discount_value=discount_value or 0, kind=kind, source=source, code=code,
                       price_item_id=price_item_id)
    if not line.description:
        raise BillingError("Describe the line.")
    _amounts(line, tax_names or {})
    return line


def _amounts(line, tax_names):
    try:
        a = totals.line_amounts(line.quantity, line.unit_price, line.discount_kind, line.discount_value, line.tax_rate)
    except totals.TotalsError as exc:
        raise BillingError(str(exc)) from None
    line.gross, line.discount, line.net, line.tax = a.gross, a.discount, a.net, a.tax
    line.tax_name = tax_names.get(line.tax_rate) or (None if not line.tax_rate else "Tax")
    return a


def line_from(candidate, tax_names):
    return make_line(candidate.description, candidate.quantity, candidate.unit_price, candidate.tax_rate,
                     kind=candidate.kind, source=candidate.key, code=candidate.code,
                     price_item_id=candidate.price_item_id, tax_names=tax_names)


def compute(invoice, tax_names=None):
    """Recompute every line, the totals, the tax breakdown and the balance (see totals.py); raises
    BillingError for a line or a total it cannot hold (the invoice in memory is then not to be stored)."""
    names = tax_names if tax_names is not None else Settings.current().tax_names()
    pairs = [(ln.tax_rate or 0, _amounts(ln, names)) for ln in invoice.lines]
    try:
        t = totals.invoice_totals(pairs, names)
    except totals.TotalsError as exc:
        raise BillingError(str(exc)) from None
    invoice.subtotal, invoice.discount_total, invoice.tax_total, invoice.total = (
        t.subtotal, t.discount_total, t.tax_total, t.total)
    invoice.taxes = [TaxLine(rate=x.rate, name=x.name or totals.rate_label(x.rate), base=x.base, tax=x.tax)
                     for x in t.taxes]
    settle(invoice)
    return invoice


def settle(invoice):
    """balance = total - paid - credit applied - credit notes, and the status that follows from it."""
    invoice.balance = invoice.total - invoice.paid - invoice.credit_applied - invoice.credited
    if invoice.status in ("draft", "void"):
        return invoice
    if invoice.total > 0 and invoice.credited >= invoice.total:
        invoice.status = "credited"
    elif invoice.balance <= 0:
        invoice.status = "paid"
    elif invoice.paid + invoice.credit_applied + invoice.credited > 0:
        invoice.status = "partly_paid"
    else:
        invoice.status = "issued"
    return invoice


# -- guarded writes ----------------------------------------------------------------------------


def write(invoice, session, expected_rev, statuses):
    """Replace the stored invoice with `invoice` if it is still at `expected_rev` in one of `statuses`;
    raises numbering.Changed otherwise. Does not touch `invoice.rev` (a retried transaction re-runs this)."""
    invoice.validate()
    raw = invoice.to_mongo().to_dict()
    raw["rev"] = expected_rev + 1
    done = Invoice._get_collection().replace_one(
        {"_id": invoice.pk, "tenantId": current_tenant_id(), "rev": expected_rev, "status": {"$in": list(statuses)}},
        raw, session=session)
    if done.matched_count != 1:
        raise numbering.Changed()


def load(session, invoice_id):
    """The invoice as stored now, read inside `session` (None if gone)."""
    raw = Invoice._get_collection().find_one({"_id": invoice_id, "tenantId": current_tenant_id()}, session=session)
    return Invoice._from_son(raw) if raw else None


def _claim_docs(keys, invoice_id):
    tid, now = current_tenant_id(), clock.now()
    return [{"tenantId": tid, "sourceKey": k, "invoiceId": invoice_id, "at": now} for k in keys]


def _taken(keys):
    return sorted(c.source_key for c in BillingClaim.objects(source_key__in=list(keys)))


class AlreadyBilled(Conflict):
    def __init__(self, keys):
        self.keys = keys
        super().__init__("Already on another invoice: " + ", ".join(keys) + ". Nothing was changed.")


def _change_draft(invoice, gained=(), released=()):
    """Store the draft `invoice` (already changed in memory) with its claims, in one transaction."""
    expected = invoice.rev
    claims, invoices = BillingClaim._get_collection(), Invoice._get_collection()

    def apply(session):
        if gained:
            claims.insert_many(_claim_docs(gained, invoice.pk), session=session)
        if released:
            claims.delete_many({"tenantId": current_tenant_id(), "invoiceId": invoice.pk,
                                "sourceKey": {"$in": list(released)}}, session=session)
        if expected < 0:  # a new draft
            invoice.validate()
            raw = invoice.to_mongo().to_dict()
            raw["rev"] = 0
            invoices.insert_one(raw, session=session)
        else:
            write(invoice, session, expected, ("draft",))

    try:
        numbering.transaction(apply)
    except DuplicateKeyError:
        raise AlreadyBilled(_taken(gained)) from None
    except BulkWriteError as exc:
        if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
            raise
        raise AlreadyBilled(_taken(gained)) from None
    except numbering.Changed:
        raise _lost_draft(invoice) from None
    invoice.rev = expected + 1


def _lost_draft(invoice):
    """The Conflict for a draft write that matched nothing: finalised meanwhile, or changed."""
    current = Invoice.objects(pk=invoice.pk).only("status").first()
    return Conflict(FINALISED if current is not None and current.status != "draft" else CHANGED)


def _refuse_final(invoice):
    if not invoice.is_draft:
        raise Conflict(FINALISED)


# -- drafts ------------------------------------------------------------------------------------


def create_draft(patient, user, visit=None, candidates=(), lines=(), note=None):
    """A new draft for `patient` (optionally of `visit`) with the candidates' lines and `lines`.

    Raises BillingError (visit of another patient), AlreadyBilled (a candidate was taken meanwhile).
    """
    if visit is not None and ref_id(visit, "patient") != patient.pk:
        raise BillingError("This visit belongs to another patient.")
    settings = Settings.current()
    names = settings.tax_names()
    invoice = Invoice(id=ObjectId(), tenant_id=current_tenant_id(), patient=patient, patient_name=patient.full_name,
                      record_number=patient.record_number, visit=visit, currency=settings.currency,
                      created_at=clock.now(), created_by=who(user), note=(note or "").strip() or None)
    if visit is not None:
        invoice.practitioner_id = ref_id(visit, "provider")
        invoice.practitioner_name = visit.provider.name
    invoice.lines = [line_from(c, names) for c in candidates] + list(lines)
    compute(invoice, names)
    invoice.rev = -1
    _change_draft(invoice, gained=[c.key for c in candidates])
    audit.record("invoice.create", target=invoice, changes={
        "patient": str(patient.pk), "visit": str(visit.pk) if visit else None,
        "lines": [ln.source or ln.description for ln in invoice.lines], "total": invoice.total})
    return invoice


def create_from_visit(visit, user, keys=None, price_item=None):
    """A draft with the visit's unbilled items (`keys`: only these; None: all of them). Raises
    BillingError when nothing is left to bill, AlreadyBilled when one was taken meanwhile."""
    chosen = [c for c in sources.for_visit(visit, Settings.current(), price_item)
              if c.available and (keys is None or c.key in keys)]
    if not chosen:
        raise BillingError("Nothing of this visit is left to bill: add lines to a blank invoice instead.")
    return create_draft(visit.patient, user, visit=visit, candidates=chosen)


def add_from_visit(invoice, keys, user):
    """Add the visit's unbilled items `keys` to the draft `invoice` (items billed meanwhile are refused)."""
    _refuse_final(invoice)
    if invoice._data.get("visit") is None:
        raise BillingError("This invoice is not for a visit.")
    settings = Settings.current()
    chosen = [c for c in sources.for_visit(invoice.visit, settings) if c.available and c.key in set(keys)]
    if not chosen:
        raise BillingError("Choose at least one item that is not billed yet.")
    names = settings.tax_names()
    invoice.lines = list(invoice.lines) + [line_from(c, names) for c in chosen]
    compute(invoice, names)
    _change_draft(invoice, gained=[c.key for c in chosen])
    audit.record("invoice.line_add", target=invoice, changes={"lines": [c.key for c in chosen]})
    return invoice


def add_line(invoice, line, user):
    """Add a hand-made line (a price list item or free text) to a draft."""
    _refuse_final(invoice)
    if len(invoice.lines) >= 100:
        raise BillingError("An invoice has at most 100 lines.")
    invoice.lines = list(invoice.lines) + [line]
    compute(invoice)
    _change_draft(invoice)
    audit.record("invoice.line_add", target=invoice, changes={
        "line": line.description, "quantity": line.quantity, "unit_price": line.unit_price})
    return invoice


def _line(invoice, index):
    if not isinstance(index, int) or not 0 <= index < len(invoice.lines):
        raise BillingError("There is no such line on this invoice.")
    return invoice.lines[index]


EDITABLE = ("description", "quantity", "unit_price", "discount_kind", "discount_value", "tax_rate")
SOURCED_EDITABLE = ("discount_kind", "discount_value", "tax_rate")  # what was dispensed/ordered stays as recorded


def update_line(invoice, index, values, user):
    """Change a draft line: anything for a hand-made line; discount and tax for a sourced one."""
    _refuse_final(invoice)
    line = _line(invoice, index)
    changes = audit.apply_values(line, values, SOURCED_EDITABLE if line.source else EDITABLE)
    if not changes:
        return invoice
    if not (line.description or "").strip():
        raise BillingError("Describe the line.")
    compute(invoice)
    _change_draft(invoice)
    audit.record("invoice.line_update", target=invoice, changes={"line": index + 1, **changes})
    return invoice


def remove_line(invoice, index, user):
    """Remove a draft line; its source (if any) is released and offered again."""
    _refuse_final(invoice)
    line = _line(invoice, index)
    invoice.lines = [ln for i, ln in enumerate(invoice.lines) if i != index]
    compute(invoice)
    _change_draft(invoice, released=[line.source] if line.source else ())
    audit.record("invoice.line_remove", target=invoice, changes={"line": line.source or line.description})
    return invoice


def delete_draft(invoice, user):
    """Delete a draft and release its claims (a draft has no number, so no gap is left)."""
    _refuse_final(invoice)
    expected = invoice.rev

    def apply(session):
        gone = Invoice._get_collection().delete_one(
            {"_id": invoice.pk, "tenantId": current_tenant_id(), "status": "draft", "rev": expected},
            session=session)
        if gone.deleted_count != 1:
            raise numbering.Changed()
        BillingClaim._get_collection().delete_many({"tenantId": current_tenant_id(), "invoiceId": invoice.pk},
                                                   session=session)

    try:
        numbering.transaction(apply)
    except numbering.Changed:
        raise Conflict(CHANGED) from None
    audit.record("invoice.delete", target=invoice, changes={"patient": invoice.patient_name,
                                                            "total": invoice.total})


# -- finalising and voiding ---------------------------------------------------------------------


def finalise(invoice, user):
    """Give the draft the next number of the clinic's series and make it immutable, atomically.

    Raises BillingError (no lines), Conflict (already finalised, or changed meanwhile: nothing is
    taken from the series then)."""
    _refuse_final(invoice)
    if not invoice.lines:
        raise BillingError("Add at least one line before finalising.")
    settings, now = Settings.current(), clock.now()
    series, prefix, year = numbering.prepare("invoice", settings, now)
    expected = invoice.rev
    compute(invoice, settings.tax_names())

    def apply(session):
        n = numbering.take(session, series)
        invoice.number = numbering.format_number(prefix, year, n)
        invoice.status, invoice.issued_at, invoice.issued_by = "issued", now, who(user)
        settle(invoice)
        write(invoice, session, expected, ("draft",))

    try:
        numbering.transaction(apply)
    except numbering.Changed:
        invoice.number, invoice.status, invoice.issued_at = None, "draft", None
        raise _lost_draft(invoice) from None
    invoice.rev = expected + 1
    audit.record("invoice.finalise", target=invoice, changes={
        "number": invoice.number, "total": invoice.total, "tax": invoice.tax_total, "currency": invoice.currency})
    return invoice


def void(invoice, reason, user):
    """Void a finalised invoice that has no payments, credit or credit notes against it (it keeps its
    number and its claims). Otherwise: a credit note (and a refund) corrects it. Raises BillingError."""
    reason = (reason or "").strip()
    if not reason:
        raise BillingError("Give the reason for voiding.")
    if invoice.is_draft:
        raise BillingError("A draft has no number: delete it instead.")
    if invoice.status == "void":
        raise Conflict("This invoice is already void.")
    if invoice.paid or invoice.credit_applied or invoice.credited:
        raise Conflict("Payments, credit or credit notes are recorded against this invoice: issue a credit note "
                       "(and refund what was paid) instead of voiding it.")
    now = clock.now()
    done = Invoice.objects(pk=invoice.pk, rev=invoice.rev, status="issued", paid=0, credit_applied=0,
                           credited=0).modify(new=True, set__status="void", set__voided_at=now,
                                              set__voided_by=who(user), set__void_reason=reason[:500],
                                              set__balance=0, inc__rev=1)
    if done is None:
        raise Conflict(CHANGED)
    audit.record("invoice.void", target=done, changes={"number": done.number, "total": done.total, "reason": reason})
    return done
