"""Administering a clinic's people: staff, roles, own account and sessions, clinic settings.

Every change writes an audit event with before/after values. Rules that keep
the clinic usable (at least one active Admin; the Admin role always has full
access) are checked here, not in the views, and re-checked after the write so
that two concurrent changes cannot both slip through.
"""
from datetime import timedelta
from zoneinfo import ZoneInfo

from bson import ObjectId
from flask import current_app, url_for
from flask_login import current_user
from mongoengine import NotUniqueError

from .. import clock
from ..models import AuthToken, Role, Settings, Tenant, User, UserSession
from ..permissions import RESOURCES, clean_permissions
from ..tenancy import prefetch, canonical_url, current_tenant, resolver
from . import audit
from .notifications import queue_email, render_email


class StaffError(Exception):
    """A rule refused the change; the message says why, in words for the user."""


class LastAdmin(StaffError):
    pass


class AlreadyMember(StaffError):
    pass


class NameTaken(StaffError):
    pass


class RoleInUse(StaffError):
    pass


class TooManyAttempts(StaffError):
    def __init__(self, retry_after):
        minutes = max(1, round(retry_after / 60))
        super().__init__(f"Too many wrong passwords. Try again in about {minutes} minute{'' if minutes == 1 else 's'}.")
        self.retry_after = retry_after


# "resource:action" for every cell of the permission matrix, in display order.
PERMISSION_KEYS = [f"{res}:{act}" for res, actions in RESOURCES.items() for act in actions]


def by_id(model, raw_id, **filters):
    """This clinic's `model` with id `raw_id` (and `filters`), or None: bad ids and other clinics' ids too."""
    if not isinstance(raw_id, str) or not ObjectId.is_valid(raw_id):
        return None
    return model.objects(pk=ObjectId(raw_id), **filters).first()


def _change(before, after):
    return {"from": before, "to": after}


# -- staff -------------------------------------------------------------------------


def list_staff():
    return prefetch(list(User.objects.order_by("name", "email")), "role")


def roles_by_level():
    return Role.objects.order_by("-level", "name")


def active_admin_count():
    admin = Role.objects(system=True, name="Admin").first()
    return 0 if admin is None else User.objects(role=admin, status="active").count()


def _last_admin(user, doing):
    return LastAdmin(f"{user.name} is the last active Admin of this clinic, so you cannot {doing}. "
                     "Make another active user an Admin first. Nothing was changed.")


def _existing(role):
    if role is None:  # deleted since the form was shown
        raise StaffError("That role no longer exists. Choose another.")
    return role


def invite(email, role, name=None):
    """Create an invited user and email them a link. Raises AlreadyMember, StaffError (no such role)."""
    role = _existing(role)
    email = email.strip().lower()
    if User.objects(email=email).first() is not None:
        raise AlreadyMember(f"{email} is already a member of this clinic.")
    user = User(email=email, name=(name or "").strip() or email.split("@")[0], role=role,
                status="invited", password_hash=None)
    try:
        user.save()
    except NotUniqueError:  # lost a race with another invitation
        raise AlreadyMember(f"{email} is already a member of this clinic.") from None
    send_invite(user)
    audit.record("staff.invite", target=user, changes={
        "email": _change(None, email), "role": _change(None, role.name), "status": _change(None, "invited")})
    return user


def send_invite(user):
    """Issue an invitation token and queue its email; the link uses the clinic's own host."""
    days = current_app.config["INVITE_TOKEN_DAYS"]
    token = AuthToken.issue(user, "invite", timedelta(days=days))
    tenant = current_tenant()
    link = canonical_url(tenant, url_for("auth.accept_invite", token=token))
    inviter = current_user.name if current_user.is_authenticated else tenant.name
    text, html = render_email("invite", inviter=inviter, clinic=tenant.name, role=user.role.name, link=link,
                              days=days)
    queue_email(key=f"invite:{user.pk}:{token[:12]}", kind="invite", to=user.email,
                subject=f"You are invited to join {tenant.name}", text_body=text, html_body=html)
    return token


def resend_invite(user):
    """A fresh invitation for an invited user; earlier links stop working. Raises StaffError."""
    if user.status != "invited":
        raise StaffError(f"{user.email} is not waiting for an invitation. Nothing was sent.")
    _expire_tokens(user, "invite")
    send_invite(user)
    audit.record("staff.invite_resend", target=user, changes={"status": _change("invited", "invited")})


def _expire_tokens(user, purpose=None):
    qs = AuthToken.objects(user=user, used_at=None)
    if purpose:
        qs = qs.filter(purpose=purpose)
    return qs.update(set__used_at=clock.now())


def change_role(user, role):
    """Give `user` another role; returns False when it is the same. Raises LastAdmin, StaffError."""
    role = _existing(role)
    before = user.role
    if before.pk == role.pk:
        return False
    losing_admin = before.is_admin and not role.is_admin and user.status == "active"
    if losing_admin and active_admin_count() <= 1:
        raise _last_admin(user, "take the Admin role away")
    if not User.objects(pk=user.pk, role=before).update(set__role=role):
        raise StaffError("Someone changed this user meanwhile. Reload the page and try again.")
    if losing_admin and active_admin_count() == 0:  # a concurrent demotion got there too: undo ours
        User.objects(pk=user.pk, role=role).update(set__role=before)
        raise _last_admin(user, "take the Admin role away")
    user.reload()
    audit.record("staff.role_change", target=user, changes={"role": _change(before.name, role.name)})
    return True


