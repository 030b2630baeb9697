"""Results: enter (flag computed here, never taken from the client), amend, acknowledge criticals, review.

Who may review: a signed-in user whose role may update lab results AND whose role level is at least
the Doctor role's (80: the default Doctor and Admin roles, or a custom role an Admin ranks as high).
The same users acknowledge critical results. Nurses enter results but do not review them.
"""
from mongoengine import NotUniqueError
from mongoengine.errors import BulkWriteError, SaveConditionError

from ... import clock
from ...localtime import clinic_zone
from ...models import LabOrder, LabResult
from ...models.labs import ResultAmendment
from ...models.prefetch import prefetch
from ...permissions import ROLE_LEVELS
from .. import audit
from ..visits import ref_id
from . import flags
from .catalogue import tests_by_id
from .orders import Conflict, LabError, NotAllowed

REVIEW_LEVEL = ROLE_LEVELS["Doctor"]
TEXT_MAX = LabResult.value_text.max_length


def may_review(user):
    return bool(user.can("lab_results", "update") and (user.role.level or 0) >= REVIEW_LEVEL)


def _check_reviewer(user):
    if not may_review(user):
        raise NotAllowed("Only a doctor can review lab results or acknowledge critical ones.")


def results_of(order):
    """{test id: LabResult} of an order, in one query."""
    return {r.test_id: r for r in LabResult.objects(order=order)}


def _parse(test, item, raw):
    """(value_num, value_text) from what was typed; None when left empty. Raises flags.BadValue."""
    kind = item.result_type
    if kind == "numeric":
        value = flags.parse_numeric(raw, test.decimals if test is not None else None)
        return None if value is None else (value, None)
    if raw is not None and not isinstance(raw, str):
        raise flags.BadValue("This result is text: send it as a string.")
    text = (raw or "").strip()
    if not text:
        return None
    if len(text) > TEXT_MAX:  # bulk inserts skip the model's validation, so the limit is checked here
        raise flags.BadValue(f"At most {TEXT_MAX} characters.")
    if kind == "choice" and test is not None and test.choices:
        match = next((c for c in test.choices if c.lower() == text.lower()), None)
        if match is None:
            raise flags.BadValue(f"Choose one of: {', '.join(test.choices)}.")
        text = match
    return None, text


def _flag(result, normal_choices):
    return flags.flag_for(result.result_type, result.value, result.range, normal_choices)


def enter(order, values, user):
    """Store the results typed for an order's tests ({test id str: raw value}); returns the new LabResults.

    Tests left empty are skipped (results can come in parts). A value for a test that already has a
    result is refused, never silently dropped: a result is changed only by `amend`. All or nothing:
    when any value is refused, nothing is saved. When every test has a result the order becomes `resulted`.
    Raises Conflict with `.fields` {test id: message} naming each test that already has a result (409);
    LabError with `.fields` for values that cannot be read (422); Conflict when the specimen has not
    been collected, the order was cancelled, or someone entered the same result meanwhile.
    """
    if order.status not in ("collected", "resulted"):
        raise Conflict("Record the specimen collection before entering results." if order.status == "ordered"
                       else f"This order is {order.status}: results cannot be entered.")
    patient = order.patient
    collected_at = order.specimen.collected_at
    on = flags.local_collection_date(collected_at, clinic_zone())
    existing = results_of(order)
    catalogue = tests_by_id([i.test_id for i in order.items])
    now, new, errors, already = clock.now(), [], {}, {}
    for item in order.items:
        raw = values.get(str(item.test_id))
        if raw is None:
            continue
        if item.test_id in existing:
            if isinstance(raw, str) and not raw.strip():
                continue  # an empty box beside a result already in (a form re-sent) says nothing new
            have = existing[item.test_id]
            already[str(item.test_id)] = (
                f"{item.name} already has a result ({have.shown_value}{' ' + have.unit if have.unit else ''}, "
                f"entered by {have.resulted_by}); correct it from the result's page instead.")
            continue
        test = catalogue.get(item.test_id)
        try:
            parsed = _parse(test, item, raw)
        except flags.BadValue as exc:
            errors[str(item.test_id)] = str(exc)
            continue
        if parsed is None:
            continue
        rng = flags.choose_range(test.ranges if test else [], patient.sex, patient.date_of_birth, on)
        result = LabResult(order=order, patient=patient, ordered_by=ref_id(order, "ordered_by"),
                           order_number=order.number, test_id=item.test_id, code=item.code, name=item.name,
                           result_type=item.result_type, unit=item.unit, decimals=test.decimals if test else None,
                           value_num=parsed[0], value_text=parsed[1],
                           range=rng.copy() if rng is not None else None,
                           range_text=flags.describe_reference(item.result_type, rng, item.unit or "",
                                                               test.normal_choices if test else None),
                           collected_at=collected_at, resulted_at=now, resulted_by_id=user.pk, resulted_by=user.name)
        result.flag = _flag(result, test.normal_choices if test else None)
        result.needs_ack = result.critical
        new.append(result)
    if already:
        raise Conflict(f"{len(already)} of these tests already ha{'ve' if len(already) > 1 else 's'} a result "
                       "(perhaps entered by someone else just now); nothing was saved. To change a result, "
                       "correct it from its page.", fields={**errors, **already})
    if errors:
        raise LabError("Some results could not be read; nothing was saved.", fields=errors)
    if not new:
        raise LabError("Enter at least one result.")
    try:
        ids = LabResult.objects.insert(new, load_bulk=False)
    except (NotUniqueError, BulkWriteError):  # bulk inserts report a duplicate key as BulkWriteError
        # An ordered bulk insert stops at the first duplicate: results before it were stored.
        _refresh_summary(order)
        raise Conflict("Someone entered results for this order at the same time, so not all of yours were "
                       "saved. Check the order's results before entering the rest.") from None
    for result, new_id in zip(new, ids if isinstance(ids, list) else [ids]):
        result.pk = new_id
    order = _refresh_summary(order)
    audit.record("lab_result.create", target=order, changes={
        "results": {r.code: {"value": r.value, "flag": r.flag} for r in new}})
    return new


