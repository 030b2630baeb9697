"""Laboratory: the test catalogue (tests, panels, reference ranges), orders with specimens, results.

Orders copy what they need from the catalogue at order time (code, name, unit, price), so editing
the catalogue later changes neither an order's bill nor how its results read. Results copy the
reference range they were flagged against, for the same reason.
"""
from mongoengine import (BooleanField, DateTimeField, DictField, EmbeddedDocument, EmbeddedDocumentField,
                         EmbeddedDocumentListField, FloatField, IntField, ListField, ObjectIdField, StringField,
                         ValidationError)

from .. import clock
from ..tenancy import TenantDocument, TenantReferenceField

RESULT_TYPES = ("numeric", "text", "choice")
RANGE_SEXES = ("any", "female", "male")
AGE_UNITS = ("days", "months", "years")
SPECIMENS = ("blood", "serum", "plasma", "whole blood", "urine", "stool", "swab", "sputum", "csf", "other")
PRIORITIES = ("routine", "urgent")
ORDER_STATUSES = ("ordered", "collected", "resulted", "reviewed", "cancelled")
WAITING = ("ordered", "collected")  # the outstanding-orders list
FLAGS = ("LL", "L", "N", "H", "HH", "A")


class ReferenceRange(EmbeddedDocument):
    """A normal band (low..high, inclusive) and critical limits, for a sex and an age span.

    Any limit may be missing. Ages are completed units at collection, both ends inclusive
    (see services/labs/flags.py).
    """

    sex = StringField(choices=RANGE_SEXES, default="any")
    age_min = IntField(db_field="ageMin", min_value=0)
    age_max = IntField(db_field="ageMax", min_value=0)
    age_unit = StringField(db_field="ageUnit", choices=AGE_UNITS, default="years")
    low = FloatField()
    high = FloatField()
    critical_low = FloatField(db_field="criticalLow")
    critical_high = FloatField(db_field="criticalHigh")

    FIELDS = ("sex", "age_min", "age_max", "age_unit", "low", "high", "critical_low", "critical_high")

    def copy(self):
        return ReferenceRange(**{f: getattr(self, f) for f in self.FIELDS})

    def clean(self):
        def ordered(*values):
            present = [v for v in values if v is not None]
            return all(a <= b for a, b in zip(present, present[1:]))

        if not ordered(self.critical_low, self.low, self.high, self.critical_high):
            raise ValidationError("Limits must satisfy critical low ≤ low ≤ high ≤ critical high.")
        if self.age_min is not None and self.age_max is not None and self.age_min > self.age_max:
            raise ValidationError("The age span's start must not be after its end.")


class LabTest(TenantDocument):
    meta = {
        "collection": "lab_tests",
        "indexes": [
            {"fields": ["tenant_id", "code"], "unique": True},
            {"fields": ["tenant_id", "active", "name"]},
        ],
    }

    code = StringField(required=True, max_length=30)
    name = StringField(required=True, max_length=120)
    loinc = StringField(max_length=20)
    specimen = StringField(choices=SPECIMENS, default="blood")
    result_type = StringField(db_field="resultType", choices=RESULT_TYPES, default="numeric", required=True)
    unit = StringField(max_length=30)
    decimals = IntField(min_value=0, max_value=4, default=1)
    choices = ListField(StringField(max_length=60), max_length=20)  # choice results: what may be picked
    normal_choices = ListField(StringField(max_length=60), db_field="normalChoices", max_length=20)
    price = IntField(min_value=0, default=0)  # minor units of the clinic's currency; billing reads it
    ranges = EmbeddedDocumentListField(ReferenceRange)
    # Ids of the starter catalogue's range additions this test has had (data/lab_catalogue.json,
    # range_additions): each is offered once, so a range the clinic deleted is not added back.
    starter_additions = ListField(StringField(max_length=40), db_field="starterAdditions", max_length=50)
    active = BooleanField(default=True)
    created_at = DateTimeField(db_field="createdAt", default=lambda: clock.now())
    updated_at = DateTimeField(db_field="updatedAt", default=lambda: clock.now())

    def clean(self):
        self.code = (self.code or "").strip().upper()
        if self.result_type == "choice":
            if not self.choices:
                raise ValidationError("A choice result needs its list of choices.", field_name="choices")
            missing = set(self.normal_choices or []) - set(self.choices)
            if missing:
                raise ValidationError("Normal choices must be among the choices.", field_name="normal_choices")

    def __str__(self):
        return f"{self.name} ({self.code})"


