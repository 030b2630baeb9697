"""The clinic's own billing: price list, invoices (lines, totals, status), credit notes, payments
and refunds, the patient credit ledger, and the claims that stop anything being billed twice.

Money is integer minor units of the invoice's currency (the clinic's at creation). Totals are
computed by services/billing/totals.py and stored on the invoice, so lists and reports read them
without recomputing. (models/billing.py is the platform's subscription payments, not this.)
"""
from mongoengine import (BooleanField, DateTimeField, EmbeddedDocument, EmbeddedDocumentListField, IntField,
                         ObjectIdField, StringField)

from .. import clock
from ..tenancy import TenantDocument, TenantReferenceField

PRICE_KINDS = {"consultation": "Consultation", "procedure": "Procedure", "other": "Other service"}
LINE_KINDS = ("service", "medicine", "lab", "other")
DISCOUNT_KINDS = ("amount", "percent")  # amount: minor units; percent: basis points (10% = 1000)
INVOICE_STATUSES = ("draft", "issued", "partly_paid", "paid", "void", "credited")
FINAL_STATUSES = ("issued", "partly_paid", "paid", "void", "credited")
OPEN_STATUSES = ("issued", "partly_paid")  # finalised with something still due
PAYMENT_METHODS = {"cash": "Cash", "card": "Card", "bank_transfer": "Bank transfer", "other": "Other"}
# A refund goes back by a payment method, or onto the patient's credit ("credit": no money moves).
REFUND_METHODS = {**PAYMENT_METHODS, "credit": "Patient credit"}
CREDIT_KINDS = ("overpayment", "refund_to_credit", "applied", "payment_deleted")


class PriceItem(TenantDocument):
    """A billable service (consultation type, procedure) with its price and tax rate."""

    meta = {
        "collection": "price_items",
        "indexes": [
            {"fields": ["tenant_id", "code"], "unique": True},
            {"fields": ["tenant_id", "active", "kind", "name_lc"]},
        ],
    }

    code = StringField(required=True, max_length=30)
    name = StringField(required=True, max_length=120)
    name_lc = StringField(db_field="nameLc")
    kind = StringField(required=True, choices=tuple(PRICE_KINDS), default="consultation")
    price = IntField(required=True, min_value=0)
    tax_rate = IntField(db_field="taxRate", min_value=0, max_value=10000, default=0)  # basis points
    # The consultation a visit is billed with when nobody picks another (one per clinic, kept by the service).
    visit_default = BooleanField(db_field="visitDefault", default=False)
    active = BooleanField(default=True)
    created_at = DateTimeField(db_field="createdAt", default=lambda: clock.now())
    updated_at = DateTimeField(db_field="updatedAt", default=lambda: clock.now())

    def clean(self):
        self.code = (self.code or "").strip().upper()
        self.name = (self.name or "").strip()
        self.name_lc = self.name.lower()
        self.updated_at = clock.now()

    def __str__(self):
        return f"{self.name} ({self.code})"


class InvoiceLine(EmbeddedDocument):
    """One line. `source` says what it bills ("visit_service:<visit>", "dispense:<id>",
    "lab_item:<order>:<code>"), None for hand-made lines; the amounts are set by the totals."""

    source = StringField(max_length=120)
    kind = StringField(choices=LINE_KINDS, default="other")
    code = StringField(max_length=30)
    description = StringField(required=True, max_length=250)
    price_item_id = ObjectIdField(db_field="priceItemId")
    quantity = IntField(required=True, min_value=1)
    unit_price = IntField(db_field="unitPrice", required=True, min_value=0)
    discount_kind = StringField(db_field="discountKind", choices=DISCOUNT_KINDS)
    discount_value = IntField(db_field="discountValue", min_value=0, default=0)
    tax_rate = IntField(db_field="taxRate", min_value=0, max_value=10000, default=0)
    tax_name = StringField(db_field="taxName", max_length=40)
    gross = IntField(default=0)
    discount = IntField(default=0)
    net = IntField(default=0)
    tax = IntField(default=0)
    # What credit notes have taken back from this line so far.
    credited_quantity = IntField(db_field="creditedQuantity", default=0)
    credited_net = IntField(db_field="creditedNet", default=0)
    credited_tax = IntField(db_field="creditedTax", default=0)

    @property
    def total(self):
        return (self.net or 0) + (self.tax or 0)

    @property
    def creditable_quantity(self):
        return self.quantity - (self.credited_quantity or 0)


