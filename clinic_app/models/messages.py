"""The email outbox: a message is written here first, then an RQ job sends it."""
from mongoengine import DateTimeField, IntField, StringField

from .. import clock
from ..tenancy import TenantDocument

STATUSES = ("queued", "sending", "sent", "failed", "cancelled")


class OutboundMessage(TenantDocument):
    meta = {
        "collection": "outbound_messages",
        "indexes": [
            # Exactly one message per (tenant, idempotency key).
            {"fields": ["tenant_id", "key"], "unique": True},
            {"fields": ["tenant_id", "status", "created_at"]},
            {"fields": ["tenant_id", "-created_at"]},
        ],
    }

    key = StringField(required=True, max_length=300)
    kind = StringField(required=True, max_length=60)
    to = StringField(required=True, max_length=320)
    subject = StringField(required=True, max_length=300)
    text_body = StringField(db_field="textBody", required=True)
    html_body = StringField(db_field="htmlBody")
    # Stable across retries, so a re-send after a crash is recognisable.
    message_id = StringField(db_field="messageId", required=True)
    status = StringField(choices=STATUSES, default="queued", required=True)
    attempts = IntField(default=0)
    last_error = StringField(db_field="lastError")
    lease_until = DateTimeField(db_field="leaseUntil")
    created_at = DateTimeField(db_field="createdAt", default=lambda: clock.now())
    sent_at = DateTimeField(db_field="sentAt")
