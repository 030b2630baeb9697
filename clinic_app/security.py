"""Security headers on every response."""
from flask import current_app, g

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)


def set_security_headers(response):
    h = response.headers
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "same-origin")
    h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if current_app.config["HSTS"]:
        h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    response.vary.add("HX-Request")
    return response


def no_store_when_signed_in(response):
    """Answers behind sign-in carry patient data: no browser or proxy may keep a copy (back button, shared PCs)."""
    # g._login_user is Flask-Login's per-request user, present once something asked who is signed
    # in (every permission check does); reading it here does not load a user for static files.
    user = g.get("_login_user")
    if (user is not None and user.is_authenticated) or g.get("operator") is not None:
        response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app):
    app.after_request(set_security_headers)
    app.after_request(no_store_when_signed_in)
