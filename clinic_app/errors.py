"""One error handler: a page for browsers, a fragment for htmx, JSON for the API."""
import logging

from flask import jsonify, request
from flask_wtf.csrf import CSRFError
from pymongo.errors import ConnectionFailure, PyMongoError, ServerSelectionTimeoutError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from .web import render

log = logging.getLogger(__name__)

TITLES = {
    400: "Bad request",
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    413: "Too large",
    422: "Please check the form",
    429: "Too many attempts",
    500: "Something went wrong",
    503: "Temporarily unavailable",
}


def error_response(code, description):
    if request.path.startswith("/api/"):
        response = jsonify({"success": False, "error": {"code": code, "message": description}})
        response.status_code = code
        return response
    return render(
        "errors/error.html",
        block="content",
        status=code,
        code=code,
        title=TITLES.get(code, "Error"),
        description=description,
    )


def handle_http(exc):
    return error_response(exc.code or 500, exc.description)


def handle_csrf(exc):
    return error_response(400, "This form has expired or was sent from elsewhere. Reload the page and try again.")


def handle_unavailable(exc):
    log.error("service unavailable: %s", exc)
    return error_response(503, ServiceUnavailable.description + " Please try again in a minute.")


def handle_unexpected(exc):
    if isinstance(exc, HTTPException):
        return handle_http(exc)
    log.exception("unhandled error")
    return error_response(500, InternalServerError.description)


def init_app(app):
    app.register_error_handler(CSRFError, handle_csrf)
    app.register_error_handler(HTTPException, handle_http)
    for exc in (ConnectionFailure, ServerSelectionTimeoutError, RedisConnectionError, RedisTimeoutError):
        app.register_error_handler(exc, handle_unavailable)
    app.register_error_handler(PyMongoError, handle_unexpected)
    app.register_error_handler(Exception, handle_unexpected)
