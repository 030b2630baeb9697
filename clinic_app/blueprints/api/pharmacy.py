"""Pharmacy API: medicines, prescriptions (list/get/create, edit a draft, issue, cancel), dispense a line,
stock batches."""
from flask import request
from flask_login import current_user

from ...models import Medicine, Patient, Prescription, Visit
from ...models.pharmacy import PRESCRIPTION_STATUSES
from ...models.prefetch import prefetch
from ...pagination import paginate
from ...permissions import require_permission
from ...services.pharmacy import catalogue, dispensing, prescribing, stock
from ..common import get_or_404, refuse
from .base import attempt, body, bp, fail, ok, page_meta, paging
from .pharmacy_schemas import (CancelIn, DispenseIn, DraftIn, PrescriptionIn, batch_json, medicine_json,
                               movement_json, prescription_json)

STOCK_FILTERS = ("all", "low", "expiring", "expired")


def _prescriber():
    """The signed-in user; for an API token, the staff member who created it (a prescription needs a person)."""
    user = current_user._get_current_object()
    token = getattr(user, "token", None)
    return token.created_by if token is not None else user


@bp.get("/medicines")
@require_permission("inventory", "read")
def medicines_list():
    """The catalogue: ?q= (name or generic prefix), ?archived=1, with usable on-hand."""
    qs = catalogue.search(request.args.get("q", "")[:100], include_archived=request.args.get("archived") == "1")
    page = paginate(qs, *paging())
    totals = stock.usable_on_hand([m.pk for m in page.items]) if page.items else {}
    return ok([medicine_json(m, totals.get(m.pk, 0)) for m in page.items], meta=page_meta(page))


@bp.get("/medicines/<medicine_id>")
@require_permission("inventory", "read")
def medicines_get(medicine_id):
    """One medicine."""
    m = get_or_404(Medicine, medicine_id)
    return ok(medicine_json(m, stock.usable_on_hand([m.pk]).get(m.pk, 0)))


@bp.get("/prescriptions")
@require_permission("prescriptions", "read")
def prescriptions_list():
    """Prescriptions, newest first: ?patient_id=, ?status=."""
    status = request.args.get("status")
    if status and status not in PRESCRIPTION_STATUSES:
        return fail(400, "Unknown status.", {"status": "draft, issued, partly_dispensed, dispensed or cancelled"})
    patient = get_or_404(Patient, request.args["patient_id"]) if request.args.get("patient_id") else None
    page = paginate(prescribing.recent(status, patient), *paging())
    return ok([prescription_json(rx) for rx in page.items], meta=page_meta(page))


@bp.get("/prescriptions/<prescription_id>")
@require_permission("prescriptions", "read")
def prescriptions_get(prescription_id):
    """One prescription with its lines."""
    return ok(prescription_json(get_or_404(Prescription, prescription_id)))


def _prescribing(act, given):
    """`act(rows, overrides)`'s prescription, or the refusal as the envelope: allergy matches and duplicate
    therapy 409 per line (`lines.N.allergy` / `lines.N.duplicate`), a line's problem beside `lines.N`."""
    try:
        return act([ln.model_dump() for ln in given.lines],
                   {int(k) - 1: v for k, v in given.allergy_overrides.items()})
    except prescribing.NeedsOverride as exc:
        fields = {f"lines.{i + 1}.allergy": " ".join(r) for i, r in exc.allergy.items()}
        fields.update({f"lines.{i + 1}.duplicate": " ".join(r) for i, r in exc.duplicates.items()})
        refuse(409, str(exc), fields)
    except prescribing.PrescriptionError as exc:
        refuse(exc.status, str(exc), {f"lines.{i + 1}": m for i, m in exc.errors.items()} or None)


@bp.post("/prescriptions")
@require_permission("prescriptions", "create")
def prescriptions_create():
    """Write a prescription for a visit; allergy matches need allergy_overrides, duplicates confirm_duplicates."""
    given = body(PrescriptionIn)
    visit = get_or_404(Visit, given.visit_id)
    rx = _prescribing(lambda rows, overrides: prescribing.create(
        visit, rows, _prescriber(), issue=given.issue, overrides=overrides,
        confirm_duplicates=given.confirm_duplicates, amendment_reason=given.amendment_reason), given)
    return ok(prescription_json(rx), 201)


@bp.put("/prescriptions/<prescription_id>")
@require_permission("prescriptions", "update")
def prescriptions_update(prescription_id):
    """Replace a draft's lines (its prescriber or an Admin), with the same checks; {"issue": true} issues it too."""
    rx = get_or_404(Prescription, prescription_id)
    given = body(DraftIn)
    user = _prescriber()
    if rx.status == "draft" and not prescribing.may_edit(rx, user):
        return fail(403, "Only the prescriber or an Admin can edit this draft.")
    rx = _prescribing(lambda rows, overrides: prescribing.update_draft(
        rx, rows, user, issue=given.issue, overrides=overrides, confirm_duplicates=given.confirm_duplicates,
        amendment_reason=given.amendment_reason), given)
    return ok(prescription_json(rx))


@bp.post("/prescriptions/<prescription_id>/issue")
@require_permission("prescriptions", "update")
def prescriptions_issue(prescription_id):
    """Issue a draft (it can then be dispensed); 409 when it has moved on or a new allergy needs review."""
    rx = get_or_404(Prescription, prescription_id)
    return ok(prescription_json(attempt(lambda: prescribing.issue(rx))))


@bp.post("/prescriptions/<prescription_id>/cancel")
@require_permission("prescriptions", "update")
def prescriptions_cancel(prescription_id):
    """Cancel with {reason}; what was dispensed stays dispensed. 409 once fully dispensed or cancelled."""
    rx = get_or_404(Prescription, prescription_id)
    given = body(CancelIn)
    return ok(prescription_json(attempt(lambda: prescribing.cancel(rx, given.reason))))


@bp.post("/prescriptions/<prescription_id>/dispense")
@require_permission("dispensing", "create")
def prescriptions_dispense(prescription_id):
    """Dispense {line, quantity} first-expiry-first-out; answers the dispense and the movements made."""
    rx = get_or_404(Prescription, prescription_id)
    given = body(DispenseIn)
    user = current_user._get_current_object()
    record = attempt(lambda: dispensing.dispense(rx, given.line - 1, given.quantity, user))
    return ok({"dispense_id": str(record.pk), "quantity": record.quantity, "unit_price": record.unit_price,
               "currency": record.currency, "lots": [{"lot": b.lot, "quantity": b.quantity} for b in record.batches],
               "movements": [movement_json(m) for m in record.movements]}, 201)


@bp.get("/stock")
@require_permission("inventory", "read")
def stock_list():
    """Batches with stock and their on-hand: ?filter=all|expiring|expired|low (low: medicines at/below reorder)."""
    view = request.args.get("filter", "all")
    if view not in STOCK_FILTERS:
        return fail(400, "Unknown filter.", {"filter": ", ".join(STOCK_FILTERS)})
    if view == "low":
        page = paginate(stock.low_stock(), *paging())
        return ok([medicine_json(m, n) for m, n in page.items], meta=page_meta(page))
    page = paginate(stock.batches(view), *paging())
    prefetch(page.items, "medicine")
    today = stock.today()
    return ok([batch_json(b, today) for b in page.items], meta=page_meta(page))
