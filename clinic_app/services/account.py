"""The signed-in user's own account: name, password (re-authenticated), sessions."""
from flask import current_app

from .. import clock
from ..extensions import throttle
from ..models import User, UserSession
from . import audit
from .auth import set_password
from .passwords import check_password
from .staff import TooManyAttempts, _change


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