def _refresh_summary(order):
    """Recount the order's flags; collected -> resulted once every test has a result."""
    results = list(LabResult.objects(order=order).only("flag", "test_id"))
    abnormal = sum(1 for r in results if r.flag in flags.ABNORMAL)
    critical = sum(1 for r in results if r.flag in flags.CRITICAL)
    LabOrder.objects(pk=order.pk).update(set__abnormal_count=abnormal, set__critical_count=critical)
    if len({r.test_id for r in results}) >= len(order.items):
        LabOrder.objects(pk=order.pk, status="collected").update(set__status="resulted",
                                                                 set__resulted_at=clock.now())
    order.reload()
    return order


def amend(result, raw, reason, user):
    """Correct a result, keeping the original in an amendment; the flag is recomputed.

    A reviewed order goes back to `resulted`, so the correction is reviewed again; a corrected value
    that is critical needs acknowledging again. Raises LabError (no reason, bad or unchanged value),
    Conflict (amended by someone else meanwhile, order cancelled).
    """
    reason = (reason or "").strip()
    if not reason:
        raise LabError("Give the reason for the correction.")
    order = result.order
    if order.status == "cancelled":
        raise Conflict("This order was cancelled.")
    test = tests_by_id([result.test_id]).get(result.test_id)
    parsed = _parse(test, result, raw)
    if parsed is None:
        raise LabError("Enter the corrected value.")
    old = {"value": result.value, "flag": result.flag}
    result.value_num, result.value_text = parsed
    result.flag = _flag(result, test.normal_choices if test else None)
    new = {"value": result.value, "flag": result.flag}
    if new["value"] == old["value"]:
        raise LabError("The value is unchanged, so there is nothing to amend.")
    count = len(result.amendments or [])
    amendment = ResultAmendment(at=clock.now(), by_id=user.pk, by=user.name, reason=reason,
                                changes={k: {"old": old[k], "new": new[k]} for k in old if old[k] != new[k]})
    result.amendments.append(amendment)
    if result.critical:
        result.needs_ack, result.acknowledged_at, result.acknowledged_by = True, None, None
    else:
        result.needs_ack = False
    try:
        result.save(save_condition={"__raw__": {f"amendments.{count}": {"$exists": False}}})
    except SaveConditionError:
        raise Conflict("Someone corrected this result while you were editing; nothing was saved.") from None
    reopened = LabOrder.objects(pk=order.pk, status="reviewed").update(
        set__status="resulted", unset__reviewed_at=True, unset__reviewed_by=True, unset__reviewed_by_id=True)
    _refresh_summary(order)
    audit.record("lab_result.amend", target=result, changes={
        "reason": reason, "order": order.number, "code": result.code, **amendment.changes,
        "review_reopened": bool(reopened)})
    return amendment


def acknowledge(result, user):
    """Mark a critical result seen (it leaves the dashboard). Raises NotAllowed, Conflict (already done)."""
    _check_reviewer(user)
    done = LabResult.objects(pk=result.pk, needs_ack=True).update(
        set__needs_ack=False, set__acknowledged_at=clock.now(), set__acknowledged_by=user.name)
    if not done:
        raise Conflict("This result needs no acknowledgement (already acknowledged, or not critical).")
    audit.record("lab_result.acknowledge", target=result, changes={"code": result.code, "flag": result.flag})
    result.reload()
    return result


def review(order, user, comment=None):
    """resulted -> reviewed, with an optional comment; acknowledges its critical results too."""
    _check_reviewer(user)
    now = clock.now()
    updated = LabOrder.objects(pk=order.pk, status="resulted").modify(
        new=True, set__status="reviewed", set__reviewed_at=now, set__reviewed_by=user.name,
        set__reviewed_by_id=user.pk, set__review_comment=(comment or "").strip() or None)
    if updated is None:
        order.reload()
        raise Conflict("Only an order whose results are all in can be reviewed." if order.status != "reviewed"
                       else f"This order was already reviewed by {order.reviewed_by}.")
    acked = LabResult.objects(order=order, needs_ack=True).update(
        set__needs_ack=False, set__acknowledged_at=now, set__acknowledged_by=user.name)
    audit.record("lab_order.review", target=updated, changes={
        "status": {"old": "resulted", "new": "reviewed"}, "comment": updated.review_comment,
        "acknowledged": acked})
    return updated


# -- the dashboard ---------------------------------------------------------------------

DASHBOARD_ROWS = 10


def critical_for(user, limit=DASHBOARD_ROWS):
    """The user's (as ordering doctor) critical results not yet acknowledged, newest first."""
    return list(LabResult.objects(ordered_by=user, needs_ack=True).order_by("-resulted_at").limit(limit))


def unreviewed_for(user, limit=DASHBOARD_ROWS):
    """The user's orders whose results are all in and await review, newest first."""
    return list(LabOrder.objects(ordered_by=user, status="resulted").order_by("-resulted_at").limit(limit))


def dashboard(user):
    """{"critical": [...], "unreviewed": [...]} for the signed-in user's dashboard, patients prefetched."""
    critical, unreviewed = critical_for(user), unreviewed_for(user)
    prefetch(critical, "patient")
    prefetch(unreviewed, "patient")
    return {"critical": critical, "unreviewed": unreviewed}
