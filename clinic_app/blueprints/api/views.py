"""JSON API v1: {"success": true, "data": ...} / {"success": false, "error": ...}.

Same tenant, session and permission checks as the pages; an API token
(`Authorization: Bearer cat_...`) may replace the session. Bodies are
validated by strict pydantic models before anything reaches a query.
"""
from bson import ObjectId
from bson.errors import InvalidId
from flask import abort, request
from flask_login import current_user

from ...models import Patient
from ...permissions import require_permission
from ...services import patients as patient_svc
from ..common import get_or_404  # a 404 here answers in JSON (api_not_found)
from .base import MAX_PER_PAGE, body, bp, fail, ok, page_meta, paging  # noqa: F401
from .schemas import AppointmentIn, AppointmentPatch, PatientIn, PatientPatch


def patient_json(p):
    return {
        "id": str(p.pk), "record_number": p.record_number, "first_name": p.first_name,
        "last_name": p.last_name, "date_of_birth": p.date_of_birth.isoformat() if p.date_of_birth else None,
        "sex": p.sex, "phone": p.phone, "email": p.email, "address": p.address,
        "allergies": list(p.allergies or []), "alerts": p.alerts, "notes": p.notes, "active": p.active,
        "created_at": p.created_at.isoformat() if p.created_at else None,
        "updated_at": p.updated_at.isoformat() if p.updated_at else None,
    }


@bp.get("/patients")
@require_permission("patients", "read")
def patients_list():
    """List patients: ?q= (as the page search), ?archived=1, ?page=, ?per_page=."""
    q = request.args.get("q", "")[:100]
    page, per_page = paging()
    qs = patient_svc.search(q, include_inactive=request.args.get("archived") == "1")
    items, page, pages, total = patient_svc.page_of(qs, page, per_page)
    return ok([patient_json(p) for p in items], meta=page_meta(page, per_page, total, pages))


@bp.get("/patients/<patient_id>")
@require_permission("patients", "read")
def patients_get(patient_id):
    """One patient."""
    from ...services import audit

    patient = get_or_404(Patient, patient_id)
    audit.record("patient.view", target=patient, changes={"via": "api"})
    return ok(patient_json(patient))


@bp.post("/patients")
@require_permission("patients", "create")
def patients_create():
    """Register a patient; likely duplicates come back as a warning."""
    data = body(PatientIn).model_dump()
    duplicates = patient_svc.likely_duplicates(data["first_name"], data["last_name"], data["date_of_birth"],
                                               data["phone"], data["email"])
    patient = patient_svc.create_patient(data)
    warnings = {"likely_duplicates": [str(d.pk) for d in duplicates]} if duplicates else {}
    return ok(patient_json(patient), 201, **({"warnings": warnings} if warnings else {}))


@bp.route("/patients/<patient_id>", methods=["PATCH", "PUT"])
@require_permission("patients", "update")
def patients_update(patient_id):
    """Update the given fields of a patient."""
    patient = get_or_404(Patient, patient_id)
    given = body(PatientPatch).model_dump(exclude_unset=True)
    data = {f: getattr(patient, f) for f in patient_svc.FIELDS}
    data.update({k: v for k, v in given.items() if not (k in ("first_name", "last_name", "sex") and v is None)})
    patient_svc.update_patient(patient, data)
    return ok(patient_json(patient))




# -- appointments -----------------------------------------------------------------------


def appointment_json(a):
    from ...localtime import to_local

    return {
        "id": str(a.pk), "patient_id": str(a.patient.pk), "patient_name": a.patient.full_name,
        "doctor_id": str(a.doctor.pk), "doctor_name": a.doctor.name,
        "start": a.start.isoformat(), "end": a.end.isoformat(),
        "start_local": to_local(a.start).isoformat(), "end_local": to_local(a.end).isoformat(),
        "status": a.status, "reason": a.reason, "cancel_reason": a.cancel_reason,
    }


def _local_day(name):
    from datetime import date

    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        abort(fail(400, f"{name} must be a date (YYYY-MM-DD).", {name: "not a date"}))


