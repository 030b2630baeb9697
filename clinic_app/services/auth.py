"""Signing in and out: server-side sessions behind Flask-Login."""
import secrets
from datetime import timedelta

from flask import current_app, request, session
from flask_login import login_user, logout_user

from .. import clock
from ..clock import as_utc
from ..models import Settings, User, UserSession
from ..models.users import token_hash
from ..tenancy import bound_tenant

SEEN_WRITE_INTERVAL = timedelta(minutes=1)


def authenticate(email, password):
    """The active user of this clinic with these credentials, or None (same answer for every failure)."""
    from .passwords import check_password

    if not isinstance(email, str) or not isinstance(password, str):
        return None
    user = User.objects(email=email.strip().lower()).first()
    ok = check_password(password, user.password_hash if user else None)
    if user is None or not ok or not user.is_active:
        return None
    return user


def start_session(user):
    """Sign `user` in with a brand-new session (no fixation), bound to this clinic."""
    now = clock.now()
    token = secrets.token_urlsafe(32)
    lifetime = timedelta(days=current_app.config["SESSION_LIFETIME_DAYS"])
    record = UserSession(
        token_hash=token_hash(token), user=user, created_at=now, last_seen_at=now,
        expires_at=now + lifetime, ip=request.remote_addr,
        user_agent=(request.user_agent.string or "")[:300],
    ).save()
    session.clear()
    session.permanent = True
    session["tenant_id"] = str(user.tenant_id)
    user.session_token, user.current_session = token, record
    login_user(user)
    User.objects(pk=user.pk).update(set__last_login_at=now)
    return record


def end_session(user):
    """Sign out: revoke the server-side session, then clear the cookie."""
    if user is not None and user.current_session is not None:
        UserSession.objects(pk=user.current_session.pk).update(set__revoked_at=clock.now())
    logout_user()
    session.clear()


def load_user(token):
    """Flask-Login user_loader: the session token -> the user, or None when not valid here."""
    tenant = bound_tenant()
    if tenant is None or not isinstance(token, str):
        return None
    if session.get("tenant_id") != str(tenant.pk):
        return None
    record = UserSession.objects(token_hash=token_hash(token), revoked_at=None).first()
    if record is None:
        return None
    now = clock.now()
    idle = timedelta(minutes=Settings.current().idle_timeout_minutes)
    if now >= as_utc(record.expires_at) or now - as_utc(record.last_seen_at) > idle:
        UserSession.objects(pk=record.pk).update(set__revoked_at=now)
        return None
    user = record.user
    if not user.is_active:
        return None
    if now - as_utc(record.last_seen_at) > SEEN_WRITE_INTERVAL:
        UserSession.objects(pk=record.pk).update(set__last_seen_at=now)
    user.session_token, user.current_session = token, record
    return user


def drop_foreign_session():
    """before_request: a cookie issued by another clinic (or the apex) is logged out here."""
    from flask import request

    from ..tenancy import HOSTLESS_ENDPOINTS

    owner = session.get("tenant_id")
    if owner is None or request.endpoint in HOSTLESS_ENDPOINTS:
        return  # static files and /healthz bind no clinic and must not touch the session
    tenant = bound_tenant()
    if tenant is None or owner != str(tenant.pk):
        session.clear()


def set_password(user, new_password, keep_session=None):
    """Change a password and revoke every other session (all of them unless `keep_session`)."""
    from .passwords import hash_password

    now = clock.now()
    User.objects(pk=user.pk).update(set__password_hash=hash_password(new_password), set__password_changed_at=now)
    UserSession.revoke_all(user, except_id=keep_session.pk if keep_session else None)