class TaxLine(EmbeddedDocument):
    """One rate of the tax breakdown: the net it applies to and the sum of the lines' taxes."""

    rate = IntField(required=True)
    name = StringField(max_length=40)
    base = IntField(required=True)
    tax = IntField(required=True)


class Invoice(TenantDocument):
    meta = {
        "collection": "invoices",
        "indexes": [
            # Drafts have no number; every number is unique in the clinic.
            {"fields": ["tenant_id", "number"], "unique": True, "name": "unique_number",
             "partialFilterExpression": {"number": {"$exists": True}}},
            {"fields": ["tenant_id", "-created_at"]},
            {"fields": ["tenant_id", "status", "-created_at"]},
            {"fields": ["tenant_id", "patient", "-created_at"]},
            {"fields": ["tenant_id", "visit"]},
            # Reports: issued in a period; open invoices by age.
            {"fields": ["tenant_id", "issued_at"]},
            {"fields": ["tenant_id", "voided_at"]},
            {"fields": ["tenant_id", "status", "issued_at"]},
        ],
    }

    number = StringField(max_length=40)
    status = StringField(required=True, choices=INVOICE_STATUSES, default="draft")
    patient = TenantReferenceField("Patient", required=True)
    patient_name = StringField(db_field="patientName")
    record_number = StringField(db_field="recordNumber")
    visit = TenantReferenceField("Visit")
    practitioner_id = ObjectIdField(db_field="practitionerId")  # the visit's provider, for reports
    practitioner_name = StringField(db_field="practitionerName")
    currency = StringField(required=True, min_length=3, max_length=3)
    lines = EmbeddedDocumentListField(InvoiceLine)
    taxes = EmbeddedDocumentListField(TaxLine)
    subtotal = IntField(default=0)
    discount_total = IntField(db_field="discountTotal", default=0)
    tax_total = IntField(db_field="taxTotal", default=0)
    total = IntField(default=0)
    paid = IntField(default=0)  # payments applied, net of refunds
    credit_applied = IntField(db_field="creditApplied", default=0)  # patient credit used on it
    credited = IntField(default=0)  # credit notes
    balance = IntField(default=0)  # total - paid - credit_applied - credited
    note = StringField(max_length=1000)
    rev = IntField(default=0)  # bumped by every change, so concurrent changes cannot both win
    created_at = DateTimeField(db_field="createdAt", default=lambda: clock.now())
    created_by = StringField(db_field="createdBy")
    issued_at = DateTimeField(db_field="issuedAt")
    issued_by = StringField(db_field="issuedBy")
    voided_at = DateTimeField(db_field="voidedAt")
    voided_by = StringField(db_field="voidedBy")
    void_reason = StringField(db_field="voidReason", max_length=500)

    @property
    def is_draft(self):
        return self.status == "draft"

    @property
    def label(self):
        return self.number or "Draft invoice"

    def __str__(self):
        return self.label


class CreditNoteLine(EmbeddedDocument):
    line = IntField(required=True, min_value=0)  # index of the invoice line
    description = StringField(required=True)
    quantity = IntField(required=True, min_value=1)
    net = IntField(required=True, min_value=0)
    tax = IntField(required=True, min_value=0)
    tax_rate = IntField(db_field="taxRate", default=0)

    @property
    def total(self):
        return self.net + self.tax


class CreditNote(TenantDocument):
    """A correction of a finalised invoice (full or per line), numbered from its own series."""

    meta = {
        "collection": "credit_notes",
        "indexes": [
            {"fields": ["tenant_id", "number"], "unique": True},
            {"fields": ["tenant_id", "invoice", "issued_at"]},
            {"fields": ["tenant_id", "issued_at"]},
            {"fields": ["tenant_id", "patient", "-issued_at"]},
        ],
    }

    number = StringField(required=True, max_length=40)
    invoice = TenantReferenceField("Invoice", required=True)
    invoice_number = StringField(db_field="invoiceNumber")
    patient = TenantReferenceField("Patient", required=True)
    practitioner_id = ObjectIdField(db_field="practitionerId")
    currency = StringField(required=True)
    lines = EmbeddedDocumentListField(CreditNoteLine)
    subtotal = IntField(required=True)
    tax_total = IntField(db_field="taxTotal", required=True)
    total = IntField(required=True)
    reason = StringField(required=True, max_length=500)
    issued_at = DateTimeField(db_field="issuedAt", required=True)
    issued_by_id = ObjectIdField(db_field="issuedById")
    issued_by = StringField(db_field="issuedBy")

    def __str__(self):
        return self.number


