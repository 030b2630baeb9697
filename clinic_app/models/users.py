"""Staff accounts, roles, server-side sessions and one-time tokens."""
import hashlib
import secrets

from mongoengine import BooleanField, DateTimeField, DictField, IntField, ListField, StringField

from .. import clock
from ..tenancy import TenantDocument, TenantReferenceField


def token_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


class Role(TenantDocument):
    meta = {
        "collection": "roles",
        "indexes": [{"fields": ["tenant_id", "name"], "unique": True}],
    }

    name = StringField(required=True, max_length=60)
    level = IntField(default=10, min_value=0, max_value=100)
    # resource -> list of actions, e.g. {"patients": ["create", "read"]}
    permissions = DictField(field=ListField(StringField()))
    system = BooleanField(default=False)  # a default role: cannot be renamed or deleted
    # Resources whose default grants this role has been offered (see services.roles.grant_new_resources),
    # so a resource an Admin later took away is not granted again.
    offered = ListField(StringField(), db_field="offeredResources")

    def allows(self, resource, action):
        return action in (self.permissions or {}).get(resource, [])

    @property
    def is_admin(self):
        return self.system and self.name == "Admin"


class AdminProfile(TenantDocument):
    meta = {"collection": "admin_profiles", "indexes": [{"fields": ["tenant_id", "email"]}]}

    name = StringField(required=True, max_length=120)
    email = StringField(required=True, max_length=320)
    status = StringField(default="active")


USER_STATUSES = ("active", "invited", "deactivated")


class User(TenantDocument):
    meta = {
        "collection": "users",
        "indexes": [
            # Stored lower-case, so unique per clinic regardless of case.
            {"fields": ["tenant_id", "email"], "unique": True},
            {"fields": ["tenant_id", "role", "status"]},
        ],
    }

    email = StringField(required=True, max_length=320)
    name = StringField(required=True, max_length=120)
    password_hash = StringField(db_field="passwordHash")
    role = TenantReferenceField("Role", required=True)
    admin_profile = TenantReferenceField("AdminProfile", db_field="adminProfile")
    status = StringField(choices=USER_STATUSES, default="active", required=True)
    created_at = DateTimeField(db_field="createdAt", default=lambda: clock.now())
    last_login_at = DateTimeField(db_field="lastLoginAt")
    password_changed_at = DateTimeField(db_field="passwordChangedAt")
    # Offered in the booking form's doctor list. None (unset) = the role's default: on for Doctors only.
    takes_appointments = BooleanField(db_field="takesAppointments")

    # Flask-Login protocol. The login id is the server-side session token.
    session_token = None
    current_session = None

    def clean(self):
        self.email = (self.email or "").strip().lower()

    @property
    def is_authenticated(self):
        return True

    @property
    def is_active(self):
        return self.status == "active"

    @property
    def is_anonymous(self):
        return False

    def get_id(self):
        return self.session_token

    def can(self, resource, action):
        return self.is_active and self.role.allows(resource, action)

    @property
    def bookable(self):
        """Takes appointments: as set on the staff page, else by default when the role is Doctor."""
        if self.takes_appointments is not None:
            return self.takes_appointments
        return self.role.name == "Doctor"


class UserSession(TenantDocument):
    """A signed-in browser. The cookie carries the token; only its hash is stored."""

    meta = {
        "collection": "user_sessions",
        "indexes": [
            {"fields": ["tenant_id", "token_hash"], "unique": True},
            {"fields": ["tenant_id", "user", "revoked_at"]},
        ],
    }

    token_hash = StringField(db_field="tokenHash", required=True)
    user = TenantReferenceField("User", required=True)
    created_at = DateTimeField(db_field="createdAt", required=True)
    last_seen_at = DateTimeField(db_field="lastSeenAt", required=True)
    expires_at = DateTimeField(db_field="expiresAt", required=True)
    revoked_at = DateTimeField(db_field="revokedAt")
    ip = StringField(max_length=64)
    user_agent = StringField(db_field="userAgent", max_length=300)

    @classmethod
    def revoke_all(cls, user, except_id=None):
        qs = cls.objects(user=user, revoked_at=None)
        if except_id is not None:
            qs = qs.filter(pk__ne=except_id)
        return qs.update(set__revoked_at=clock.now())


TOKEN_PURPOSES = ("reset", "invite")


class AuthToken(TenantDocument):
    """A single-use emailed token (password reset, invitation); only its hash is stored."""

    meta = {
        "collection": "auth_tokens",
        "indexes": [
            {"fields": ["tenant_id", "token_hash"], "unique": True},
            {"fields": ["tenant_id", "user", "purpose"]},
        ],
    }

    token_hash = StringField(db_field="tokenHash", required=True)
    purpose = StringField(choices=TOKEN_PURPOSES, required=True)
    user = TenantReferenceField("User", required=True)
    expires_at = DateTimeField(db_field="expiresAt", required=True)
    used_at = DateTimeField(db_field="usedAt")
    created_at = DateTimeField(db_field="createdAt", default=lambda: clock.now())

    @classmethod
    def issue(cls, user, purpose, lifetime):
        """Create a token for `user`; returns the plain token (only its hash is kept)."""
        token = secrets.token_urlsafe(32)
        cls(token_hash=token_hash(token), purpose=purpose, user=user,
            expires_at=clock.now() + lifetime).save()
        return token

    @classmethod
    def redeem(cls, token, purpose):
        """Mark a valid token used, atomically; returns it or None (unknown, used, expired)."""
        if not isinstance(token, str) or not token:
            return None
        now = clock.now()
        return cls.objects(token_hash=token_hash(token), purpose=purpose, used_at=None,
                           expires_at__gt=now).modify(new=True, set__used_at=now)

    @classmethod
    def peek(cls, token, purpose):
        """The valid token without using it (to show the form), or None."""
        if not isinstance(token, str) or not token:
            return None
        return cls.objects(token_hash=token_hash(token), purpose=purpose, used_at=None,
                           expires_at__gt=clock.now()).first()
