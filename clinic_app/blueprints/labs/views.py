"""Laboratory: outstanding orders, order from a visit or patient, specimen, results, review, amend, report."""
from flask import abort, flash, request, url_for
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from ... import clock
from ...localtime import clinic_settings, clinic_zone
from ...models import LabOrder, LabResult, Patient, Visit
from ...models.labs import WAITING
from ...money import format_money
from ...pagination import paginate
from ...permissions import require_permission
from ...services.labs import catalogue, flags, orders, results, trends
from ...services.visits import ref_id
from ...models.prefetch import prefetch
from ...web import htmx_redirect, render, render_form, safe_next
from ..common import get_or_404, page_number, read_or_404
from .base import bp
from .forms import AmendForm, CancelForm, CollectForm, EmptyForm, OrderForm, ReviewForm

PER_PAGE = 25


def _user():
    return current_user._get_current_object()


def _money(minor):
    return format_money(minor, clinic_settings().currency)


@bp.get("/")
@require_permission("lab_results", "read")
def index():
    """Outstanding orders of this clinic (ordered / specimen collected), oldest first."""
    status = request.args.get("status", "")
    status = status if status in WAITING else ""
    page = paginate(orders.outstanding(status or None), page_number(), PER_PAGE)
    prefetch(page.items, "patient")
    return render("labs/index.html", block="results", page=page, status_filter=status)


# -- ordering ------------------------------------------------------------------------


def _order_target(form):
    """(patient, visit) named by the form; 404 for unknown or other clinics' ids."""
    visit = get_or_404(Visit, form.visit_id.data) if form.visit_id.data else None
    if visit is not None:
        patient = visit.patient
        if form.patient_id.data and form.patient_id.data != str(patient.pk):
            abort(404)
        return patient, visit
    if form.patient_id.data:
        return get_or_404(Patient, form.patient_id.data), None
    abort(400, description="Order tests from a patient's page or a visit.")


def _fill_choices(form):
    panel_list = list(catalogue.panels())
    test_list = list(catalogue.tests())
    form.panels.choices = [SelectChoice(str(p.pk), p.name) for p in panel_list]
    form.tests.choices = [SelectChoice(str(t.pk), t.name) for t in test_list]
    return panel_list, test_list


@bp.route("/orders/new", methods=["GET", "POST"])
@require_permission("lab_results", "create")
def order_new():
    """Order tests or panels for a patient, optionally from a visit."""
    # GET takes the patient/visit from the query string; a POST reads the posted form (a JSON body: 415).
    form = OrderForm() if request.method == "POST" else OrderForm(formdata=request.args)
    patient, visit = _order_target(form)
    panel_list, test_list = _fill_choices(form)
    message, status = None, None
    if request.method == "POST" and form.validate():
        try:
            order = orders.place(patient, _user(), form.tests.data, form.panels.data, form.priority.data,
                                 form.note.data, visit)
        except (orders.LabError, catalogue.CatalogueError) as exc:
            message, status = str(exc), getattr(exc, "status", 422)
        else:
            flash(f"Order {order.number} placed.", "success")
            return htmx_redirect(url_for("labs.order_show", order_id=order.pk))
    return render_form("labs/order_form.html", form, status=status, patient=patient, visit=visit,
                       panel_tests={str(k): v for k, v in catalogue.panel_tests(panel_list).items()},
                       test_list=test_list, message=message, currency=clinic_settings().currency)


# -- one order --------------------------------------------------------------------------


def _order(order_id):
    return get_or_404(LabOrder, order_id)


def _show(order, message=None, status=200, form_errors=None):
    by_test = results.results_of(order)
    return render("labs/order.html", block="order_status", status=status, order=order, by_test=by_test,
                  message=message, may_review=results.may_review(_user()), collect_form=CollectForm(),
                  cancel_form=CancelForm(), form_errors=form_errors or {},
                  # A correction reopens a reviewed order: the earlier comment is offered again.
                  review_form=ReviewForm(data={"comment": order.review_comment}),
                  money=_money)


@bp.get("/orders/<order_id>")
@require_permission("lab_results", "read")
def order_show(order_id):
    """The order: tests, specimen, results with flags, review, cancellation."""
    order = read_or_404(LabOrder, order_id, "lab_order.view")
    return _show(order)


def _order_step(order_id, form_class, invalid, step, done, forbidden_page=False):
    """A POST step on the order page: validate `form_class`, run `step(order, form)`, back to the order.
    A refusal is shown on the order page; `forbidden_page`: NotAllowed answers the 403 page instead."""
    order = _order(order_id)
    form = form_class()
    if not form.validate():
        return _show(order, message=invalid, status=422)
    try:
        step(order, form)
    except orders.NotAllowed as exc:
        if forbidden_page:
            abort(403, description=str(exc))
        return _show(order, message=str(exc), status=exc.status)
    except orders.LabError as exc:
        return _show(order, message=str(exc), status=exc.status)
    flash(done, "success")
    return htmx_redirect(url_for("labs.order_show", order_id=order.pk))


@bp.post("/orders/<order_id>/collect")
@require_permission("lab_results", "update")
def order_collect(order_id):
    """Record the specimen collection (who, when, specimen id)."""
    return _order_step(order_id, CollectForm, "Check the specimen details.",
                       lambda order, form: orders.collect(order, _user(), form.label.data, form.note.data),
                       "Specimen recorded.")


@bp.post("/orders/<order_id>/cancel")
@require_permission("lab_results", "update")
def order_cancel(order_id):
    """Cancel a waiting order, with a reason."""
    return _order_step(order_id, CancelForm, "Give the reason for cancelling.",
                       lambda order, form: orders.cancel(order, _user(), form.reason.data), "Order cancelled.")


