"""Appointment reminders: one row per (appointment, lead time, planned start)."""
from mongoengine import DateTimeField, IntField, StringField

from .. import clock
from ..tenancy import TenantDocument, TenantReferenceField

STATUSES = ("pending", "queued", "cancelled", "skipped")


class Reminder(TenantDocument):
    meta = {
        "collection": "reminders",
        "indexes": [
            # One reminder per appointment, lead time and planned start: a rescheduled
            # appointment gets fresh reminders, a re-run never a second copy.
            {"fields": ["tenant_id", "appointment", "lead_minutes", "start"], "unique": True},
            {"fields": ["tenant_id", "status", "send_at"]},
        ],
    }

    appointment = TenantReferenceField("Appointment", required=True)
    lead_minutes = IntField(db_field="leadMinutes", required=True, min_value=1)
    start = DateTimeField(required=True)  # the appointment start this reminder was planned for
    send_at = DateTimeField(db_field="sendAt", required=True)
    status = StringField(choices=STATUSES, default="pending", required=True)
    note = StringField(max_length=200)
    message_key = StringField(db_field="messageKey")
    created_at = DateTimeField(db_field="createdAt", default=lambda: clock.now())
