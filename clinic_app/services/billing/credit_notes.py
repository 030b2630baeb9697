"""Credit notes: the only way to correct a finalised invoice (besides voiding an untouched one).

A credit note takes back whole units of invoice lines (all that is left of every line, or chosen
quantities of chosen lines). Its amounts are the line's remaining net and tax shared out by
quantity (half-up, totals.share), so crediting the rest of a line always gives back exactly what
is left of it. It is numbered from its own gap-free series (CN-2026-000001), taken in the same
transaction that stores it and updates the invoice. If the patient had paid more than the
corrected total, the balance goes negative: refund it, or refund it to the patient's credit.
"""
from bson import ObjectId

from ... import clock
from ...models import CreditNote, Settings
from ...models.invoicing import CreditNoteLine
from ...tenancy import current_tenant_id
from .. import audit
from ..visits import ref_id
from . import numbering, totals
from .invoices import CHANGED, BillingError, Conflict, load, settle, who, write

CREDITABLE = ("issued", "partly_paid", "paid")


def _lines(invoice, quantities):
    """CreditNoteLines for {line index: quantity} (None: everything left on every line)."""
    if quantities is None:
        quantities = {i: ln.creditable_quantity for i, ln in enumerate(invoice.lines) if ln.creditable_quantity > 0}
    out = []
    for index, qty in sorted(quantities.items()):
        if not qty:
            continue
        if not isinstance(index, int) or not 0 <= index < len(invoice.lines):
            raise BillingError("There is no such line on this invoice.")
        ln = invoice.lines[index]
        left = ln.creditable_quantity
        if not isinstance(qty, int) or qty < 0 or qty > left:
            raise BillingError(f"Line {index + 1}: at most {left} can be credited.")
        net = totals.share(ln.net - ln.credited_net, qty, left)
        tax = totals.share(ln.tax - ln.credited_tax, qty, left)
        out.append(CreditNoteLine(line=index, description=ln.description, quantity=qty, net=net, tax=tax,
                                  tax_rate=ln.tax_rate or 0))
    if not out:
        raise BillingError("Choose what to credit.")
    return out


def issue(invoice, reason, user, quantities=None):
    """Issue a credit note for `invoice` (`quantities` {line index: units}, None for all that is left).

    Returns (credit note, invoice). Raises BillingError (nothing chosen, too much, no reason),
    Conflict (draft, void, fully credited, or changed meanwhile)."""
    reason = (reason or "").strip()
    if not reason:
        raise BillingError("Give the reason for the credit note.")
    if invoice.status not in CREDITABLE:
        raise Conflict("A draft is edited, not credited." if invoice.is_draft else
                       f"This invoice is {invoice.status}: it cannot be credited.")
    settings, now = Settings.current(), clock.now()
    series, prefix, year = numbering.prepare("credit_note", settings, now)
    expected = invoice.rev
    out = {}

    def apply(session):
        inv = load(session, invoice.pk)
        if inv is None or inv.rev != expected or inv.status not in CREDITABLE:
            raise numbering.Changed()
        lines = _lines(inv, quantities)
        subtotal, tax_total = sum(x.net for x in lines), sum(x.tax for x in lines)
        if subtotal + tax_total <= 0:
            raise BillingError("There is nothing left to credit on these lines.")
        n = numbering.take(session, series)
        note = CreditNote(id=ObjectId(), tenant_id=current_tenant_id(), number=numbering.format_number(prefix, year, n),
                          invoice=inv.pk, invoice_number=inv.number, patient=ref_id(inv, "patient"),
                          practitioner_id=inv.practitioner_id, currency=inv.currency, lines=lines, subtotal=subtotal,
                          tax_total=tax_total, total=subtotal + tax_total, reason=reason[:500], issued_at=now,
                          issued_by_id=getattr(user, "pk", None), issued_by=who(user))
        note.validate()
        CreditNote._get_collection().insert_one(note.to_mongo().to_dict(), session=session)
        for x in lines:
            ln = inv.lines[x.line]
            ln.credited_quantity += x.quantity
            ln.credited_net += x.net
            ln.credited_tax += x.tax
        inv.credited += note.total
        settle(inv)
        write(inv, session, expected, CREDITABLE)
        inv.rev = expected + 1
        out["note"], out["invoice"] = note, inv

    try:
        numbering.transaction(apply)
    except numbering.Changed:
        raise Conflict(CHANGED) from None
    note = out["note"]
    audit.record("credit_note.issue", target=out["invoice"], changes={
        "credit_note": note.number, "invoice": note.invoice_number, "total": note.total, "reason": reason,
        "lines": {str(x.line + 1): x.quantity for x in note.lines}, "currency": note.currency})
    return note, out["invoice"]


def of_invoice(invoice):
    return list(CreditNote.objects(invoice=invoice).order_by("issued_at"))