class Payment(TenantDocument):
    """Money received for an invoice (positive) or refunded (negative, with a reason).

    `applied` is the part that counts against the invoice; an overpayment's rest
    (`amount - applied`) goes to the patient's credit. A refund "to credit" moves no money:
    it takes `applied` off the invoice and puts it on the patient's credit.
    """

    meta = {
        "collection": "payments",
        "indexes": [
            {"fields": ["tenant_id", "invoice", "received_at"]},
            {"fields": ["tenant_id", "received_at"]},
            {"fields": ["tenant_id", "patient", "-received_at"]},
        ],
    }

    invoice = TenantReferenceField("Invoice", required=True)
    invoice_number = StringField(db_field="invoiceNumber")
    patient = TenantReferenceField("Patient", required=True)
    practitioner_id = ObjectIdField(db_field="practitionerId")
    currency = StringField(required=True)
    amount = IntField(required=True)
    applied = IntField(required=True)
    method = StringField(required=True, choices=tuple(REFUND_METHODS))
    reference = StringField(max_length=120)
    reason = StringField(max_length=500)  # refunds
    refund_of = ObjectIdField(db_field="refundOf")
    received_at = DateTimeField(db_field="receivedAt", required=True, default=lambda: clock.now())
    received_by_id = ObjectIdField(db_field="receivedById")
    received_by = StringField(db_field="receivedBy")
    status = StringField(choices=("recorded", "deleted"), default="recorded")
    deleted_at = DateTimeField(db_field="deletedAt")
    deleted_by = StringField(db_field="deletedBy")
    delete_reason = StringField(db_field="deleteReason", max_length=500)

    @property
    def is_refund(self):
        return self.amount < 0

    @property
    def to_credit(self):
        """What this payment put on the patient's credit."""
        return self.amount - self.applied if self.amount > 0 else (-self.applied if self.method == "credit" else 0)

    def __str__(self):
        return f"{'refund' if self.is_refund else 'payment'} {self.amount} {self.currency}"


class PatientCredit(TenantDocument):
    """The patient credit ledger (append-only): + overpayments and refunds to credit, - credit used."""

    meta = {
        "collection": "patient_credits",
        "indexes": [
            {"fields": ["tenant_id", "patient", "at"]},
            {"fields": ["tenant_id", "at"]},
        ],
    }

    patient = TenantReferenceField("Patient", required=True)
    amount = IntField(required=True)
    kind = StringField(required=True, choices=CREDIT_KINDS)
    invoice_id = ObjectIdField(db_field="invoiceId")
    payment_id = ObjectIdField(db_field="paymentId")
    currency = StringField(required=True)
    at = DateTimeField(required=True, default=lambda: clock.now())
    by = StringField()


class CreditBalance(TenantDocument):
    """A patient's credit balance (the ledger's sum), changed only by a guarded $inc inside the
    same transaction as its ledger entry, so two desks cannot spend the same credit twice."""

    meta = {"collection": "credit_balances", "indexes": [{"fields": ["tenant_id", "patient_id"], "unique": True}]}

    patient_id = ObjectIdField(db_field="patientId", required=True)
    balance = IntField(default=0, min_value=0)


class BillingClaim(TenantDocument):
    """A source (visit service, dispense, lab item) taken by an invoice line.

    The unique (tenant, source_key) index is what makes "never billed twice" hold under
    concurrency. Inserted with the line; released only when a draft's line is removed or the
    draft is deleted. A finalised invoice keeps its claims even when voided or credited, so
    that source is never offered again (re-bill it by hand if it really is owed).
    """

    meta = {
        "collection": "billing_claims",
        "indexes": [
            {"fields": ["tenant_id", "source_key"], "unique": True},
            {"fields": ["tenant_id", "invoice_id"]},
        ],
    }

    source_key = StringField(db_field="sourceKey", required=True, max_length=120)
    invoice_id = ObjectIdField(db_field="invoiceId", required=True)
    at = DateTimeField(default=lambda: clock.now())
