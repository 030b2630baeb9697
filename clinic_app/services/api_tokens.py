"""Creating, revoking and authenticating API tokens."""
import secrets

from flask import request

from .. import clock
from ..models import ApiToken
from ..models.api_tokens import ApiClient
from ..models.users import token_hash
from ..tenancy import bound_tenant
from . import audit

PREFIX = "cat_"


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