def _id_arg(name):
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        return ObjectId(raw)
    except (InvalidId, TypeError):
        abort(fail(400, f"{name} must be an id.", {name: "not an id"}))


@bp.get("/appointments")
@require_permission("appointments", "read")
def appointments_list():
    """List appointments: ?from=&to= (clinic-local dates, inclusive), ?doctor_id=, ?patient_id=, ?status=."""
    from datetime import timedelta

    from ...models import Appointment
    from ...models.scheduling import STATUSES
    from ...services.scheduling import day_bounds, local_today

    first = _local_day("from") or local_today()
    last = _local_day("to") or first + timedelta(days=6)
    if last < first or (last - first).days > 92:
        return fail(400, "Use a range of at most 93 days with from <= to.", {"to": "bad range"})
    start, _ = day_bounds(first)
    _, end = day_bounds(last)
    qs = Appointment.objects(start__gte=start, start__lt=end)
    doctor, patient = _id_arg("doctor_id"), _id_arg("patient_id")
    if doctor:
        qs = qs.filter(doctor=doctor)
    if patient:
        qs = qs.filter(patient=patient)
    status = request.args.get("status")
    if status:
        if status not in STATUSES:
            return fail(400, "Unknown status.", {"status": f"one of {', '.join(STATUSES)}"})
        qs = qs.filter(status=status)
    page, per_page = paging()
    items, page, pages, total = patient_svc.page_of(qs.order_by("start"), page, per_page)
    return ok([appointment_json(a) for a in items], meta=page_meta(page, per_page, total, pages))


@bp.get("/appointments/<appointment_id>")
@require_permission("appointments", "read")
def appointments_get(appointment_id):
    """One appointment."""
    from ...models import Appointment

    return ok(appointment_json(get_or_404(Appointment, appointment_id)))


def _refused(exc):
    return fail(400, "The appointment was not saved.", {("doctor_id" if k == "doctor" else k): v
                                                       for k, v in exc.errors.items()})


@bp.post("/appointments")
@require_permission("appointments", "create")
def appointments_create():
    """Book an appointment (same rules as the booking form)."""
    from ...services import scheduling

    given = body(AppointmentIn)
    data = {"patient_id": given.patient_id, "doctor": given.doctor_id, "date": given.date, "time": given.time,
            "duration": given.duration or scheduling.clinic_settings().slot_minutes, "reason": given.reason}
    try:
        appointment, warnings = scheduling.book(data, by=_booker())
    except scheduling.Refused as exc:
        return _refused(exc)
    extra = {"warnings": warnings} if warnings else {}
    return ok(appointment_json(appointment), 201, **extra)


def _booker():
    from ...models import User

    user = current_user._get_current_object()
    return user if isinstance(user, User) else None


@bp.route("/appointments/<appointment_id>", methods=["PATCH", "PUT"])
@require_permission("appointments", "update")
def appointments_update(appointment_id):
    """Reschedule (doctor_id/date/time/duration/reason) and/or change status."""
    from ...localtime import to_local
    from ...models import Appointment
    from ...services import scheduling

    appointment = get_or_404(Appointment, appointment_id)
    given = body(AppointmentPatch).model_dump(exclude_unset=True)
    status, cancel_reason = given.pop("status", None), given.pop("cancel_reason", None)
    warnings = []
    try:
        if given:
            local_start = to_local(appointment.start)
            data = {
                "doctor": given.get("doctor_id") or str(appointment.doctor.pk),
                "date": given.get("date") or local_start.date(),
                "time": given.get("time") or local_start.time().replace(tzinfo=None),
                "duration": given.get("duration") or int((appointment.end - appointment.start).total_seconds() // 60),
                "reason": given["reason"] if "reason" in given else appointment.reason,
            }
            _, warnings = scheduling.reschedule(appointment, data)
        if status and status != appointment.status:
            scheduling.change_status(appointment, status, cancel_reason)
    except scheduling.Refused as exc:
        return _refused(exc)
    except scheduling.InvalidTransition as exc:
        return fail(409, str(exc))
    appointment.reload()
    return ok(appointment_json(appointment), **({"warnings": warnings} if warnings else {}))
