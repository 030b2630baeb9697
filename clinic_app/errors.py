"""One error handler: a page for browsers, a fragment for htmx, JSON for the API."""
import logging

from flask import current_app, g, request
from flask_wtf.csrf import CSRFError
from pymongo.errors import ConnectionFailure, PyMongoError, ServerSelectionTimeoutError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from .envelope import fail
from .resilience import unavailable_service
from .web import can_build_urls, plain_page, render

log = logging.getLogger(__name__)

TITLES = {
    400: "Bad request",
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    413: "Too large",
    415: "Send a form",
    422: "Please check the form",
    429: "Too many attempts",
    500: "Something went wrong",
    503: "Temporarily unavailable",
}


def error_response(code, description, fields=None):
    """The API's JSON envelope under /api/ (with per-field messages when given), else a page or fragment."""
    if request.path.startswith("/api/"):
        return fail(code, description, fields)
    if not can_build_urls():  # a Host Werkzeug refused: the layout's url_for() would fail (a 500)
        return plain_page(code, TITLES.get(code, "Error"), description)
    return render(
        "errors/error.html",
        block="content",
        status=code,
        code=code,
        title=TITLES.get(code, "Error"),
        description=description,
    )


def handle_http(exc):
    if unavailable_service(getattr(exc, "original_exception", None)):  # raised inside another handler
        return handle_unavailable(exc.original_exception)
    return _unless_unavailable(error_response, exc.code or 500, exc.description, getattr(exc, "fields", None))


def _unless_unavailable(respond, *args):
    """`respond(*args)`, or the 503 when rendering it needs a database that does not answer (the layout
    loads the signed-in user: a 404 page in an outage would otherwise fail inside its handler, a 500)."""
    try:
        return respond(*args)
    except Exception as exc:
        if unavailable_service(exc):
            return handle_unavailable(exc)
        raise


def handle_csrf(exc):
    return _unless_unavailable(error_response, 400,
                               "This form has expired or was sent from elsewhere. Reload the page and try again.")


UNAVAILABLE = ServiceUnavailable.description + " Please try again in a minute."


def handle_unavailable(exc):
    """503 for MongoDB or Redis not answering in time, rendered without touching either.

    The request's one deadline may be spent already: the page must not load the
    signed-in user (the layout's nav) or anything else from the database, and if
    rendering fails all the same the answer is a plain 503, never a 500.
    """
    log.error("service unavailable (%s): %s: %s", unavailable_service(exc) or "?", type(exc).__name__, exc)
    g._login_user = current_app.login_manager.anonymous_user()  # Flask-Login's slot: no user loader now
    try:
        response = error_response(503, UNAVAILABLE)
    except Exception:
        log.exception("the 503 page failed to render; answering a plain one")
        response = fail(503, UNAVAILABLE) if request.path.startswith("/api/") else plain_page(
            503, TITLES[503], UNAVAILABLE)
    response.headers["Retry-After"] = "30"
    response.headers["Cache-Control"] = "no-store"
    return response


def handle_unexpected(exc):
    if isinstance(exc, HTTPException):
        return handle_http(exc)
    if unavailable_service(exc):  # a timeout wrapped by mongoengine (OperationError), ExecutionTimeout...
        return handle_unavailable(exc)
    log.exception("unhandled error")
    return _unless_unavailable(error_response, 500, InternalServerError.description)


def init_app(app):
    app.register_error_handler(CSRFError, handle_csrf)
    app.register_error_handler(HTTPException, handle_http)
    for exc in (ConnectionFailure, ServerSelectionTimeoutError, RedisConnectionError, RedisTimeoutError):
        app.register_error_handler(exc, handle_unavailable)
    app.register_error_handler(PyMongoError, handle_unexpected)
    app.register_error_handler(Exception, handle_unexpected)
