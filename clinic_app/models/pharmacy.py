"""Pharmacy: the medicines catalogue, stock batches with an append-only movement ledger,
prescriptions (lines: a catalogue medicine or free text) and dispenses.

Quantities are integer counts of the medicine's dispensing unit; prices integer minor units.
A batch's `on_hand` changes only by a conditional `$inc` (services/pharmacy/stock.py) paired
with a StockMovement, so on-hand always equals the sum of the batch's movements.
"""
from mongoengine import (BooleanField, DateField, DateTimeField, EmbeddedDocument, EmbeddedDocumentListField,
                         FloatField, IntField, ListField, ObjectIdField, StringField)

from .. import clock
from ..tenancy import TenantDocument, TenantQuerySet, TenantReferenceField

FORMS = ("tablet", "capsule", "syrup", "cream", "injection", "drops", "inhaler", "other")
UNITS = ("tablet", "capsule", "ml", "g", "tube", "vial", "ampoule", "puff", "drop", "sachet", "patch", "unit")
MOVEMENT_KINDS = ("receive", "dispense", "adjust", "return", "write_off")
ADJUST_REASONS = {"damaged": "Damaged", "expired": "Expired", "returned": "Returned to supplier",
                  "count_correction": "Count correction", "other": "Other"}
PRESCRIPTION_STATUSES = ("draft", "issued", "partly_dispensed", "dispensed", "cancelled")
# Words in a medicine's name that already say its form (the label then does not repeat it).
_FORM_WORDS = {"tablet", "tablets", "capsule", "capsules", "syrup", "cream", "injection", "drops", "drop", "inhaler",
               "gel", "ointment", "lotion", "spray", "suspension", "solution", "patch", "patches", "sachet",
               "sachets", "salts", "suppository", "suppositories", "elixir", "powder"}


class Medicine(TenantDocument):
    meta = {
        "collection": "medicines",
        "indexes": [
            # Per-clinic unique (name, form, strength), case-insensitively.
            {"fields": ["tenant_id", "name_lc", "form", "strength_lc"], "unique": True, "name": "unique_medicine"},
            # Search as you type: prefix ranges on the lower-cased names.
            {"fields": ["tenant_id", "active", "name_lc"]},
            {"fields": ["tenant_id", "active", "generic_lc"]},
        ],
    }

    name = StringField(required=True, max_length=120)
    name_lc = StringField(db_field="nameLc")
    generic_name = StringField(db_field="genericName", max_length=120)
    generic_lc = StringField(db_field="genericLc")
    form = StringField(required=True, choices=FORMS)
    strength = StringField(max_length=60)  # "500 mg", "125 mg/5 ml"
    strength_lc = StringField(db_field="strengthLc", default="")
    dispensing_unit = StringField(db_field="dispensingUnit", required=True, choices=UNITS)
    pack_size = IntField(db_field="packSize", min_value=1, default=1)
    sale_price = IntField(db_field="salePrice", min_value=0, default=0)  # minor units per dispensing unit
    reorder_level = IntField(db_field="reorderLevel", min_value=0, default=0)
    active = BooleanField(default=True)
    created_at = DateTimeField(db_field="createdAt", default=lambda: clock.now())
    updated_at = DateTimeField(db_field="updatedAt", default=lambda: clock.now())

    def clean(self):
        self.name = (self.name or "").strip()
        self.generic_name = (self.generic_name or "").strip() or None
        self.strength = (self.strength or "").strip() or None
        self.name_lc = self.name.lower()
        self.generic_lc = (self.generic_name or "").lower() or None
        self.strength_lc = (self.strength or "").lower()
        self.updated_at = clock.now()

    @property
    def label(self):
        """'Amoxicillin 500 mg capsule'; the form is left out when the name already says what it is
        ('Salbutamol inhaler 100 mcg/dose', 'Diclofenac gel 1 %') or when it is "other"."""
        words = set((self.name or "").lower().replace("-", " ").split())
        form = None if self.form == "other" or words & _FORM_WORDS else self.form
        return " ".join(p for p in (self.name, self.strength, form) if p)

    def __str__(self):
        return self.label


class StockBatch(TenantDocument):
    meta = {
        "collection": "stock_batches",
        "indexes": [
            {"fields": ["tenant_id", "medicine", "lot"], "unique": True},
            # FEFO picking: one medicine's batches by expiry.
            {"fields": ["tenant_id", "medicine", "expiry"]},
            # Expiring / expired lists and dashboard counts: an expiry range, then on hand.
            {"fields": ["tenant_id", "expiry", "on_hand"]},
        ],
    }

    medicine = TenantReferenceField("Medicine", required=True)
    lot = StringField(required=True, max_length=40)
    expiry = DateField(required=True)
    on_hand = IntField(db_field="onHand", required=True, default=0, min_value=0)
    unit_cost = IntField(db_field="unitCost", min_value=0, default=0)  # minor units per dispensing unit
    supplier = StringField(max_length=120)
    received_at = DateTimeField(db_field="receivedAt", default=lambda: clock.now())

    def __str__(self):
        return f"lot {self.lot}"


class LedgerQuerySet(TenantQuerySet):
    """The stock ledger is append-only: reads and inserts, no update or delete."""

    def update(self, *args, **kwargs):
        raise PermissionError("stock movements cannot be changed")

    def modify(self, *args, **kwargs):
        raise PermissionError("stock movements cannot be changed")

    def delete(self, *args, **kwargs):
        raise PermissionError("stock movements cannot be deleted")


