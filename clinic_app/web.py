"""Response helpers shared by every blueprint: fragment-or-page, htmx redirects."""
from flask import make_response, redirect, render_template, request
from jinja2_fragments.flask import render_block


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


def htmx_redirect(location, status=303):
    """Redirect that htmx follows too: 200 + HX-Redirect for htmx, else a 303."""
    if request.headers.get("HX-Request") == "true":
        response = make_response("", 200)
        response.headers["HX-Redirect"] = location
        return response
    return redirect(location, status)
