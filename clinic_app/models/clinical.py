"""Visits (encounters): SOAP notes, vitals, diagnosis; signing locks, amendments keep the original."""
from mongoengine import (DateTimeField, DictField, EmbeddedDocument, EmbeddedDocumentField, EmbeddedDocumentListField,
                         FloatField, IntField, ObjectIdField, StringField)

from .. import clock
from ..tenancy import TenantDocument, TenantReferenceField

# field -> (label, unit, min, max): sane physiological ranges for entry checks.
VITALS = {
    "temperature_c": ("Temperature", "°C", 30.0, 45.0),
    "pulse_bpm": ("Pulse", "bpm", 20, 250),
    "resp_rate": ("Respiratory rate", "/min", 4, 80),
    "systolic": ("Systolic BP", "mmHg", 50, 260),
    "diastolic": ("Diastolic BP", "mmHg", 20, 160),
    "spo2": ("SpO₂", "%", 50, 100),
    "weight_kg": ("Weight", "kg", 0.3, 400.0),
    "height_cm": ("Height", "cm", 20.0, 260.0),
}


class Vitals(EmbeddedDocument):
    temperature_c = FloatField(min_value=30.0, max_value=45.0)
    pulse_bpm = IntField(min_value=20, max_value=250)
    resp_rate = IntField(min_value=4, max_value=80)
    systolic = IntField(min_value=50, max_value=260)
    diastolic = IntField(min_value=20, max_value=160)
    spo2 = IntField(min_value=50, max_value=100)
    weight_kg = FloatField(min_value=0.3, max_value=400.0)
    height_cm = FloatField(min_value=20.0, max_value=260.0)


class Amendment(EmbeddedDocument):
    at = DateTimeField(required=True)
    by_id = ObjectIdField(db_field="byId", required=True)
    by = StringField(required=True)
    reason = StringField(required=True, max_length=500)
    # field -> {"old": ..., "new": ...}
    changes = DictField(required=True)


VISIT_STATUSES = ("draft", "signed")


class Visit(TenantDocument):
    meta = {
        "collection": "visits",
        "indexes": [
            {"fields": ["tenant_id", "patient", "-started_at"]},
            {"fields": ["tenant_id", "provider", "-started_at"]},
            {"fields": ["tenant_id", "appointment"]},
            # The visits list: newest first, optionally by status.
            {"fields": ["tenant_id", "-started_at"]},
            {"fields": ["tenant_id", "status", "-started_at"]},
            {"fields": ["tenant_id", "provider", "status", "-started_at"]},
            # At most one open draft per appointment, enforced by the database so
            # two "start visit" clicks racing each other cannot both create one.
            {"fields": ["tenant_id", "appointment", "status"], "unique": True, "name": "one_open_draft_per_appointment",
             "partialFilterExpression": {"status": "draft", "appointment": {"$exists": True}}},
        ],
    }

    patient = TenantReferenceField("Patient", required=True)
    provider = TenantReferenceField("User", required=True)
    appointment = TenantReferenceField("Appointment")
    started_at = DateTimeField(db_field="startedAt", required=True, default=lambda: clock.now())
    status = StringField(choices=VISIT_STATUSES, default="draft", required=True)
    subjective = StringField(max_length=20000)
    objective = StringField(max_length=20000)
    assessment = StringField(max_length=20000)
    plan = StringField(max_length=20000)
    vitals = EmbeddedDocumentField(Vitals, default=Vitals)
    diagnosis = StringField(max_length=500)
    diagnosis_code = StringField(db_field="diagnosisCode", max_length=20)  # e.g. ICD-10
    signed_at = DateTimeField(db_field="signedAt")
    signed_by = TenantReferenceField("User", db_field="signedBy")
    amendments = EmbeddedDocumentListField(Amendment)
    updated_at = DateTimeField(db_field="updatedAt", default=lambda: clock.now())

    @property
    def locked(self):
        return self.status == "signed"
