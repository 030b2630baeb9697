"""Patients: the clinic's register."""
import re

from mongoengine import (BooleanField, DateField, DateTimeField, EmbeddedDocument, EmbeddedDocumentField, ListField,
                         StringField)

from .. import clock
from ..tenancy import TenantDocument

SEXES = ("female", "male", "other", "unknown")
SEVERITIES = ("mild", "moderate", "severe", "unknown")


class Allergy(EmbeddedDocument):
    """A recorded allergy; prescribing checks `substance` against medicines and drug classes."""

    substance = StringField(required=True, max_length=120)
    reaction = StringField(max_length=200)
    severity = StringField(choices=SEVERITIES, default="unknown")

    def __str__(self):
        extra = ", ".join(p for p in (self.reaction, self.severity if self.severity != "unknown" else None) if p)
        return f"{self.substance} ({extra})" if extra else self.substance


def as_allergy(value):
    """An Allergy from an Allergy, a {substance, reaction, severity} dict or a plain string (the old format)."""
    if isinstance(value, Allergy):
        return value
    if isinstance(value, dict):
        return Allergy(substance=value.get("substance"), reaction=value.get("reaction") or None,
                       severity=value.get("severity") or "unknown")
    return Allergy(substance=str(value).strip())


def digits(value):
    return re.sub(r"\D", "", value or "")


class AllergyField(EmbeddedDocumentField):
    """An Allergy; reads the old plain-string entries (and strings given by callers) as the substance."""

    def to_python(self, value):
        if isinstance(value, str):
            return Allergy(substance=value.strip())
        return super().to_python(value)


class Patient(TenantDocument):
    meta = {
        "collection": "patients",
        "indexes": [
            {"fields": ["tenant_id", "last_name", "first_name"]},
            {"fields": ["tenant_id", "active"]},
            {"fields": ["tenant_id", "record_number"], "unique": True},
            # Search as you type: prefix matches on lower-cased names, phone digits, birth date.
            {"fields": ["tenant_id", "active", "last_name_lc", "first_name_lc"]},
            {"fields": ["tenant_id", "active", "first_name_lc", "last_name_lc"]},
            {"fields": ["tenant_id", "active", "phone_digits"]},
            {"fields": ["tenant_id", "active", "date_of_birth"]},
            {"fields": ["tenant_id", "email"]},
            {"fields": ["tenant_id", "created_at"]},  # new patients per period (reports)
        ],
    }

    record_number = StringField(db_field="recordNumber", required=True, max_length=30)
    first_name = StringField(db_field="firstName", required=True, max_length=80)
    last_name = StringField(db_field="lastName", required=True, max_length=80)
    first_name_lc = StringField(db_field="firstNameLc")
    last_name_lc = StringField(db_field="lastNameLc")
    date_of_birth = DateField(db_field="dateOfBirth")
    sex = StringField(choices=SEXES, default="unknown")
    phone = StringField(max_length=40)
    phone_digits = StringField(db_field="phoneDigits")
    email = StringField(max_length=320)
    address = StringField(max_length=400)
    allergies = ListField(AllergyField(Allergy), max_length=50)
    alerts = StringField(max_length=1000)  # shown as a banner on the patient page
    notes = StringField(max_length=5000)
    active = BooleanField(default=True)
    created_at = DateTimeField(db_field="createdAt", default=lambda: clock.now())
    updated_at = DateTimeField(db_field="updatedAt", default=lambda: clock.now())

    def clean(self):
        self.first_name = (self.first_name or "").strip()
        self.last_name = (self.last_name or "").strip()
        self.first_name_lc = self.first_name.lower()
        self.last_name_lc = self.last_name.lower()
        self.phone_digits = digits(self.phone) or None
        self.email = (self.email or "").strip().lower() or None
        self.allergies = [as_allergy(a) for a in self.allergies or []]
        self.updated_at = clock.now()

    @property
    def full_name(self):
        return f"{self.first_name} {self.last_name}"

    def __str__(self):
        return f"{self.full_name} ({self.record_number})"
