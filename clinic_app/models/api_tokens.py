"""Per-clinic API tokens: a bearer secret with a role; only its hash is stored."""
from mongoengine import DateTimeField, StringField

from .. import clock
from ..tenancy import TenantDocument, TenantReferenceField


class ApiToken(TenantDocument):
    meta = {
        "collection": "api_tokens",
        "indexes": [
            {"fields": ["tenant_id", "token_hash"], "unique": True},
            {"fields": ["tenant_id", "-created_at"]},
        ],
    }

    name = StringField(required=True, max_length=80)
    prefix = StringField(required=True, max_length=16)  # shown in the list to recognise a token
    token_hash = StringField(db_field="tokenHash", required=True)
    role = TenantReferenceField("Role", required=True)
    created_by = TenantReferenceField("User", db_field="createdBy", required=True)
    created_at = DateTimeField(db_field="createdAt", default=lambda: clock.now())
    last_used_at = DateTimeField(db_field="lastUsedAt")
    revoked_at = DateTimeField(db_field="revokedAt")


class ApiClient:
    """The principal of a request authenticated by an API token (Flask-Login compatible)."""

    is_authenticated = True
    is_active = True
    is_anonymous = False
    current_session = None
    session_token = None

    def __init__(self, token):
        self.token = token
        self.pk = token.pk
        self.name = f"API token {token.name}"
        self.email = f"token:{token.prefix}"
        self.role = token.role

    def get_id(self):
        return None

    def can(self, resource, action):
        return self.role.allows(resource, action)
