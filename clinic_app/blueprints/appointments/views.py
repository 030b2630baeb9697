"""Appointments: day/week calendar, booking, rescheduling, status changes."""
from datetime import timedelta

from flask import Blueprint, abort, flash, request, url_for
from flask_login import current_user

from ...localtime import clinic_settings, to_local
from ...models import Appointment, User
from ...permissions import require_permission
from ...services import scheduling as svc
from ...web import htmx_redirect, render, render_form
from ..common import day_arg, find, get_or_404
from .forms import BookingForm, RescheduleForm, StatusForm

bp = Blueprint("appointments", __name__, url_prefix="/appointments")

VIEWS = ("day", "week")


def get_appointment_or_404(appointment_id):
    return get_or_404(Appointment, appointment_id)


def _labels():
    return {"doctor_label": svc.doctor_label, "status_labels": svc.STATUS_LABELS}


@bp.get("/")
@require_permission("appointments", "read")
def index():
    """The calendar: a day (slot rows x doctor columns) or a week (Mon–Sun), one doctor or all."""
    today = svc.local_today()
    view = request.args.get("view") if request.args.get("view") in VIEWS else "day"
    day = day_arg("date", today, lenient=True)  # a garbled date shows today; 400 outside the calendar's years
    doctor_id = request.args.get("doctor", "")
    doctor = find(User, doctor_id) if doctor_id else None
    if doctor_id and doctor is None:
        abort(404, description="There is no such doctor in this clinic.")
    doctors = svc.bookable_doctors()
    if doctor is not None and doctor.pk not in {d.pk for d in doctors}:
        doctors.append(doctor)
    step = timedelta(days=7 if view == "week" else 1)
    context = {"view": view, "day": day, "today": today, "prev_day": day - step, "next_day": day + step,
               "doctor": doctor, "doctor_id": str(doctor.pk) if doctor else "", "doctor_choices": doctors,
               "can_create": current_user.can("appointments", "create"), **_labels()}
    if view == "day":
        context["grid"] = svc.day_view(day, doctor, doctors=doctors)
    else:
        context["week"] = svc.week_view(day, doctor)
    return render("appointments/index.html", block="calendar", **context)


def _form_page(form, appointment=None, q="", status=None, **extra):
    hours = svc.working_hours()
    return render_form("appointments/form.html", form, status=status, appointment=appointment,
                       q=q, hours=hours, slot_minutes=clinic_settings().slot_minutes, **extra, **_labels())


def _offer(form, q):
    patients, more = svc.patient_options(form.patient_id.data, q)
    form.offer_patients(patients)
    return {"found": len(patients), "more": more}


def _new_booking_form():
    defaults = {"date": svc.local_today(), "duration": clinic_settings().slot_minutes}
    if request.method == "GET" and request.args:
        return BookingForm(formdata=request.args, data=defaults)  # pre-filled from a slot or a patient
    return BookingForm(data=defaults)


@bp.route("/new", methods=["GET", "POST"])
@require_permission("appointments", "create")
def create():
    """Book an appointment (pre-filled from a patient's page or an empty calendar slot)."""
    form = _new_booking_form()
    form.offer_doctors(svc.bookable_doctors(), svc.doctor_label)
    q = request.values.get("q", "")[:100]
    if form.validate_on_submit():
        try:
            appointment, warnings = svc.book(form.cleaned(), by=current_user._get_current_object())
        except svc.Refused as exc:
            form.add_errors(exc.errors)
        else:
            for warning in warnings:
                flash(warning, "warning")
            flash(f"Booked {appointment.patient.full_name} with {svc.doctor_label(appointment.doctor)}.", "success")
            return htmx_redirect(url_for("appointments.show", appointment_id=appointment.pk))
    picked = _offer(form, q)
    return _form_page(form, q=q, **picked)


@bp.get("/patient-search")
@require_permission("appointments", "create")
def patient_search():
    """The booking form's patient picker, filtered by `q` (a fragment for htmx, else the whole form)."""
    form = BookingForm(formdata=request.args, data={"date": svc.local_today(),
                                                    "duration": clinic_settings().slot_minutes})
    form.offer_doctors(svc.bookable_doctors(), svc.doctor_label)
    q = request.args.get("q", "")[:100]
    picked = _offer(form, q)
    return render("appointments/form.html", block="patient_picker", form=form, appointment=None, q=q,
                  hours=svc.working_hours(), slot_minutes=clinic_settings().slot_minutes, **picked, **_labels())


@bp.get("/<appointment_id>")
@require_permission("appointments", "read")
def show(appointment_id):
    """One appointment: details and the status moves allowed from here."""
    appointment = get_appointment_or_404(appointment_id)
    return render("appointments/show.html", appointment=appointment, actions=svc.actions_for(appointment),
                  can_reschedule=svc.can_reschedule(appointment), local_day=to_local(appointment.start).date(),
                  **_labels())


@bp.route("/<appointment_id>/edit", methods=["GET", "POST"])
@require_permission("appointments", "update")
def edit(appointment_id):
    """Reschedule: another time, doctor or length (open appointments only)."""
    appointment = get_appointment_or_404(appointment_id)
    if not svc.can_reschedule(appointment):
        abort(409, description=f"This appointment is {svc.STATE[appointment.status]}, so it cannot be "
                               "rescheduled. Book a new one instead.")
    start = to_local(appointment.start)
    form = RescheduleForm(data={"doctor": str(appointment.doctor.pk), "date": start.date(), "time": start.time(),
                                "duration": int((appointment.end - appointment.start).total_seconds() // 60),
                                "reason": appointment.reason})
    doctors = svc.bookable_doctors()
    if appointment.doctor.pk not in {d.pk for d in doctors}:
        doctors.append(appointment.doctor)
    form.offer_doctors(doctors, svc.doctor_label)
    if form.validate_on_submit():
        try:
            changes, warnings = svc.reschedule(appointment, form.cleaned())
        except svc.Refused as exc:
            form.add_errors(exc.errors)
        except svc.InvalidTransition as exc:
            abort(409, description=str(exc))
        else:
            for warning in warnings:
                flash(warning, "warning")
            flash("Rescheduled." if {"start", "doctor"} & set(changes) else "Saved.", "success")
            return htmx_redirect(url_for("appointments.show", appointment_id=appointment.pk))
    return _form_page(form, appointment=appointment)


@bp.post("/<appointment_id>/status")
@require_permission("appointments", "update")
def status(appointment_id):
    """Check in, start, complete, mark no-show or cancel (the record is kept)."""
    appointment = get_appointment_or_404(appointment_id)
    form = StatusForm()
    if not form.validate_on_submit():
        abort(422, description=" ".join(e for errors in form.errors.values() for e in errors))
    try:
        svc.change_status(appointment, form.status.data, form.cancel_reason.data)
    except svc.InvalidTransition as exc:
        abort(409, description=str(exc))
    flash(f"The appointment is now {svc.STATE[appointment.status]}.", "success")
    return htmx_redirect(url_for("appointments.show", appointment_id=appointment.pk))
