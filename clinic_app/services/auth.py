"""Signing in and out: the one throttled sign-in check (clinic staff and operators), server-side
sessions behind Flask-Login, password changes, reset links, and the new clinic's first sign-in."""
import json
import logging
import secrets
from datetime import timedelta

from flask import current_app, request, session
from flask_login import login_user, logout_user
from redis.exceptions import RedisError

from .. import clock
from ..clock import as_utc
from ..extensions import redis_conn, throttle
from ..hosts import HOSTLESS_ENDPOINTS
from ..models import AuthToken, Settings, User, UserSession
from ..models.users import token_hash
from ..tenancy import bound_tenant, current_tenant
from .api_tokens import presents_credentials
from .passwords import check_password, hash_password

log = logging.getLogger(__name__)

SEEN_WRITE_INTERVAL = timedelta(minutes=1)
INVALID_LOGIN = "Email or password is incorrect."
WELCOME_TTL = timedelta(minutes=10)


class SignInThrottled(Exception):
    """Too many failed sign-ins for this account or from this address; `.retry_after` in seconds."""

    def __init__(self, retry_after):
        super().__init__(retry_after)
        self.retry_after = retry_after
        self.minutes = max(1, round(retry_after / 60))


def check_sign_in(authenticate, email, password, *, scope, account_scope=(), ip=None):
    """The principal `authenticate(email, password)` finds, or None for every kind of failure.

    Failures count towards two moving windows: per account (`{scope}-account`,
    `account_scope`, the normalised email) and per client address
    (`{scope}-ip`). Raises SignInThrottled, before any password check, while
    either is over its limit; successes are not counted.
    """
    cfg = current_app.config
    account = email.strip().lower() if isinstance(email, str) else ""
    limits = [(cfg["LOGIN_LIMIT_ACCOUNT"], f"{scope}-account", *account_scope, account),
              (cfg["LOGIN_LIMIT_IP"], f"{scope}-ip", ip or "?")]
    wait = max(throttle().retry_after(limit, *key) for limit, *key in limits)
    if wait:
        raise SignInThrottled(wait)
    principal = authenticate(email, password)
    if principal is None:
        for limit, *key in limits:
            throttle().hit(limit, *key)
    return principal


def sign_in_staff(email, password, ip):
    """This clinic's active user with these credentials, throttled (see check_sign_in).

    The account key holds the clinic's id, not the Host header, and the address
    key no clinic at all, so neither resets by switching subdomain.
    """
    return check_sign_in(authenticate, email, password, scope="login",
                         account_scope=(str(current_tenant().pk),), ip=ip)


def authenticate(email, password):
    """The active user of this clinic with these credentials, or None (same answer for every failure)."""
    if not isinstance(email, str) or not isinstance(password, str):
        return None
    user = User.objects(email=email.strip().lower()).first()
    # Always one bcrypt check at the configured cost: unknown, invited (no hash),
    # deactivated and wrong-password attempts take the same time.
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
    if presents_credentials():
        return None  # an API request with an Authorization header is authenticated by it alone
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
    owner = session.get("tenant_id")
    if owner is None or request.endpoint in HOSTLESS_ENDPOINTS:
        return  # static files and /healthz bind no clinic and must not touch the session
    tenant = bound_tenant()
    if tenant is None or owner != str(tenant.pk):
        session.clear()


def set_password(user, new_password, keep_session=None):
    """Change a password; revoke every other session (all of them unless `keep_session`) and every reset link."""
    now = clock.now()
    User.objects(pk=user.pk).update(set__password_hash=hash_password(new_password), set__password_changed_at=now)
    UserSession.revoke_all(user, except_id=keep_session.pk if keep_session else None)
    _revoke_reset_links(user, now)


def issue_reset_link(user, lifetime):
    """A new password-reset token for `user` (the plain token); every older link stops working."""
    _revoke_reset_links(user, clock.now())
    return AuthToken.issue(user, "reset", lifetime)


def _revoke_reset_links(user, now):
    # Marked used: peek/redeem only accept unused tokens, so a stale link reads "no longer works".
    AuthToken.objects(user=user, purpose="reset", used_at=None).update(set__used_at=now)


def welcome_login_path(tenant, email):
    """The new clinic's login path with a short-lived single-use key that greets its admin by email.

    The signup ends on the apex and the login page is on the clinic's own host,
    which does not share its cookie, so the key travels in the URL and the
    email stays in Redis (not in the URL, its history or logs). Without Redis:
    the plain login page (the clinic exists; a greeting must not undo that).
    """
    key = secrets.token_urlsafe(18)
    value = json.dumps({"tenant": str(tenant.pk), "email": email})
    try:
        redis_conn().set(f"login:welcome:{key}", value, ex=WELCOME_TTL)
    except RedisError:
        log.warning("could not store the welcome hand-over for %s", tenant.subdomain)
        return "/login"
    return f"/login?welcome={key}"


def take_welcome(key):
    """The email handed over under `key` for this clinic (once), or None."""
    if not isinstance(key, str) or not key or len(key) > 64:
        return None
    try:
        pipe = redis_conn().pipeline()  # MULTI: read and forget at once (GETDEL needs Redis 6.2)
        pipe.get(f"login:welcome:{key}")
        pipe.delete(f"login:welcome:{key}")
        raw, _ = pipe.execute()
    except RedisError:
        return None
    found = json.loads(raw) if raw else None
    tenant = bound_tenant()
    if not found or tenant is None or found.get("tenant") != str(tenant.pk):
        return None
    return found.get("email")
