"""Patients: register, search, edit, archive/restore, and the patient's page."""
from datetime import datetime

from flask import Blueprint, abort, flash, request, url_for
from mongoengine.errors import ValidationError as MongoValidationError

from ... import clock
from ...models import Patient
from ...pagination import paginate
from ...permissions import require_permission
from ...services import audit
from ...services import patients as svc

from ...web import htmx_redirect, render
from ..common import get_or_404, page_number
from .forms import PatientForm

bp = Blueprint("patients", __name__, url_prefix="/patients")


def get_patient_or_404(patient_id):
    return get_or_404(Patient, patient_id)


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
    status = 422 if form.is_submitted() else 200
    return render("patients/form.html", block="form", status=status, form=form, patient=patient,
                  duplicates=duplicates)


@bp.route("/new", methods=["GET", "POST"])
@require_permission("patients", "create")
def create():
    """Register a patient (warns about likely duplicates first)."""
    return _form_page(PatientForm())


@bp.get("/<patient_id>")
@require_permission("patients", "read")
def show(patient_id):
    """The patient's page: alerts, details, next appointment and timeline."""
    patient = get_patient_or_404(patient_id)
    audit.record("patient.view", target=patient)
    return render("patients/show.html", patient=patient,
                  next_appointment=svc.next_appointment(patient, clock.now()))


@bp.get("/<patient_id>/timeline")
@require_permission("patients", "read")
def timeline(patient_id):
    """One page of the patient's timeline (lazy-loaded, 'load more')."""
    patient = get_patient_or_404(patient_id)
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
    patient = get_patient_or_404(patient_id)
    return _form_page(PatientForm.for_patient(patient), patient)


@bp.post("/<patient_id>/archive")
@require_permission("patients", "delete")
def archive(patient_id):
    """Archive (soft-delete) a patient: hidden from lists, records kept."""
    patient = get_patient_or_404(patient_id)
    svc.set_active(patient, False)
    flash(f"{patient.full_name} was archived. Restore from the archived list.", "success")
    return htmx_redirect(url_for("patients.index"), status=303)


@bp.post("/<patient_id>/restore")
@require_permission("patients", "delete")
def restore(patient_id):
    """Restore an archived patient."""
    patient = get_patient_or_404(patient_id)
    svc.set_active(patient, True)
    flash(f"{patient.full_name} was restored.", "success")
    return htmx_redirect(url_for("patients.show", patient_id=patient.pk), status=303)