class LabPanel(TenantDocument):
    """A named group of tests ordered together (CBC, lipid panel)."""

    meta = {
        "collection": "lab_panels",
        "indexes": [
            {"fields": ["tenant_id", "code"], "unique": True},
            {"fields": ["tenant_id", "active", "name"]},
        ],
    }

    code = StringField(required=True, max_length=30)
    name = StringField(required=True, max_length=120)
    # Ids, not references: lists of references dereference outside the tenant scope.
    test_ids = ListField(ObjectIdField(), db_field="testIds", max_length=60)
    active = BooleanField(default=True)
    created_at = DateTimeField(db_field="createdAt", default=lambda: clock.now())

    def clean(self):
        self.code = (self.code or "").strip().upper()

    def __str__(self):
        return f"{self.name} ({self.code})"


class OrderItem(EmbeddedDocument):
    """One ordered test as it was in the catalogue at order time (billing reads price)."""

    test_id = ObjectIdField(db_field="testId", required=True)
    code = StringField(required=True)
    name = StringField(required=True)
    unit = StringField()
    result_type = StringField(db_field="resultType", choices=RESULT_TYPES, required=True)
    specimen = StringField()
    price = IntField(min_value=0, required=True)
    panel = StringField()  # the panel code it was ordered through, if any


class Specimen(EmbeddedDocument):
    collected_at = DateTimeField(db_field="collectedAt", required=True)
    collected_by_id = ObjectIdField(db_field="collectedById", required=True)
    collected_by = StringField(db_field="collectedBy", required=True)
    label = StringField(max_length=60)  # specimen id / barcode text
    note = StringField(max_length=500)


class LabOrder(TenantDocument):
    meta = {
        "collection": "lab_orders",
        "indexes": [
            {"fields": ["tenant_id", "number"], "unique": True},
            # The outstanding list: status in (ordered, collected), oldest first.
            {"fields": ["tenant_id", "status", "ordered_at"]},
            {"fields": ["tenant_id", "patient", "status", "ordered_at"]},
            {"fields": ["tenant_id", "patient", "-ordered_at"]},
            {"fields": ["tenant_id", "visit"]},
            # The ordering doctor's unreviewed results.
            {"fields": ["tenant_id", "ordered_by", "status", "-resulted_at"]},
        ],
    }

    number = StringField(required=True, max_length=20)
    patient = TenantReferenceField("Patient", required=True)
    visit = TenantReferenceField("Visit")
    ordered_by = TenantReferenceField("User", db_field="orderedBy", required=True)
    ordered_by_name = StringField(db_field="orderedByName")
    ordered_at = DateTimeField(db_field="orderedAt", required=True, default=lambda: clock.now())
    priority = StringField(choices=PRIORITIES, default="routine", required=True)
    note = StringField(max_length=1000)
    status = StringField(choices=ORDER_STATUSES, default="ordered", required=True)
    items = EmbeddedDocumentListField(OrderItem)
    specimen = EmbeddedDocumentField(Specimen)
    resulted_at = DateTimeField(db_field="resultedAt")
    reviewed_at = DateTimeField(db_field="reviewedAt")
    reviewed_by_id = ObjectIdField(db_field="reviewedById")
    reviewed_by = StringField(db_field="reviewedBy")
    review_comment = StringField(db_field="reviewComment", max_length=1000)
    cancelled_at = DateTimeField(db_field="cancelledAt")
    cancelled_by = StringField(db_field="cancelledBy")
    cancel_reason = StringField(db_field="cancelReason", max_length=500)
    # Summary for lists and the timeline, kept by the results service.
    abnormal_count = IntField(db_field="abnormalCount", default=0)
    critical_count = IntField(db_field="criticalCount", default=0)

    @property
    def test_names(self):
        return ", ".join(i.name for i in self.items)

    @property
    def test_codes(self):
        """'CBC, CRP': a panel ordered whole by its code, other tests by theirs (compact lists)."""
        return ", ".join(dict.fromkeys(i.panel or i.code for i in self.items))

    @property
    def total_price(self):
        return sum(i.price for i in self.items)

    @property
    def specimen_types(self):
        """'whole blood, serum': what to collect, in the order the tests were ordered."""
        return ", ".join(dict.fromkeys(i.specimen for i in self.items if i.specimen))

    def __str__(self):
        return self.number


