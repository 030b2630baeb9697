"""The clinic itself: not tenant-scoped, it *is* the tenant."""
from mongoengine import DateTimeField, Document, EmbeddedDocument, EmbeddedDocumentField, StringField

from .. import clock

PLANS = ("trial", "monthly")
STATUSES = ("provisioning", "active", "inactive", "suspended")


class Subscription(EmbeddedDocument):
    plan = StringField(choices=PLANS, default="trial", required=True)
    # What the daily sweep last recorded (active, grace, suspended); the gate
    # itself always computes the state from expires_at and the clock.
    status = StringField(default="active")
    started_at = DateTimeField(db_field="startedAt")
    expires_at = DateTimeField(db_field="expiresAt", required=True)


class Tenant(Document):
    meta = {
        "collection": "tenants",
        "auto_create_index": False,
        "indexes": [
            {"fields": ["subdomain"], "unique": True},
            {"fields": ["status", "subscription.expires_at"]},
            {"fields": ["next_reminder_at"], "sparse": True},
            {"fields": ["outbox_pending_since"], "sparse": True},
        ],
    }

    name = StringField(required=True, max_length=120)
    subdomain = StringField(required=True, max_length=63)
    # Operator-level status: suspended/inactive shut the clinic whatever its plan.
    status = StringField(choices=STATUSES, default="active", required=True)
    subscription = EmbeddedDocumentField(Subscription, required=True)
    created_at = DateTimeField(db_field="createdAt", default=lambda: clock.now())
    # Earliest pending appointment reminder, kept with $min: the reminder
    # dispatcher visits only clinics that have something due.
    next_reminder_at = DateTimeField(db_field="nextReminderAt")
    # Oldest outbox message not yet known sent, kept with $min by queue_email:
    # the requeue job visits only clinics with mail in flight.
    outbox_pending_since = DateTimeField(db_field="outboxPendingSince")

    def __str__(self):
        return f"{self.name} ({self.subdomain})"
