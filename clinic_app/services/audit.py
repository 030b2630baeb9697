"""Recording audit events for the signed-in user's actions."""
import operator
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bson import ObjectId
from flask import has_request_context, request
from flask_login import current_user

from ..models import AuditEvent, Settings
from ..pagination import paginate


def _describe(doc):
    for attr in ("email", "name", "subdomain"):
        value = getattr(doc, attr, None)
        if value:
            return str(value)
    return str(doc.pk)


def event(action, target=None, changes=None, actor=None, at=None):
    """The AuditEvent `record` writes, unsaved: who, what, on which document (the demo seeds insert
    theirs in bulk). `at` defaults to now."""
    built = AuditEvent(action=action, changes=changes or {})
    if at is not None:
        built.at = at
    if actor is not None:
        built.actor_id = actor.pk
        built.actor = f"{actor.name} <{actor.email}>"
    if target is not None:
        built.target_type = type(target).__name__
        built.target_id = target.pk
        built.target = _describe(target)
    return built


def record(action, target=None, changes=None, actor=None):
    """Write an audit event: who (current user unless `actor`), what, on which document, from where."""
    if actor is None and has_request_context() and current_user.is_authenticated:
        actor = current_user
    built = event(action, target, changes, actor)
    if has_request_context():
        built.ip = request.remote_addr
    return built.save()


def change(old, new):
    """One recorded change of a field, as `record(changes={field: change(old, new)})` stores it."""
    return {"old": old, "new": new}


def apply_values(doc, values, fields, same=operator.eq, recorded=change):
    """Set on `doc` each of `fields` that `values` gives and `same(old, new)` finds different; returns the
    changes to record, {field: recorded(old, new)} (empty: nothing differs, nothing was set)."""
    changes = {}
    for field in fields:
        if field in values and not same(getattr(doc, field), values[field]):
            changes[field] = recorded(getattr(doc, field), values[field])
            setattr(doc, field, values[field])
    return changes


# -- the audit log page -------------------------------------------------------------

AUDIT_PAGE_SIZE = 50


def audit_page(action=None, actor_id=None, start=None, end=None, page=1, per_page=AUDIT_PAGE_SIZE):
    """Audit events newest first, filtered; `start`/`end` are dates in the clinic's time zone (inclusive)."""
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
    return paginate(qs.order_by("-at", "-id"), page, per_page)
