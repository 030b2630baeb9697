"""Laboratory API: /lab-tests, /lab-orders (list/get/create), /lab-orders/<id>/results (flags by the server)."""
from bson import ObjectId
from flask import request
from flask_login import current_user

from ...models import LabOrder, LabResult, Patient, User, Visit
from ...models.labs import ORDER_STATUSES
from ...pagination import paginate
from ...permissions import require_permission
from ...services.labs import catalogue, orders, results
from ..common import find, get_or_404, refuse
from .base import attempt, body, bp, fail, ok, page_meta, paging
from .labs_schemas import LabOrderIn, ResultsIn, lab_order_json, lab_result_json, lab_test_json

# The lab API answers 400 for what the others answer 422 (409 stays 409).
STATUSES = {422: 400, 403: 400}


@bp.get("/lab-tests")
@require_permission("lab_catalogue", "read")
def lab_tests_list():
    """The catalogue's tests by name: ?inactive=1 includes those not offered."""
    page = paginate(catalogue.tests(include_inactive=request.args.get("inactive") == "1"), *paging())
    return ok([lab_test_json(t) for t in page.items], meta=page_meta(page))


def _oid_arg(name):
    raw = request.args.get(name)
    if raw is None:
        return None
    if not ObjectId.is_valid(raw):
        refuse(400, f"{name} must be an id.", {name: "Not an id."})
    return ObjectId(raw)


@bp.get("/lab-orders")
@require_permission("lab_results", "read")
def lab_orders_list():
    """Orders newest first: ?patient_id=, ?status= (ordered, collected, resulted, reviewed, cancelled)."""
    qs = LabOrder.objects
    patient_id = _oid_arg("patient_id")
    if patient_id:
        qs = qs.filter(patient=patient_id)
    status = request.args.get("status")
    if status:
        if status not in ORDER_STATUSES:
            return fail(400, "Unknown status.", {"status": f"One of {', '.join(ORDER_STATUSES)}."})
        qs = qs.filter(status=status)
    page = paginate(qs.order_by("-ordered_at"), *paging())
    return ok([lab_order_json(o) for o in page.items], meta=page_meta(page))


@bp.get("/lab-orders/<order_id>")
@require_permission("lab_results", "read")
def lab_orders_get(order_id):
    """One order with its results."""
    order = get_or_404(LabOrder, order_id)
    return ok(lab_order_json(order, list(LabResult.objects(order=order))))


@bp.post("/lab-orders")
@require_permission("lab_results", "create")
def lab_orders_create():
    """Order tests and/or panels for a patient (optionally from a visit)."""
    given = body(LabOrderIn)
    patient = get_or_404(Patient, given.patient_id)
    visit = get_or_404(Visit, given.visit_id) if given.visit_id else None
    orderer = _orderer(given.ordered_by_id)
    order = attempt(lambda: orders.place(patient, orderer, given.test_ids, given.panel_ids, given.priority, given.note,
                                         visit), STATUSES, names={"tests": "test_ids"})
    return ok(lab_order_json(order, []), 201)


def _orderer(user_id):
    """The ordering clinician: `ordered_by_id` (an active user of this clinic who may order) or the caller."""
    if user_id:
        user = find(User, user_id, status="active")
        if user is None or not user.can("lab_results", "create"):
            refuse(400, "ordered_by_id is not a user of this clinic who may order tests.",
                   {"ordered_by_id": "Not an active user who may order tests."})
        return user
    caller = current_user._get_current_object()
    if not isinstance(caller, User):
        refuse(400, "With an API token, give ordered_by_id: the clinician the order is for.",
               {"ordered_by_id": "Required with an API token."})
    return caller


@bp.get("/lab-orders/<order_id>/results")
@require_permission("lab_results", "read")
def lab_results_list(order_id):
    """The order's results."""
    order = get_or_404(LabOrder, order_id)
    return ok([lab_result_json(r) for r in LabResult.objects(order=order)])


@bp.post("/lab-orders/<order_id>/results")
@require_permission("lab_results", "update")
def lab_results_create(order_id):
    """Enter results ([{test_id, value}]); the server picks the range and computes each flag.

    All or nothing. 400 with `fields` {test id: message} for a test not on the order, posted twice or a
    value that cannot be read; 409 with `fields` {test id: message} for each test that already has a
    result (change those with an amendment) or when the specimen is not collected yet.
    """
    order = get_or_404(LabOrder, order_id)
    given = body(ResultsIn)
    ordered = {str(i.test_id) for i in order.items}
    problems, values = {}, {}
    for r in given.results:
        if r.test_id not in ordered:
            problems[r.test_id] = "This test is not on the order."
        elif r.test_id in values:
            problems[r.test_id] = "This test is posted more than once."
        values[r.test_id] = r.value
    if problems:
        return fail(400, "Some results do not fit this order; nothing was saved.", problems)
    # enter() reloads `order` itself once its summary and status are updated.
    new = attempt(lambda: results.enter(order, values, current_user._get_current_object()), STATUSES)
    return ok({"order": lab_order_json(order), "results": [lab_result_json(r) for r in new]}, 201)
