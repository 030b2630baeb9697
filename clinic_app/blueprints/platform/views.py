"""The operator console at the apex /platform/: its own sign-in, separate from clinic staff sessions.

The operator's cookie is the apex's host-only session cookie, holding
`operator_token` (a random token whose hash is an OperatorSession). Clinic
staff sessions live on clinic hosts and carry `tenant_id` instead, so neither
can stand in for the other. Every route but the sign-in page needs an
operator session (checked in `before_request`, so a new route is closed by default).
"""
from flask import Blueprint, abort, flash, g, make_response, redirect, request, session, url_for

from ... import clock
from ...models import Tenant
from ...services import platform as svc
from ...services.auth import check_sign_in
from ...services.subscription import standing
from ...web import htmx_redirect, render
from ..common import get_or_404, page_number
from ..flows import filtered_list
from ..signin import login_page
from .forms import (
    ClinicFilterForm,
    ExtendTrialForm,
    JobActionForm,
    OperatorLoginForm,
    ReactivateForm,
    SuspendForm,
)

bp = Blueprint("platform", __name__, url_prefix="/platform")

SESSION_KEY = "operator_token"
OPEN_ENDPOINTS = frozenset({"platform.login"})


@bp.before_request
def load_operator():
    """Bind g.operator from the session; everything but the sign-in page requires one."""
    found = svc.load_operator_session(session.get(SESSION_KEY))
    g.operator, g.operator_session = found if found else (None, None)
    if found is None and SESSION_KEY in session:
        session.pop(SESSION_KEY)  # expired or revoked: forget it
    if g.operator is None and request.endpoint not in OPEN_ENDPOINTS:
        return _unauthorized()
    return None


@bp.context_processor
def operator_context():
    return {"operator": g.get("operator")}


def _unauthorized():
    """Full page -> redirect to sign-in; htmx -> 401 with HX-Redirect."""
    target = url_for("platform.login", next=request.full_path.rstrip("?") if request.method == "GET" else None)
    if request.headers.get("HX-Request") == "true":
        response = make_response("", 401)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


def _start(operator):
    """A fresh operator session: nothing from before sign-in carries over."""
    if g.operator_session is not None:
        svc.end_operator_session(g.operator_session)
    token = svc.start_operator_session(operator, request.remote_addr, request.user_agent.string)
    session.clear()
    session[SESSION_KEY] = token
    svc.record_action(operator, "operator.login", ip=request.remote_addr)


def _check(email, password):
    return check_sign_in(svc.authenticate_operator, email, password, scope="operator-login", ip=request.remote_addr)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Operator sign-in."""
    return login_page(OperatorLoginForm(), signed_in=g.operator is not None, check=_check, start=_start,
                      template="platform/login.html", home=url_for("platform.clinics"), next_prefix="/platform/")


@bp.post("/logout")
def logout():
    """Sign out and revoke this operator session."""
    svc.end_operator_session(g.operator_session)
    svc.record_action(g.operator, "operator.logout", ip=request.remote_addr)
    session.clear()
    flash("You have been signed out.", "success")
    return htmx_redirect(url_for("platform.login"))


@bp.get("/")
def clinics():
    """Every clinic, 25 a page: state, dates, counts, last activity; search and state filter."""
    return filtered_list("platform/clinics.html", ClinicFilterForm,
                         lambda form, page: svc.clinic_page(form.q.data or "", form.state.data or "", page))


def get_tenant_or_404(tenant_id):
    return get_or_404(Tenant, tenant_id)


def _clinic_page(tenant, status=200, **forms):
    forms = {"extend_form": ExtendTrialForm(prefix="extend", formdata=None),
             "suspend_form": SuspendForm(prefix="suspend", formdata=None),
             "reactivate_form": ReactivateForm(prefix="reactivate", formdata=None), **forms}
    now = clock.now()
    return render("platform/clinic.html", block="actions", status=status, clinic=tenant,
                  state=svc.clinic_state(tenant, now), clinic_standing=standing(tenant, now),
                  stats=svc.clinic_stats([tenant.pk])[tenant.pk], actions=svc.actions_for(tenant=tenant), **forms)


@bp.get("/clinics/<tenant_id>")
def clinic(tenant_id):
    """One clinic: details, the actions, and the operator actions taken on it."""
    return _clinic_page(get_tenant_or_404(tenant_id))


# The operator's actions on a clinic, one line each: the form (its prefix is the action's name and
# the endpoint's), the service, the form fields it takes before the reason, and the flash.
CLINIC_ACTIONS = {
    "extend": (ExtendTrialForm, svc.extend_trial, ("days",), "Extended."),
    "suspend": (SuspendForm, svc.suspend_clinic, (), "Suspended."),
    "reactivate": (ReactivateForm, svc.reactivate_clinic, (), "Reactivated."),
}


def clinic_action(tenant_id, action):
    """Extend the trial (or paid period) by 1–60 days, suspend the clinic, or lift a suspension."""
    form_class, apply, fields, done = CLINIC_ACTIONS[action]
    form = form_class(prefix=action)
    tenant = get_tenant_or_404(tenant_id)
    if form.validate_on_submit():
        try:
            apply(g.operator, tenant, *(form[name].data for name in fields), form.reason.data.strip(),
                  request.remote_addr)
        except svc.ActionRefused as exc:
            form.reason.errors.append(str(exc))
        else:
            flash(done, "success")
            return htmx_redirect(url_for("platform.clinic", tenant_id=tenant.pk))
    return _clinic_page(tenant, status=422, **{f"{action}_form": form})


def _clinic_action_view(action):
    """`clinic_action` for one action: its URL takes only the clinic's id (a rule's `defaults` would add
    `action` to it), named after the action (CSRFProtect reads a view's module and name)."""
    def view(tenant_id):
        return clinic_action(tenant_id, action)

    view.__name__ = view.__qualname__ = action
    view.__doc__ = clinic_action.__doc__
    return view


for _action in CLINIC_ACTIONS:
    bp.add_url_rule(f"/clinics/<tenant_id>/{_action}", endpoint=_action, view_func=_clinic_action_view(_action),
                    methods=["POST"])


@bp.get("/jobs")
def jobs():
    """The RQ queue: counts, and the failed jobs with requeue/delete."""
    return render("platform/jobs.html", block="failed", overview=svc.queue_overview(),
                  page=svc.failed_jobs(page_number()), form=JobActionForm(),
                  actions=svc.actions_for(prefix="job.", limit=20))


def _job_action(job_id, action, done):
    form = JobActionForm()
    if not form.validate_on_submit():
        abort(400, description="This form has expired. Reload the page and try again.")
    try:
        action(g.operator, job_id, request.remote_addr)
    except svc.JobNotFound:
        abort(404, description="That job is no longer in the failed list (requeued, deleted or expired).")
    flash(done, "success")
    return htmx_redirect(url_for("platform.jobs"))


@bp.post("/jobs/<job_id>/requeue")
def requeue_job(job_id):
    """Put a failed job back on its queue."""
    return _job_action(job_id, svc.requeue_failed_job, f"Requeued job {job_id}.")


@bp.post("/jobs/<job_id>/delete")
def delete_job(job_id):
    """Delete a failed job."""
    return _job_action(job_id, svc.delete_failed_job, f"Deleted job {job_id}.")


@bp.get("/messages")
def messages():
    """Outbox delivery across clinics: by kind and status, last 24 h and 7 days; clinics failing most."""
    return render("platform/messages.html", stats=svc.message_stats())