class StockMovement(TenantDocument):
    meta = {
        "collection": "stock_movements",
        "queryset_class": LedgerQuerySet,
        "indexes": [
            {"fields": ["tenant_id", "batch", "-at"]},
            {"fields": ["tenant_id", "medicine", "-at"]},
            {"fields": ["tenant_id", "dispense_id"]},
        ],
    }

    batch = TenantReferenceField("StockBatch", required=True)
    medicine = TenantReferenceField("Medicine", required=True)
    kind = StringField(required=True, choices=MOVEMENT_KINDS)
    quantity = IntField(required=True)  # signed: + into the batch, - out of it
    reason = StringField(choices=tuple(ADJUST_REASONS))
    note = StringField(max_length=300)
    dispense_id = ObjectIdField(db_field="dispenseId")
    by_id = ObjectIdField(db_field="byId")
    by = StringField(max_length=200)
    at = DateTimeField(required=True, default=lambda: clock.now())


class AllergyOverride(EmbeddedDocument):
    line = IntField(required=True, min_value=0)
    reason = StringField(required=True, max_length=500)
    matches = ListField(StringField(max_length=300))
    by_id = ObjectIdField(db_field="byId")
    at = DateTimeField()


class PrescriptionLine(EmbeddedDocument):
    # A catalogue medicine (id plus what it was when prescribed) or free text for an outside pharmacy.
    medicine_id = ObjectIdField(db_field="medicineId")
    medicine_name = StringField(db_field="medicineName", max_length=250)
    generic_lc = StringField(db_field="genericLc")
    form = StringField()
    unit = StringField()  # the dispensing unit
    free_text = StringField(db_field="freeText", max_length=250)
    dose = FloatField(min_value=0)
    dose_unit = StringField(db_field="doseUnit", max_length=20)
    route = StringField(max_length=30)
    frequency = StringField(max_length=10)
    every_hours = IntField(db_field="everyHours", min_value=1, max_value=72)
    duration_days = IntField(db_field="durationDays", min_value=1, max_value=365)
    quantity = IntField(min_value=0)
    refills = IntField(min_value=0, max_value=12, default=0)
    instructions = StringField(max_length=500)
    dispensed = IntField(min_value=0, default=0)

    @property
    def is_catalogue(self):
        return self.medicine_id is not None

    @property
    def allowed(self):
        """Units that may be dispensed in all: the quantity times (1 + refills)."""
        return (self.quantity or 0) * (1 + (self.refills or 0))

    @property
    def remaining(self):
        return max(0, self.allowed - (self.dispensed or 0))


class Prescription(TenantDocument):
    meta = {
        "collection": "prescriptions",
        "indexes": [
            {"fields": ["tenant_id", "-created_at"]},
            {"fields": ["tenant_id", "status", "-created_at"]},
            {"fields": ["tenant_id", "patient", "-created_at"]},
            {"fields": ["tenant_id", "patient", "status", "generics"]},
            {"fields": ["tenant_id", "visit"]},
        ],
    }

    visit = TenantReferenceField("Visit")
    patient = TenantReferenceField("Patient", required=True)
    prescriber = TenantReferenceField("User", required=True)
    status = StringField(required=True, choices=PRESCRIPTION_STATUSES, default="draft")
    lines = EmbeddedDocumentListField(PrescriptionLine)
    generics = ListField(StringField())  # lower-cased generics of the catalogue lines (duplicate therapy)
    overrides = EmbeddedDocumentListField(AllergyOverride)
    after_signing = BooleanField(db_field="afterSigning", default=False)
    amendment_reason = StringField(db_field="amendmentReason", max_length=500)
    created_at = DateTimeField(db_field="createdAt", default=lambda: clock.now())
    issued_at = DateTimeField(db_field="issuedAt")
    active_until = DateTimeField(db_field="activeUntil")
    cancelled_at = DateTimeField(db_field="cancelledAt")
    cancel_reason = StringField(db_field="cancelReason", max_length=500)

    @property
    def dispensable(self):
        return self.status in ("issued", "partly_dispensed")

    def __str__(self):
        return f"prescription of {self.created_at:%Y-%m-%d}" if self.created_at else "prescription"


class DispensedBatch(EmbeddedDocument):
    batch_id = ObjectIdField(db_field="batchId", required=True)
    lot = StringField(required=True)
    expiry = DateField()
    quantity = IntField(required=True, min_value=1)


class Dispense(TenantDocument):
    """What left the shelf for one prescription line; also what billing charges (medicine, quantity,
    unit price and currency at the time, visit, patient, status)."""

    meta = {
        "collection": "dispenses",
        "indexes": [
            {"fields": ["tenant_id", "prescription", "at"]},
            {"fields": ["tenant_id", "patient", "-at"]},
            {"fields": ["tenant_id", "visit", "status"]},
            {"fields": ["tenant_id", "status", "-at"]},
        ],
    }

    prescription = TenantReferenceField("Prescription", required=True)
    line = IntField(required=True, min_value=0)
    visit = TenantReferenceField("Visit")
    patient = TenantReferenceField("Patient", required=True)
    medicine = TenantReferenceField("Medicine", required=True)
    medicine_name = StringField(db_field="medicineName")
    quantity = IntField(required=True, min_value=1)
    unit_price = IntField(db_field="unitPrice", required=True, min_value=0)
    currency = StringField(required=True)
    batches = EmbeddedDocumentListField(DispensedBatch)
    status = StringField(required=True, choices=("active", "cancelled"), default="active")
    by_id = ObjectIdField(db_field="byId")
    by = StringField(max_length=200)
    at = DateTimeField(required=True, default=lambda: clock.now())
    cancelled_at = DateTimeField(db_field="cancelledAt")
    cancel_reason = StringField(db_field="cancelReason", max_length=300)

    @property
    def lots(self):
        return ", ".join(b.lot for b in self.batches)
