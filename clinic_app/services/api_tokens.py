"""Creating, revoking and authenticating API tokens.

An API request that carries an `Authorization` header is authenticated by that
header alone: a bad or revoked token is a 401, never a fallback to the session
cookie (services.auth.load_user ignores the cookie then), and only a request
that really was authenticated by a token skips the CSRF check.
"""
import secrets

from flask import request
from flask_login import current_user

from .. import clock
from ..models import ApiToken
from ..models.api_tokens import ApiClient
from ..models.users import token_hash
from ..tenancy import bound_tenant
from . import audit

PREFIX = "cat_"
INVALID_TOKEN = "The API token is invalid or revoked."


def create_token(name, role, creator):
    """Returns (token document, the secret shown once)."""
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=name, prefix=secret[:12], token_hash=token_hash(secret), role=role,
                     created_by=creator).save()
    audit.record("api_token.create", target=token, changes={"role": role.name})
    return token, secret


def revoke_token(token):
    if token.revoked_at is None:
        ApiToken.objects(pk=token.pk).update(set__revoked_at=clock.now())
        audit.record("api_token.revoke", target=token)


def presents_credentials(req=None):
    """True for an API request with an Authorization header (of any scheme, valid or not)."""
    req = req or request
    return req.path.startswith("/api/") and "Authorization" in req.headers


def authenticated_by_token():
    """True when this request's user is an API token (not a cookie session, not anonymous)."""
    return isinstance(current_user._get_current_object(), ApiClient)


def load_from_request(req=None):
    """Flask-Login request_loader: `Authorization: Bearer cat_...` on /api/ -> ApiClient or None."""
    req = req or request
    if not req.path.startswith("/api/") or bound_tenant() is None:
        return None
    header = req.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.startswith(PREFIX):
        return None
    token = ApiToken.objects(token_hash=token_hash(secret.strip()), revoked_at=None).first()
    if token is None:
        return None
    now = clock.now()
    if token.last_used_at is None or (now - clock.as_utc(token.last_used_at)).total_seconds() > 60:
        ApiToken.objects(pk=token.pk).update(set__last_used_at=now)
    return ApiClient(token)