def deactivate(user):
    """Deactivate `user`, end their sessions at once and void their emailed links. Raises LastAdmin."""
    before = user.status
    if before == "deactivated":
        return 0
    losing_admin = before == "active" and user.role.is_admin
    if losing_admin and active_admin_count() <= 1:
        raise _last_admin(user, "deactivate them")
    if not User.objects(pk=user.pk, status=before).update(set__status="deactivated"):
        raise StaffError("Someone changed this user meanwhile. Reload the page and try again.")
    if losing_admin and active_admin_count() == 0:
        User.objects(pk=user.pk, status="deactivated").update(set__status=before)
        raise _last_admin(user, "deactivate them")
    revoked = UserSession.revoke_all(user)
    _expire_tokens(user)
    user.reload()
    audit.record("staff.deactivate", target=user,
                 changes={"status": _change(before, "deactivated"), "sessions_revoked": revoked})
    return revoked


def reactivate(user):
    """Let a deactivated user back in (as invited again if they never chose a password)."""
    if user.status != "deactivated":
        return False
    after = "active" if user.password_hash else "invited"
    User.objects(pk=user.pk, status="deactivated").update(set__status=after)
    user.reload()
    audit.record("staff.reactivate", target=user, changes={"status": _change("deactivated", after)})
    return True


# -- roles ---------------------------------------------------------------------------


def role_user_counts():
    """{role id: number of users with that role (any status)}."""
    rows = User.objects.aggregate([{"$group": {"_id": "$role", "n": {"$sum": 1}}}])
    return {row["_id"]: row["n"] for row in rows}


def permission_keys(permissions):
    """The set of "resource:action" keys a permissions dict grants."""
    return {f"{res}:{act}" for res, acts in (permissions or {}).items() for act in acts}


def _ordered(keys_or_permissions):
    """Permission keys in matrix order (from a set of keys or a permissions dict)."""
    keys = keys_or_permissions
    if isinstance(keys, dict):
        keys = permission_keys(keys)
    return [k for k in PERMISSION_KEYS if k in keys]


def permissions_from_keys(keys):
    """"resource:action" keys -> a clean permissions dict."""
    chosen = {}
    for key in keys or ():
        res, _, act = key.partition(":")
        chosen.setdefault(res, []).append(act)
    return clean_permissions(chosen)


CASE_INSENSITIVE = {"locale": "en", "strength": 2}


def role_name_taken(name, exclude=None):
    # A collation, not `name__iexact`: SecantusDB 0.7 never matches case-insensitive BSON regexes.
    qs = Role.objects(name=name.strip()).collation(CASE_INSENSITIVE)
    if exclude is not None:
        qs = qs.filter(pk__ne=exclude.pk)
    return qs.first() is not None


def create_role(name, level, permissions):
    """A custom role. Raises NameTaken."""
    name = name.strip()
    if role_name_taken(name):
        raise NameTaken(f"A role named {name} already exists.")
    role = Role(name=name, level=10 if level is None else level, permissions=clean_permissions(permissions),
                system=False)
    try:
        role.save()
    except NotUniqueError:
        raise NameTaken(f"A role named {name} already exists.") from None
    audit.record("role.create", target=role,
                 changes={"name": _change(None, name), "added": _ordered(role.permissions)})
    return role


def update_role(role, permissions, name=None, level=None):
    """Change a role's permissions (and a custom role's name, any non-Admin role's level).

    Raises StaffError for the Admin role (always full access), NameTaken.
    """
    if role.is_admin:
        raise StaffError("The Admin role always has full access and cannot be changed.")
    before_keys, before_name, before_level = permission_keys(role.permissions), role.name, role.level
    role.permissions = clean_permissions(permissions)
    if name is not None and not role.system:
        if role_name_taken(name, exclude=role):
            raise NameTaken(f"A role named {name.strip()} already exists.")
        role.name = name.strip()
    if level is not None:
        role.level = level
    after_keys = permission_keys(role.permissions)
    changes = {"added": _ordered(after_keys - before_keys), "removed": _ordered(before_keys - after_keys)}
    if role.name != before_name:
        changes["name"] = _change(before_name, role.name)
    if role.level != before_level:
        changes["level"] = _change(before_level, role.level)
    changes = {k: v for k, v in changes.items() if v}
    if not changes:
        return {}
    try:
        role.save()
    except NotUniqueError:
        raise NameTaken(f"A role named {role.name} already exists.") from None
    audit.record("role.update", target=role, changes=changes)
    return changes


