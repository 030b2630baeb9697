"""Visits (encounters): list, start, the visit page, edit a draft or amend a signed one, sign."""
from flask import Blueprint, abort, flash, request, url_for
from flask_login import current_user

from ...models import Appointment, Patient, Visit
from ...models.prefetch import prefetch
from ...pagination import paginate
from ...permissions import require_permission
from ...services import visits as svc
from ...web import htmx_redirect, render, render_form
from ..common import get_or_404, page_number, read_or_404
from .forms import StartVisitForm, form_for

bp = Blueprint("visits", __name__, url_prefix="/visits")


@bp.get("/")
@require_permission("visits", "read")
def index():
    """Recent visits, newest first; filter by "mine" and by status."""
    mine = request.args.get("mine") == "1"
    status = request.args.get("status", "")
    status = status if status in svc.STATUS_FILTERS else ""
    qs = svc.recent(provider=current_user if mine else None, status=status or None)
    page = paginate(qs, page_number(), svc.PER_PAGE)
    prefetch(page.items, "patient", "provider")
    return render("visits/index.html", block="results", page=page, mine=mine, status_filter=status)


def _start_target(form):
    """(patient, appointment) named by the start form; 404 for unknown or other clinics' ids."""
    appointment_id, patient_id = form.appointment_id.data, form.patient_id.data
    if appointment_id:
        appointment = get_or_404(Appointment, appointment_id)
        if patient_id and str(svc.ref_id(appointment, "patient")) != patient_id:
            abort(404)
        return appointment.patient, appointment
    if patient_id:
        return get_or_404(Patient, patient_id), None
    abort(400, description="Start a visit from a patient's page or from an appointment.")


@bp.route("/start", methods=["GET", "POST"])
@require_permission("visits", "create")
def start():
    """Start a visit for a patient, or from an appointment (reusing its open draft)."""
    form = StartVisitForm() if request.method == "POST" else StartVisitForm(formdata=request.args)
    patient, appointment = _start_target(form)
    message, status = None, 200
    if request.method == "POST" and form.validate():
        try:
            if appointment is not None:
                visit, created = svc.start_from_appointment(appointment, current_user)
            else:
                visit, created = svc.start_for_patient(patient, current_user), True
        except svc.VisitError as exc:
            message, status = str(exc), exc.status
        else:
            flash("Visit started." if created else "This appointment already has an open visit: continuing it.",
                  "success")
            endpoint = "visits.edit" if _may_edit(visit) else "visits.show"
            return htmx_redirect(url_for(endpoint, visit_id=visit.pk))
    return render("visits/start.html", block="form", status=status, form=form, patient=patient,
                  appointment=appointment, message=message)


@bp.get("/<visit_id>")
@require_permission("visits", "read")
def show(visit_id):
    """The visit: patient alerts, SOAP note, vitals, diagnosis, signature and amendments."""
    visit = read_or_404(Visit, visit_id, "visit.view")
    return _show(visit)


def _may_edit(visit):
    """Amend a signed visit: anyone with visits:update. Edit a draft: its provider or an Admin."""
    return current_user.can("visits", "update") and (visit.locked or svc.may_edit_draft(visit, current_user))


def _show(visit, message=None, status=200):
    return render("visits/show.html", block="sign", status=status, visit=visit, message=message,
                  values=svc.values_of(visit), original=svc.as_signed(visit) if visit.amendments else None,
                  labels=svc.LABELS, units=svc.UNITS, can_edit=_may_edit(visit))


@bp.route("/<visit_id>/edit", methods=["GET", "POST"])
@require_permission("visits", "update")
def edit(visit_id):
    """Edit a draft visit (its provider or an Admin); for a signed visit this is the amendment form."""
    visit = get_or_404(Visit, visit_id)
    if not _may_edit(visit):  # another doctor's draft: they read it on the visit page
        abort(403, description=str(svc.not_yours(visit)))
    form = form_for(visit, svc.values_of(visit))
    message, status = None, None
    if visit.locked and form.is_submitted() and "reason" not in request.form:
        # A draft form posted after someone signed the visit: refuse, offer the amendment form.
        message, status = svc.SIGNED_MEANWHILE, 409
    elif form.validate_on_submit():
        try:
            if visit.locked:
                svc.amend(visit, form.values(), form.reason.data, current_user)
                flash("Amendment saved. The previous values are kept in the visit's history.", "success")
            else:
                changed = svc.update_draft(visit, form.values(), current_user)
                flash("Saved." if changed else "Nothing changed.", "success")
        except svc.VisitError as exc:
            message, status = str(exc), exc.status
            if isinstance(exc, svc.Conflict):
                # Signed or amended meanwhile: show the form the visit now needs, keeping what was typed.
                visit.reload()
                form = form_for(visit, svc.values_of(visit))
        else:
            return htmx_redirect(url_for("visits.show", visit_id=visit.pk))
    return render_form("visits/form.html", form, status=status, visit=visit, message=message)


@bp.post("/<visit_id>/sign")
@require_permission("visits", "update")
def sign(visit_id):
    """Sign the visit (its provider only): locks the note and completes a linked appointment."""
    visit = get_or_404(Visit, visit_id)
    try:
        svc.sign(visit, current_user)
    except svc.NotProvider as exc:
        abort(403, description=str(exc))
    except svc.VisitError as exc:
        return _show(visit, message=str(exc), status=exc.status)
    flash("Visit signed. Later changes are recorded as amendments.", "success")
    return htmx_redirect(url_for("visits.show", visit_id=visit.pk))
