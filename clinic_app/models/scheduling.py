"""Appointments (stored in UTC; shown in the clinic's time zone)."""
from mongoengine import DateTimeField, StringField

from .. import clock
from ..tenancy import TenantDocument, TenantReferenceField

STATUSES = ("scheduled", "checked_in", "in_progress", "completed", "cancelled", "no_show")
# status -> the statuses it may move to
TRANSITIONS = {
    "scheduled": ("checked_in", "cancelled", "no_show"),
    "checked_in": ("in_progress", "cancelled", "no_show"),
    "in_progress": ("completed",),
    "completed": (),
    "cancelled": (),
    "no_show": (),
}
OPEN_STATUSES = ("scheduled", "checked_in", "in_progress")


class Appointment(TenantDocument):
    meta = {
        "collection": "appointments",
        "indexes": [
            {"fields": ["tenant_id", "doctor", "start"]},
            {"fields": ["tenant_id", "start"]},
            {"fields": ["tenant_id", "patient", "start"]},
            {"fields": ["tenant_id", "status", "start"]},
        ],
    }

    patient = TenantReferenceField("Patient", required=True)
    doctor = TenantReferenceField("User", required=True)
    start = DateTimeField(required=True)
    end = DateTimeField(required=True)
    status = StringField(choices=STATUSES, default="scheduled", required=True)
    reason = StringField(max_length=300)
    notes = StringField(max_length=2000)
    cancel_reason = StringField(db_field="cancelReason", max_length=300)
    created_by = TenantReferenceField("User", db_field="createdBy")
    created_at = DateTimeField(db_field="createdAt", default=lambda: clock.now())
    updated_at = DateTimeField(db_field="updatedAt", default=lambda: clock.now())

    def can_move_to(self, status):
        return status in TRANSITIONS[self.status]
