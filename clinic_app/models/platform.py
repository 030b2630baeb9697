"""Platform operators: the people who run the service. Not tenant-scoped (they work across clinics).

Operators are created by `flask create-operator`, never by signup. They sign
in on the apex (`/platform/login`) with their own server-side sessions, which
have nothing to do with clinic staff sessions (`UserSession`).
"""
from mongoengine import BooleanField, DateTimeField, DictField, Document, ObjectIdField, StringField

from .. import clock


class Operator(Document):
    meta = {
        "collection": "operators",
        "auto_create_index": False,
        "indexes": [{"fields": ["email"], "unique": True}],
    }

    email = StringField(required=True, max_length=320)  # stored lower-case
    name = StringField(required=True, max_length=120)
    password_hash = StringField(db_field="passwordHash", required=True)
    active = BooleanField(default=True)
    created_at = DateTimeField(db_field="createdAt", default=lambda: clock.now())
    last_login_at = DateTimeField(db_field="lastLoginAt")

    def clean(self):
        self.email = (self.email or "").strip().lower()

    def __str__(self):
        return f"{self.name} <{self.email}>"


class OperatorSession(Document):
    """A signed-in operator browser. The cookie carries a random token; only its hash is stored."""

    meta = {
        "collection": "operator_sessions",
        "auto_create_index": False,
        "indexes": [
            {"fields": ["token_hash"], "unique": True},
            {"fields": ["operator_id", "revoked_at"]},
            # Expired sessions are useless; keep them a week for investigations, then drop them.
            {"fields": ["expires_at"], "expireAfterSeconds": 7 * 24 * 3600},
        ],
    }

    token_hash = StringField(db_field="tokenHash", required=True)
    operator_id = ObjectIdField(db_field="operatorId", required=True)
    created_at = DateTimeField(db_field="createdAt", required=True)
    last_seen_at = DateTimeField(db_field="lastSeenAt", required=True)
    expires_at = DateTimeField(db_field="expiresAt", required=True)  # absolute: never extended
    revoked_at = DateTimeField(db_field="revokedAt")
    ip = StringField(max_length=64)
    user_agent = StringField(db_field="userAgent", max_length=300)


class OperatorAction(Document):
    """The operators' audit trail: append-only from the application's point of view."""

    meta = {
        "collection": "operator_actions",
        "auto_create_index": False,
        "indexes": [
            {"fields": ["-at"]},
            {"fields": ["tenant_id", "-at"]},
            {"fields": ["operator_id", "-at"]},
        ],
    }

    at = DateTimeField(required=True, default=lambda: clock.now())
    operator_id = ObjectIdField(db_field="operatorId", required=True)
    operator = StringField(max_length=460)  # "name <email>" at the time
    action = StringField(required=True, max_length=60)
    tenant_id = ObjectIdField(db_field="tenantId")  # the clinic acted on, if any
    tenant = StringField(max_length=200)  # "name (subdomain)" at the time
    target = StringField(max_length=200)  # e.g. an RQ job id
    reason = StringField(max_length=1000)
    before = DictField()
    after = DictField()
    ip = StringField(max_length=64)

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._created:
            raise PermissionError("operator actions cannot be changed")
        return super().save(*args, **kwargs)

    def update(self, **kwargs):
        raise PermissionError("operator actions cannot be changed")

    def modify(self, query=None, **update):
        raise PermissionError("operator actions cannot be changed")

    def delete(self, *args, **kwargs):
        raise PermissionError("operator actions cannot be deleted")
