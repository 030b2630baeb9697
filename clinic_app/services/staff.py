"""Administering a clinic's people: invitations, roles of users, deactivation.

Roles live in services/roles.py, the signed-in user's own account in
services/account.py, clinic settings in services/clinic_settings.py.

Every change writes an audit event with before/after values. Rules that keep
the clinic usable (at least one active Admin; the Admin role always has full
access) are checked here, not in the views, and re-checked after the write so
that two concurrent changes cannot both slip through.
"""
from datetime import timedelta

from flask import current_app, url_for
from flask_login import current_user
from mongoengine import NotUniqueError

from .. import clock
from ..models import AuthToken, Role, User, UserSession
from ..models.prefetch import prefetch
from ..tenancy import current_tenant
from ..web import canonical_url
from . import audit
from .errors import Refused
from .notifications import queue_email, render_email


class StaffError(Refused):
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


def set_takes_appointments(user, takes):
    """Offer `user` in the booking form's doctor list, or stop; returns False when nothing changed.

    Their booked appointments stay as they are (the calendar still shows them).
    """
    before = user.bookable
    User.objects(pk=user.pk).update(set__takes_appointments=bool(takes))
    user.reload()
    if before == bool(takes):
        return False
    audit.record("staff.bookable_change", target=user, changes={"takes_appointments": _change(before, bool(takes))})
    return True
