"""Response helpers shared by every blueprint: fragment-or-page, forms shown again, htmx redirects, safe `next`,
canonical URLs."""
from urllib.parse import urlsplit

from flask import current_app, make_response, redirect, render_template, request
from jinja2_fragments.flask import render_block
from markupsafe import escape
from werkzeug.exceptions import BadHost as UnroutableHost


def wants_fragment():
    """True when htmx asked for a fragment swap, not a boosted page or history restore."""
    headers = request.headers
    return (
        headers.get("HX-Request") == "true"
        and headers.get("HX-Boosted") != "true"
        and headers.get("HX-History-Restore-Request") != "true"
    )


def render(template, block=None, status=200, **context):
    """Render `block` of `template` alone for htmx fragment requests, else the whole page."""
    if block and wants_fragment():
        body = render_block(template, block, **context)
    else:
        body = render_template(template, **context)
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


def render_form(template, form, status=None, **context):
    """The `form` block of `template` (or its page) with `form`: 422 when a submitted form is shown again
    (invalid, or refused by a service), 200 for a fresh one; an explicit `status` (a service's 409) wins."""
    if status is None:
        status = 422 if form.is_submitted() else 200
    return render(template, block="form", status=status, form=form, **context)


def htmx_redirect(location, status=303):
    """Redirect that htmx follows too: 200 + HX-Redirect for htmx, else a 303."""
    if request.headers.get("HX-Request") == "true":
        response = make_response("", 200)
        response.headers["HX-Redirect"] = location
        return response
    return redirect(location, status)


def canonical_url(tenant=None, path="/"):
    """Absolute URL on a tenant's own host (or the apex), never from the request's Host."""
    cfg = current_app.config
    host = cfg["BASE_DOMAIN"] if tenant is None else f"{tenant.subdomain}.{cfg['BASE_DOMAIN']}"
    port = f":{cfg['PUBLIC_PORT']}" if cfg.get("PUBLIC_PORT") else ""
    return f"{cfg['PREFERRED_URL_SCHEME']}://{host}{port}{path}"


def can_build_urls():
    """False when Werkzeug could not bind the URL map to this Host (an empty or 64-character label):
    then no url_for() works, so nothing that extends the layout can be rendered."""
    return not isinstance(request.routing_exception, UnroutableHost)


def plain_page(status, title, description):
    """A self-contained error page (no layout, no url_for) for requests `can_build_urls()` refuses."""
    body = (
        f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{escape(title)}</title></head>"
        f"<body><h1>{escape(title)}</h1><p>{escape(description)}</p></body></html>"
    )
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


def safe_next(target, prefix="/"):
    """`target` when it is a path on this site under `prefix`; never an absolute or scheme-relative URL."""
    if not isinstance(target, str) or not target.startswith(prefix):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target
