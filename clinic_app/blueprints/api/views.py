"""JSON API v1: {"success": true, "data": ...} / {"success": false, "error": ...}.

Same tenant, session and permission checks as the pages; an API token
(`Authorization: Bearer cat_...`) may replace the session. Bodies are
validated by strict pydantic models (schemas.py, with the JSON answers)
before anything reaches a query; queries are built in the services.
"""
from datetime import timedelta

from flask import request
from flask_login import current_user

from ...localtime import clinic_settings
from ...models import Appointment, Patient, User
from ...models.prefetch import prefetch
from ...pagination import paginate
from ...permissions import require_permission
from ...services import audit, scheduling
from ...services import patients as patient_svc
from ..common import day_arg, get_or_404  # a 404 answers in the API's envelope (errors.py)
from .base import MAX_PER_PAGE, body, bp, fail, ok, page_meta, paging  # noqa: F401
from .schemas import AppointmentIn, AppointmentPatch, PatientIn, PatientPatch, appointment_json, patient_json

# -- patients ---------------------------------------------------------------------------


@bp.get("/patients")
@require_permission("patients", "read")
def patients_list():
    """List patients: ?q= (as the page search), ?archived=1, ?page=, ?per_page=."""
    qs = patient_svc.search(request.args.get("q", "")[:100], include_inactive=request.args.get("archived") == "1")
    page = paginate(qs, *paging())
    return ok([patient_json(p) for p in page.items], meta=page_meta(page))


@bp.get("/patients/<patient_id>")
@require_permission("patients", "read")
def patients_get(patient_id):
    """One patient."""
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
    warnings = {"warnings": {"likely_duplicates": [str(d.pk) for d in duplicates]}} if duplicates else {}
    return ok(patient_json(patient), 201, **warnings)


@bp.route("/patients/<patient_id>", methods=["PATCH", "PUT"])
@require_permission("patients", "update")
def patients_update(patient_id):
    """Update the given fields of a patient."""
    patient = get_or_404(Patient, patient_id)
    patient_svc.update_patient(patient, body(PatientPatch).merged(patient))
    return ok(patient_json(patient))


# -- appointments -----------------------------------------------------------------------


@bp.get("/appointments")
@require_permission("appointments", "read")
def appointments_list():
    """List appointments: ?from=&to= (clinic-local dates, inclusive), ?doctor_id=, ?patient_id=, ?status=."""
    first = day_arg("from", scheduling.local_today())
    last = day_arg("to", first + timedelta(days=6))
    try:
        qs = scheduling.appointment_list(first, last, request.args.get("doctor_id"),
                                         request.args.get("patient_id"), request.args.get("status") or None)
    except scheduling.Refused as exc:
        return fail(400, str(exc), exc.errors)
    page = paginate(qs, *paging())
    prefetch(page.items, "patient", "doctor")  # one query per kind, not two per row
    return ok([appointment_json(a) for a in page.items], meta=page_meta(page))


@bp.get("/appointments/<appointment_id>")
@require_permission("appointments", "read")
def appointments_get(appointment_id):
    """One appointment."""
    return ok(appointment_json(get_or_404(Appointment, appointment_id)))


def _refused(exc):
    return fail(400, "The appointment was not saved.", {("doctor_id" if k == "doctor" else k): v
                                                       for k, v in exc.errors.items()})


def _warned(appointment, warnings, status=200):
    return ok(appointment_json(appointment), status, **({"warnings": warnings} if warnings else {}))


@bp.post("/appointments")
@require_permission("appointments", "create")
def appointments_create():
    """Book an appointment (same rules as the booking form)."""
    data = body(AppointmentIn).booking_data(clinic_settings().slot_minutes)
    user = current_user._get_current_object()
    try:
        appointment, warnings = scheduling.book(data, by=user if isinstance(user, User) else None)
    except scheduling.Refused as exc:
        return _refused(exc)
    return _warned(appointment, warnings, 201)


@bp.route("/appointments/<appointment_id>", methods=["PATCH", "PUT"])
@require_permission("appointments", "update")
def appointments_update(appointment_id):
    """Reschedule (doctor_id/date/time/duration/reason) and/or change status."""
    appointment = get_or_404(Appointment, appointment_id)
    given = body(AppointmentPatch)
    data, warnings = given.reschedule_data(appointment), []
    try:
        if data:
            _, warnings = scheduling.reschedule(appointment, data)
        if given.status and given.status != appointment.status:
            scheduling.change_status(appointment, given.status, given.cancel_reason)
    except scheduling.Refused as exc:
        return _refused(exc)
    except scheduling.InvalidTransition as exc:
        return fail(409, str(exc))
    appointment.reload()
    return _warned(appointment, warnings)
from . import labs  # noqa: E402,F401  (registers routes)
from . import pharmacy  # noqa: E402,F401  (registers routes)
from . import billing  # noqa: E402,F401  (registers routes)
