"""The subscription gate (ARCHITECTURE §5.2-5.3): request middleware over the state machine.

Suspended or inactive clinics see the suspended page, except on views marked
`@allow_when_suspended` (login, logout, subscription, checkout). In read-only
grace every write outside `@allow_writes_in_grace` views is refused and sent to
/subscription. The states themselves are services/subscription.py's; this module
only applies them to requests, so it sits above the services, beside the blueprints.
"""
from flask import current_app, flash, g, request

from . import clock
from .services.subscription import standing
from .web import htmx_redirect, render

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def allow_when_suspended(view):
    """Mark a view reachable while the clinic is suspended (login, logout, subscription)."""
    view.allow_when_suspended = True
    view.allow_writes_in_grace = True
    return view


def allow_writes_in_grace(view):
    """Mark a view whose writes stay open in read-only grace (login, payments)."""
    view.allow_writes_in_grace = True
    return view


def subscription_gate():
    """before_request (after the host binding): suspended -> suspended page; grace -> read-only."""
    tenant = g.get("tenant")
    if tenant is None:
        return None
    g.standing = st = standing(tenant, clock.now())
    view = current_app.view_functions.get(request.endpoint)
    if st.suspended:
        if view is not None and getattr(view, "allow_when_suspended", False):
            return None
        return render("errors/suspended.html", block="content", status=403, standing=st)
    if st.read_only and request.method not in SAFE_METHODS:
        if view is not None and getattr(view, "allow_writes_in_grace", False):
            return None
        flash("Your clinic is read-only until the subscription is renewed. Nothing was saved.", "warning")
        return htmx_redirect("/subscription")
    return None


def init_app(app):
    app.before_request(subscription_gate)
