"""Patients: register, search, edit, archive/restore, and the patient's page."""
from datetime import datetime

from flask import Blueprint, abort, flash, request, url_for
from mongoengine.errors import ValidationError as MongoValidationError

from ... import clock
from ...models import Patient
from ...pagination import paginate
from ...permissions import require_permission
from ...services import patients as svc

from ...web import htmx_redirect, render, render_form
from ..common import get_or_404, page_number, read_or_404
from ..flows import archive_routes
from .forms import PatientForm

bp = Blueprint("patients", __name__, url_prefix="/patients")


@bp.get("/")
@require_permission("patients", "read")
def index():
    """Patient list with search as you type."""
    q = request.args.get("q", "")[:100]
    archived = request.args.get("archived") == "1"
    page = paginate(svc.search(q, include_inactive=archived), page_number(), svc.PER_PAGE)
    return render("patients/index.html", block="results", page=page, q=q, archived=archived)


def _form_page(form, patient=None):
    """Validate, warn about likely duplicates, then create or update; else the form again (422)."""
    duplicates = []
    if form.validate_on_submit():
        data = form.cleaned()
        duplicates = svc.likely_duplicates(data["first_name"], data["last_name"], data["date_of_birth"],
                                           data["phone"], data["email"], exclude=patient)
        if not duplicates or form.confirm_duplicate.data:
            try:
                if patient is None:
                    patient = svc.create_patient(data)
                    flash(f"Registered {patient.full_name} ({patient.record_number}).", "success")
                else:
                    svc.update_patient(patient, data)
                    flash("Saved.", "success")
            except MongoValidationError as exc:  # the form should have caught it; never a 500
                form.first_name.errors.append(str(exc))
            else:
                return htmx_redirect(url_for("patients.show", patient_id=patient.pk))
    return render_form("patients/form.html", form, patient=patient, duplicates=duplicates)


@bp.route("/new", methods=["GET", "POST"])
@require_permission("patients", "create")
def create():
    """Register a patient (warns about likely duplicates first)."""
    return _form_page(PatientForm())


@bp.get("/<patient_id>")
@require_permission("patients", "read")
def show(patient_id):
    """The patient's page: alerts, details, next appointment and timeline."""
    patient = read_or_404(Patient, patient_id, "patient.view")
    return render("patients/show.html", patient=patient,
                  next_appointment=svc.next_appointment(patient, clock.now()))


@bp.get("/<patient_id>/timeline")
@require_permission("patients", "read")
def timeline(patient_id):
    """One page of the patient's timeline (lazy-loaded, 'load more')."""
    patient = get_or_404(Patient, patient_id)
    before = request.args.get("before")
    try:
        before_at = datetime.fromisoformat(before) if before else None
    except ValueError:
        abort(400, description="Bad timeline position.")
    entries, next_before = svc.timeline(patient, before_at)
    # Without JavaScript this is the whole patient page with this page of history in it.
    return render("patients/show.html", block="timeline", patient=patient, entries=entries,
                  next_before=next_before, next_appointment=svc.next_appointment(patient, clock.now()))


@bp.route("/<patient_id>/edit", methods=["GET", "POST"])
@require_permission("patients", "update")
def edit(patient_id):
    """Edit a patient's details."""
    patient = get_or_404(Patient, patient_id)
    return _form_page(PatientForm.for_patient(patient), patient)


def _archived_or_restored(patient, active):
    """(message, where to go) after archiving (back to the list) or restoring (the patient's page)."""
    if active:
        return f"{patient.full_name} was restored.", url_for("patients.show", patient_id=patient.pk)
    return f"{patient.full_name} was archived. Restore from the archived list.", url_for("patients.index")


# Archive is the soft delete: hidden from lists, records kept.
archive_routes(bp, "/<patient_id>", Patient, require_permission("patients", "delete"), svc.set_active,
               done=_archived_or_restored)