@bp.post("/orders/<order_id>/review")
@require_permission("lab_results", "update")
def order_review(order_id):
    """Mark the order's results reviewed (doctors), with an optional comment."""
    return _order_step(order_id, ReviewForm, "The comment is too long.",
                       lambda order, form: results.review(order, _user(), form.comment.data), "Results reviewed.",
                       forbidden_page=True)


@bp.route("/orders/<order_id>/results", methods=["GET", "POST"])
@require_permission("lab_results", "update")
def order_results(order_id):
    """Enter results per test; the flag is computed here from the patient's sex and age at collection."""
    order = _order(order_id)
    form = EmptyForm()
    errors, message, status = {}, None, None
    values = {k[2:]: v for k, v in request.form.items() if k.startswith("r-")}
    if form.validate_on_submit():
        try:
            results.enter(order, values, _user())
        except orders.LabError as exc:
            errors, message, status = getattr(exc, "fields", {}), str(exc), exc.status
        else:
            flash("Results saved.", "success")
            return htmx_redirect(url_for("labs.order_show", order_id=order.pk))
    return render_form("labs/results_form.html", form, status=status, order=order, rows=_result_rows(order),
                       values=values, errors=errors, message=message, age=_age_at_collection(order))


def _result_rows(order):
    """(item, test, existing result, applicable range text) per ordered test, for the results form."""
    existing = results.results_of(order)
    tests = catalogue.tests_by_id([i.test_id for i in order.items])
    patient = order.patient
    on = flags.local_collection_date(order.specimen.collected_at, clinic_zone()) if order.specimen else None
    rows = []
    for item in order.items:
        test = tests.get(item.test_id)
        rng = flags.choose_range(test.ranges, patient.sex, patient.date_of_birth, on) if test and on else None
        rows.append((item, test, existing.get(item.test_id), flags.describe_range(rng, item.unit or "")))
    return rows


@bp.get("/orders/<order_id>/report")
@require_permission("lab_results", "read")
def order_report(order_id):
    """Printable report: clinic header, patient, results with ranges and flags."""
    order = read_or_404(LabOrder, order_id, "lab_order.print")
    return render("labs/report.html", order=order, by_test=results.results_of(order),
                  settings=clinic_settings(), now=clock.now(), age=_age_at_collection(order))


def _age_at_collection(order):
    """'10 years': the patient's age the ranges were chosen for (collection date, else today), or ''."""
    at = order.specimen.collected_at if order.specimen else clock.now()
    return flags.describe_age(order.patient.date_of_birth, flags.local_collection_date(at, clinic_zone()))


# -- one result ----------------------------------------------------------------------------


def _result(result_id):
    return get_or_404(LabResult, result_id)


@bp.get("/results/<result_id>")
@require_permission("lab_results", "read")
def result_show(result_id):
    """One result: value, range, flag, amendments, and the trend of this test for the patient."""
    result = _result(result_id)
    points = trends.series(result.patient, result.test_id) if result.result_type == "numeric" else []
    return render("labs/result.html", result=result, order=result.order, chart=trends.chart(points),
                  points=points, may_review=results.may_review(_user()))


@bp.route("/results/<result_id>/amend", methods=["GET", "POST"])
@require_permission("lab_results", "update")
def result_amend(result_id):
    """Correct a result with a reason; the original stays in its history."""
    result = _result(result_id)
    form = AmendForm(data={"value": result.shown_value} if request.method == "GET" else None)
    message, status = None, None
    if form.validate_on_submit():
        try:
            results.amend(result, form.value.data, form.reason.data, _user())
        except (orders.LabError, flags.BadValue) as exc:
            message, status = str(exc), getattr(exc, "status", 422)
        else:
            flash("Correction saved; the original value is kept in the result's history.", "success")
            return htmx_redirect(url_for("labs.result_show", result_id=result.pk))
    return render_form("labs/amend.html", form, status=status, result=result, message=message)


@bp.post("/results/<result_id>/acknowledge")
@require_permission("lab_results", "update")
def result_acknowledge(result_id):
    """Acknowledge a critical result (doctors); it leaves the ordering doctor's dashboard."""
    result = _result(result_id)
    form = EmptyForm()
    if not form.validate():
        abort(400)
    try:
        results.acknowledge(result, _user())
    except orders.NotAllowed as exc:
        abort(403, description=str(exc))
    except orders.LabError as exc:
        flash(str(exc), "warning")
    else:
        flash(f"Critical {result.name} acknowledged.", "success")
    return htmx_redirect(safe_next(request.form.get("next")) or url_for("labs.result_show", result_id=result.pk))


# -- per patient and per visit ----------------------------------------------------------------


@bp.get("/patients/<patient_id>")
@require_permission("lab_results", "read")
def patient_labs(patient_id):
    """A patient's orders (newest first) and trend charts of repeated tests; a block of the patient page."""
    patient = get_or_404(Patient, patient_id)
    page = paginate(orders.for_patient(patient), page_number(), 10)
    charts = [{"name": name, "unit": unit, "points": points, "chart": trends.chart(points)}
              for name, unit, points in trends.repeated_series(patient)]
    return render("labs/patient.html", block="labs", patient=patient, page=page, charts=charts)


@bp.get("/visits/<visit_id>")
@require_permission("lab_results", "read")
def visit_orders(visit_id):
    """The visit's lab orders; a block of the visit page."""
    visit = get_or_404(Visit, visit_id)
    return render("labs/visit_orders.html", block="orders", visit=visit, patient_id=ref_id(visit, "patient"),
                  visit_order_list=list(orders.for_visit(visit).limit(50)))


from . import catalogue_views  # noqa: E402,F401  (adds the catalogue routes to base.bp)
