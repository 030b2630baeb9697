"""The audit trail: append-only from the application's point of view."""
from mongoengine import DateTimeField, DictField, ObjectIdField, StringField

from .. import clock
from ..tenancy import TenantDocument, TenantQuerySet


class AppendOnlyQuerySet(TenantQuerySet):
    """Reads only: no bulk update or delete of audit events from the application."""

    def update(self, *args, **kwargs):
        raise PermissionError("audit events cannot be changed")

    def modify(self, *args, **kwargs):
        raise PermissionError("audit events cannot be changed")

    def delete(self, *args, **kwargs):
        raise PermissionError("audit events cannot be deleted")


class AuditEvent(TenantDocument):
    meta = {
        "collection": "audit_events",
        "queryset_class": AppendOnlyQuerySet,
        "indexes": [
            {"fields": ["tenant_id", "-at"]},
            {"fields": ["tenant_id", "action", "-at"]},
            {"fields": ["tenant_id", "actor_id", "-at"]},
            {"fields": ["tenant_id", "target_type", "target_id", "-at"]},
        ],
    }

    at = DateTimeField(required=True, default=lambda: clock.now())
    actor_id = ObjectIdField(db_field="actorId")
    actor = StringField(max_length=400)  # name <email> at the time
    action = StringField(required=True, max_length=80)
    target_type = StringField(db_field="targetType", max_length=60)
    target_id = ObjectIdField(db_field="targetId")
    target = StringField(max_length=400)
    changes = DictField()
    ip = StringField(max_length=64)

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._created:
            raise PermissionError("audit events cannot be changed")
        return super().save(*args, **kwargs)

    def update(self, **kwargs):
        raise PermissionError("audit events cannot be changed")

    def modify(self, query=None, **update):
        raise PermissionError("audit events cannot be changed")

    def delete(self, *args, **kwargs):
        raise PermissionError("audit events cannot be deleted")
