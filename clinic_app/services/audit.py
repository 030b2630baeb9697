"""Recording audit events for the signed-in user's actions."""
from flask import has_request_context, request
from flask_login import current_user

from ..models import AuditEvent


def _describe(doc):
    for attr in ("email", "name", "subdomain"):
        value = getattr(doc, attr, None)
        if value:
            return str(value)
    return str(doc.pk)


def record(action, target=None, changes=None, actor=None):
    """Write an audit event: who (current user unless `actor`), what, on which document."""
    if actor is None and has_request_context() and current_user.is_authenticated:
        actor = current_user
    event = AuditEvent(action=action, changes=changes or {})
    if actor is not None:
        event.actor_id = actor.pk
        event.actor = f"{actor.name} <{actor.email}>"
    if target is not None:
        event.target_type = type(target).__name__
        event.target_id = target.pk
        event.target = _describe(target)
    if has_request_context():
        event.ip = request.remote_addr
    return event.save()
