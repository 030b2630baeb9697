"""Billing API bodies (strict, extra="forbid") and the JSON of invoices, payments and credit notes.

Amounts are integer minor units of the invoice's `currency` (as everywhere in the API: 1250 USD is
$12.50); percentages and tax rates are basis points (10% = 1000).
"""
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from ...models.invoicing import PAYMENT_METHODS
from ...services.visits import ref_id
from .schemas import ObjectIdStr, Strict, iso_or_none

Minor = Annotated[int, Field(ge=0, le=10**13)]
Positive = Annotated[int, Field(ge=1, le=10**13)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
SourceKey = Annotated[str, StringConstraints(
    pattern=r"^(visit_service|dispense|lab_item):[0-9a-f]{24}(:[A-Za-z0-9._-]{1,30})?$")]


class LineIn(Strict):
    price_item_id: ObjectIdStr | None = None
    description: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=250)] | None = None
    quantity: Annotated[int, Field(ge=1, le=100_000)] = 1
    unit_price: Minor | None = None  # null: the price list item's price
    discount_kind: Literal["amount", "percent"] | None = None
    discount_value: Annotated[int, Field(ge=0, le=10**13)] = 0
    tax_rate: Annotated[int, Field(ge=0, le=10000)] | None = None  # null: the item's rate, else 0

    @model_validator(mode="after")
    def named(self):
        if self.price_item_id is None and (self.description is None or self.unit_price is None):
            raise ValueError("give price_item_id, or a description and a unit_price")
        if self.discount_kind == "percent" and self.discount_value > 10000:
            raise ValueError("a percent discount_value is in basis points: at most 10000 (100%)")
        return self


class InvoiceIn(Strict):
    patient_id: ObjectIdStr | None = None  # may be left out with visit_id
    visit_id: ObjectIdStr | None = None
    # With visit_id: the visit's unbilled items to put on it ("all", or these source keys).
    from_visit: Literal["all", "none"] | Annotated[list[SourceKey], Field(max_length=100)] = "all"
    lines: Annotated[list[LineIn], Field(max_length=100)] = []
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None = None

    @model_validator(mode="after")
    def for_someone(self):
        if self.patient_id is None and self.visit_id is None:
            raise ValueError("give patient_id or visit_id")
        return self


class PaymentIn(Strict):
    amount: Positive
    method: Literal[tuple(PAYMENT_METHODS)]
    reference: Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)] | None = None


class CreditNoteLineIn(Strict):
    line: Annotated[int, Field(ge=1, le=100)]  # 1-based, as on the invoice
    quantity: Annotated[int, Field(ge=1, le=100_000)]


class CreditNoteIn(Strict):
    reason: Reason
    lines: Annotated[list[CreditNoteLineIn], Field(min_length=1, max_length=100)] | None = None  # null: everything



def _id(doc, field):
    value = ref_id(doc, field)
    return str(value) if value else None


def line_json(i, ln):
    return {"line": i + 1, "source": ln.source, "kind": ln.kind, "code": ln.code, "description": ln.description,
            "price_item_id": str(ln.price_item_id) if ln.price_item_id else None, "quantity": ln.quantity,
            "unit_price": ln.unit_price, "discount_kind": ln.discount_kind, "discount_value": ln.discount_value,
            "tax_rate": ln.tax_rate, "gross": ln.gross, "discount": ln.discount, "net": ln.net, "tax": ln.tax,
            "total": ln.total, "credited_quantity": ln.credited_quantity or 0}


def invoice_json(inv, with_lines=True):
    out = {"id": str(inv.pk), "number": inv.number, "status": inv.status, "patient_id": _id(inv, "patient"),
           "patient_name": inv.patient_name, "visit_id": _id(inv, "visit"),
           "practitioner_id": str(inv.practitioner_id) if inv.practitioner_id else None,
           "currency": inv.currency, "subtotal": inv.subtotal, "discount_total": inv.discount_total,
           "tax_total": inv.tax_total, "total": inv.total, "paid": inv.paid, "credit_applied": inv.credit_applied,
           "credited": inv.credited, "balance": inv.balance, "created_at": iso_or_none(inv.created_at),
           "issued_at": iso_or_none(inv.issued_at), "voided_at": iso_or_none(inv.voided_at), "void_reason": inv.void_reason}
    if with_lines:
        out["lines"] = [line_json(i, ln) for i, ln in enumerate(inv.lines)]
        out["taxes"] = [{"rate": t.rate, "name": t.name, "base": t.base, "tax": t.tax} for t in inv.taxes]
    return out


def payment_json(p):
    return {"id": str(p.pk), "invoice_id": _id(p, "invoice"), "amount": p.amount, "applied": p.applied,
            "to_credit": p.to_credit, "method": p.method, "reference": p.reference, "reason": p.reason,
            "refund_of": str(p.refund_of) if p.refund_of else None, "currency": p.currency,
            "received_at": iso_or_none(p.received_at), "received_by": p.received_by, "status": p.status}


def credit_note_json(n):
    return {"id": str(n.pk), "number": n.number, "invoice_id": _id(n, "invoice"), "invoice_number": n.invoice_number,
            "currency": n.currency, "subtotal": n.subtotal, "tax_total": n.tax_total, "total": n.total,
            "reason": n.reason, "issued_at": iso_or_none(n.issued_at),
            "lines": [{"line": x.line + 1, "description": x.description, "quantity": x.quantity, "net": x.net,
                       "tax": x.tax} for x in n.lines]}
