"""The API's JSON envelope, in one place: {"success": true, "data": ...} / {"success": false, "error": ...}.

API views answer through `blueprints/api/base.py` (`ok`, `fail`, which are these);
the error handler (errors.py) and the 401 answer (permissions.py) use `fail` for
every error under /api/, so a client sees one error shape whatever went wrong.
"""
from flask import jsonify


def ok(data, status=200, **extra):
    """A success: `data` plus any top-level extras (meta=, warnings=)."""
    response = jsonify({"success": True, "data": data, **extra})
    response.status_code = status
    return response


def fail(status, message, fields=None):
    """An error: {"code": status, "message": ..., "fields": {name: message}} (fields only when given)."""
    error = {"code": status, "message": message}
    if fields:
        error["fields"] = fields
    response = jsonify({"success": False, "error": error})
    response.status_code = status
    return response