def delete_role(role):
    """Delete a custom role nobody has. Raises StaffError, RoleInUse."""
    if role.system:
        raise StaffError(f"{role.name} is a default role and cannot be deleted.")
    users = User.objects(role=role).count()
    if users:
        raise RoleInUse(f"{users} user{'' if users == 1 else 's'} still have the {role.name} role. "
                        "Give them another role first. Nothing was deleted.")
    Role.objects(pk=role.pk, system=False).delete()
    if User.objects(role=role).count():  # assigned meanwhile: put the role back
        role.save(force_insert=True)
        raise RoleInUse(f"Someone was just given the {role.name} role. Nothing was deleted.")
    audit.record("role.delete", target=role,
                 changes={"name": _change(role.name, None), "removed": _ordered(role.permissions)})


# -- own account -------------------------------------------------------------------------


def change_name(user, name):
    name = name.strip()
    if name == user.name:
        return False
    before = user.name
    User.objects(pk=user.pk).update(set__name=name)
    user.name = name
    audit.record("account.name_change", target=user, changes={"name": _change(before, name)})
    return True


def verify_current_password(user, password):
    """True when `password` is the user's; failures count towards the sign-in limit.

    Raises TooManyAttempts (with .retry_after seconds) once that limit is reached.
    """
    from ..extensions import throttle
    from .passwords import check_password

    limit, key = current_app.config["LOGIN_LIMIT_ACCOUNT"], ("login-account", str(user.tenant_id), user.email)
    wait = throttle().retry_after(limit, *key)
    if wait:
        raise TooManyAttempts(wait)
    if check_password(password, user.password_hash):
        return True
    throttle().hit(limit, *key)
    return False


def change_password(user, new_password, keep_session):
    """Set a new password; every session but `keep_session` ends."""
    from .auth import set_password

    others = UserSession.objects(user=user, revoked_at=None, pk__ne=keep_session.pk).count()
    set_password(user, new_password, keep_session=keep_session)
    audit.record("account.password_change", target=user, changes={"sessions_revoked": others})


def active_sessions(user):
    live = UserSession.objects(user=user, revoked_at=None, expires_at__gt=clock.now())
    return list(live.order_by("-last_seen_at"))


def revoke_session(user, session):
    UserSession.objects(pk=session.pk, user=user, revoked_at=None).update(set__revoked_at=clock.now())
    audit.record("account.session_revoke", target=user,
                 changes={"session": str(session.pk), "ip": session.ip, "user_agent": session.user_agent})


def revoke_other_sessions(user, keep_session):
    revoked = UserSession.revoke_all(user, except_id=keep_session.pk)
    if revoked:
        audit.record("account.session_revoke", target=user, changes={"sessions_revoked": revoked, "others": True})
    return revoked


# -- clinic settings -------------------------------------------------------------------

SETTINGS_FIELDS = ("clinic_name", "timezone", "currency", "date_format", "idle_timeout_minutes", "slot_minutes",
                   "allow_double_booking", "work_day_start", "work_day_end", "working_days", "reminder_leads",
                   "quiet_start", "quiet_end")


def update_settings(values):
    """Apply `values` (field -> value) to the clinic's settings; returns the changes (may be empty).

    The clinic name is the tenant's name too (header, emails).
    """
    settings = Settings.current()
    changes = {}
    for field in SETTINGS_FIELDS:
        before, after = getattr(settings, field), values[field]
        if before != after:
            changes[field] = _change(before, after)
            setattr(settings, field, after)
    if not changes:
        return changes
    settings.save()
    if "clinic_name" in changes:
        tenant = current_tenant()
        Tenant.objects(pk=tenant.pk).update(set__name=settings.clinic_name)
        tenant.name = settings.clinic_name
        resolver().invalidate(tenant.subdomain)
    audit.record("settings.update", target=settings, changes=changes)
    return changes


# -- the audit log -----------------------------------------------------------------------

AUDIT_PAGE_SIZE = 50


class Page:
    """One page of results: items, number (1-based), pages, total."""

    def __init__(self, items, number, pages, total):
        self.items, self.number, self.pages, self.total = items, number, pages, total


def audit_actions():
    from ..models import AuditEvent

    return sorted(AuditEvent.objects.distinct("action"))


def audit_page(action=None, actor_id=None, start=None, end=None, page=1, per_page=AUDIT_PAGE_SIZE):
    """Audit events newest first, filtered; `start`/`end` are dates in the clinic's time zone (inclusive)."""
    from datetime import datetime, time

    from ..models import AuditEvent

    qs = AuditEvent.objects
    if action:
        qs = qs.filter(action=action)
    if actor_id:
        qs = qs.filter(actor_id=ObjectId(actor_id))
    zone = ZoneInfo(Settings.current().timezone)
    if start:
        qs = qs.filter(at__gte=datetime.combine(start, time(0), zone))
    if end:
        qs = qs.filter(at__lt=datetime.combine(end + timedelta(days=1), time(0), zone))
    total = qs.count()
    pages = max(1, -(-total // per_page))
    number = min(max(1, page), pages)
    items = list(qs.order_by("-at", "-id").skip((number - 1) * per_page).limit(per_page))
    return Page(items, number, pages, total)
