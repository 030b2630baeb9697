"""Helpers shared by blueprints: load-or-404 and paging."""
from bson import ObjectId
from bson.errors import InvalidId
from flask import abort, request


def get_or_404(model, doc_id, **filters):
    """The bound clinic's `model` document with this id, else 404 (also for other clinics' ids)."""
    try:
        oid = ObjectId(doc_id)
    except (InvalidId, TypeError):
        abort(404)
    doc = model.objects(pk=oid, **filters).first()
    if doc is None:
        abort(404)
    return doc


def page_number():
    try:
        return max(1, int(request.args.get("page", "1")))
    except ValueError:
        return 1