class ResultAmendment(EmbeddedDocument):
    at = DateTimeField(required=True)
    by_id = ObjectIdField(db_field="byId", required=True)
    by = StringField(required=True)
    reason = StringField(required=True, max_length=500)
    changes = DictField(required=True)  # field -> {"old": ..., "new": ...}


class LabResult(TenantDocument):
    """One test's result on an order; the flag is computed by the server from the copied range."""

    meta = {
        "collection": "lab_results",
        "indexes": [
            {"fields": ["tenant_id", "order", "test_id"], "unique": True},
            # Trends: one patient's values of one test over time.
            {"fields": ["tenant_id", "patient", "test_id", "collected_at"]},
            {"fields": ["tenant_id", "patient", "-resulted_at"]},
            # The ordering doctor's unacknowledged critical results.
            {"fields": ["tenant_id", "ordered_by", "needs_ack", "-resulted_at"]},
        ],
    }

    order = TenantReferenceField("LabOrder", required=True)
    patient = TenantReferenceField("Patient", required=True)
    ordered_by = TenantReferenceField("User", db_field="orderedBy", required=True)
    order_number = StringField(db_field="orderNumber")
    test_id = ObjectIdField(db_field="testId", required=True)
    code = StringField(required=True)
    name = StringField(required=True)
    result_type = StringField(db_field="resultType", choices=RESULT_TYPES, required=True)
    unit = StringField()
    decimals = IntField()
    value_num = FloatField(db_field="valueNum")
    value_text = StringField(db_field="valueText", max_length=2000)
    range = EmbeddedDocumentField(ReferenceRange)  # the one applied, as it was
    range_text = StringField(db_field="rangeText")
    flag = StringField(choices=FLAGS)
    collected_at = DateTimeField(db_field="collectedAt", required=True)
    resulted_at = DateTimeField(db_field="resultedAt", required=True)
    resulted_by_id = ObjectIdField(db_field="resultedById", required=True)
    resulted_by = StringField(db_field="resultedBy", required=True)
    needs_ack = BooleanField(db_field="needsAck", default=False)  # critical and not yet acknowledged
    acknowledged_at = DateTimeField(db_field="acknowledgedAt")
    acknowledged_by = StringField(db_field="acknowledgedBy")
    amendments = EmbeddedDocumentListField(ResultAmendment)

    @property
    def value(self):
        return self.value_num if self.result_type == "numeric" else self.value_text

    @property
    def shown_value(self):
        if self.result_type == "numeric":
            if self.value_num is None:
                return ""
            return f"{self.value_num:.{self.decimals or 0}f}"
        return self.value_text or ""

    @property
    def critical(self):
        return self.flag in ("LL", "HH")

    @property
    def abnormal(self):
        return self.flag in ("LL", "L", "H", "HH", "A")
