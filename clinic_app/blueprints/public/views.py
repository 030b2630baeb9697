"""The apex site: landing page and the signup wizard (clinic → admin → settings → review).

The wizard's answers live in Redis (services.onboarding.Wizard) under a
random id kept in the Flask session; the session cookie is signed, not
encrypted, so it holds that id and nothing else.
"""
import json

from flask import Blueprint, abort, current_app, make_response, request, session, url_for

from ...extensions import throttle
from ...services.auth import welcome_login_path
from ...services.onboarding import (
    ProvisioningFailed,
    SubdomainTaken,
    Wizard,
    create_clinic_from_wizard,
    subdomain_problem,
    taken_message,
)
from ...web import canonical_url, htmx_redirect, render, wants_fragment
from .forms import STEP_FORMS, ClinicForm, CreateForm

bp = Blueprint("public", __name__)

SESSION_KEY = "onboard_wizard"
# (step, title, endpoint), in order; drives the progress indicator and the Back links.
STEPS = (
    ("clinic", "Clinic", "public.onboard_clinic"),
    ("admin", "Admin account", "public.onboard_admin"),
    ("settings", "Settings", "public.onboard_settings"),
    ("review", "Review", "public.onboard_review"),
)
_ENDPOINT = {step: endpoint for step, _, endpoint in STEPS}
_NEXT = {STEPS[i][0]: STEPS[i + 1][0] for i in range(len(STEPS) - 1)}
_BACK = {STEPS[i + 1][0]: STEPS[i][0] for i in range(len(STEPS) - 1)}


def landing():
    """Apex landing page."""
    return render("public/landing.html")


def _wizard():
    """This browser's wizard; a new, unsaved one when it has none or its answers expired."""
    wizard_id = session.get(SESSION_KEY)
    wizard = Wizard.load(wizard_id)
    if wizard is None:
        wizard = Wizard()
        wizard.expired = bool(wizard_id)
    return wizard


def _page(step, wizard, form, status=200, block="wizard", **extra):
    return render("public/onboard.html", block=block, status=status, step=step, steps=STEPS, wizard=wizard,
                  form=form, action=url_for(_ENDPOINT[step]), back=_BACK.get(step), endpoints=_ENDPOINT,
                  base_domain=current_app.config["BASE_DOMAIN"], **extra)


def _go(step):
    """Post/Redirect/Get to a step: HX-Location (swap the wizard, push the URL) for htmx, else a redirect."""
    url = url_for(_ENDPOINT[step])
    if wants_fragment():
        response = make_response("", 200)
        response.headers["HX-Location"] = json.dumps({"path": url, "target": "#wizard", "swap": "outerHTML"})
        return response
    return htmx_redirect(url)


def _step(step):
    """Show a step (GET) or store its answers and move on (a valid POST); 422 with errors otherwise."""
    wizard = _wizard()
    missing = wizard.first_missing(before=step)
    if missing:
        return _go(missing)
    form_class = STEP_FORMS[step]
    form = form_class(wizard=wizard) if request.method == "POST" else form_class.for_answers(wizard)
    if form.validate_on_submit():
        form.apply(wizard)
        wizard.save()
        session[SESSION_KEY] = wizard.id
        return _go(_NEXT[step])
    return _page(step, wizard, form, status=422 if form.is_submitted() else 200)


@bp.route("/tenant-onboard", methods=["GET", "POST"])
def onboard_clinic():
    """Step 1: the clinic's name and address."""
    return _step("clinic")


@bp.route("/tenant-onboard/admin", methods=["GET", "POST"])
def onboard_admin():
    """Step 2: the first admin's name, email and password."""
    return _step("admin")


@bp.route("/tenant-onboard/settings", methods=["GET", "POST"])
def onboard_settings():
    """Step 3: time zone, currency and date format."""
    return _step("settings")


@bp.route("/tenant-onboard/review", methods=["GET", "POST"])
def onboard_review():
    """Step 4: review the answers; POST re-checks them all and creates the clinic."""
    wizard = _wizard()
    missing = wizard.first_missing()
    if missing:
        return _go(missing)
    form = CreateForm()
    if not form.validate_on_submit():
        return _page("review", wizard, form)
    _limit_signups()
    for step, form_class in STEP_FORMS.items():
        check = form_class.for_answers(wizard, final=True)
        if not check.recheck():
            return _page(step, wizard, check, status=422)
    try:
        tenant, admin = create_clinic_from_wizard(wizard)
    except SubdomainTaken:
        check = ClinicForm.for_answers(wizard)
        check.subdomain.errors = [taken_message(wizard.get("subdomain"), just=True)]
        return _page("clinic", wizard, check, status=422)
    except ProvisioningFailed:
        return _page("review", wizard, form, status=500, failed=True)
    session.pop(SESSION_KEY, None)
    # Another host with its own session cookie: a single-use key (the email stays server-side) lets
    # the clinic's login page say the clinic is ready and fill in the admin's email.
    return htmx_redirect(canonical_url(tenant, welcome_login_path(tenant, admin.email)))


@bp.get("/tenant-onboard/subdomain-check")
def subdomain_check():
    """Live availability of an address: a fragment for htmx, the clinic step for a plain GET."""
    limit = current_app.config["ONBOARD_CHECK_LIMIT_IP"]
    if not throttle().hit(limit, "onboard-check-ip", request.remote_addr or "?"):
        abort(429, description="That was a lot of checks in a short time. Wait a minute and try again.")
    value = request.args.get("subdomain", "").strip()
    wizard = _wizard()
    form = ClinicForm(formdata=None, data={**wizard.answers, "subdomain": value}, wizard=wizard)
    check = {"value": value, "problem": subdomain_problem(value) if value else None}
    return _page("clinic", wizard, form, block="subdomain_status", check=check)


def _limit_signups():
    """Count a Create attempt from this address; 429 once ONBOARD_LIMIT_IP is exceeded."""
    limit, addr = current_app.config["ONBOARD_LIMIT_IP"], request.remote_addr or "?"
    if not throttle().hit(limit, "onboard-ip", addr):
        minutes = max(1, round(throttle().retry_after(limit, "onboard-ip", addr) / 60))
        abort(429, description="Too many clinics were started from your network recently. "
                               f"Try again in about {minutes} minute{'' if minutes == 1 else 's'}.")
