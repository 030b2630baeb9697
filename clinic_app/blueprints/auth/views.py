"""Sign in, sign out, password reset and invitation acceptance on a clinic subdomain."""
from datetime import timedelta

from flask import Blueprint, abort, current_app, flash, g, redirect, request, session, url_for
from flask_login import current_user

from ...extensions import throttle
from ...models import AuthToken, User
from ...services import audit
from ...services.auth import (
    end_session,
    issue_reset_link,
    set_password,
    sign_in_staff,
    start_session,
    take_welcome,
)
from ...services.notifications import queue_email, render_email
from ...services.passwords import context_words
from ...gate import allow_when_suspended
from ...tenancy import current_tenant
from ...web import canonical_url, htmx_redirect, render, render_form
from .forms import AcceptInviteForm, ForgotPasswordForm, LoginForm, NewPasswordForm
from ..signin import login_page

bp = Blueprint("auth", __name__)

PREFILL_KEY = "login_email"


def _start(user):
    start_session(user)
    audit.record("auth.login", target=user, actor=user)


@bp.route("/login", methods=["GET", "POST"])
@allow_when_suspended
def login():
    """Sign in to this clinic."""
    if request.method == "GET" and "welcome" in request.args:
        return _welcome(request.args["welcome"])
    form = LoginForm()
    if request.method == "GET" and PREFILL_KEY in session:
        form.email.data = session.pop(PREFILL_KEY)
    return login_page(form, signed_in=current_user.is_authenticated, home="/", template="auth/login.html",
                      check=lambda email, password: sign_in_staff(email, password, request.remote_addr),
                      start=_start, locked_hint=", or reset your password")


def _welcome(key):
    """The new clinic's first visit, from the signup: greet the admin and fill in their email, then PRG."""
    email = take_welcome(key)
    if email and not current_user.is_authenticated:
        session[PREFILL_KEY] = email
        flash("Your clinic is ready — sign in with the email and password you just chose.", "success")
    return redirect(url_for("auth.login"))


@bp.route("/logout", methods=["POST"])
@allow_when_suspended
def logout():
    """Sign out and revoke this session."""
    if current_user.is_authenticated:
        audit.record("auth.logout", target=current_user._get_current_object())
        end_session(current_user._get_current_object())
    flash("You have been signed out.", "success")
    return htmx_redirect(url_for("auth.login"))


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot_password():
    """Ask for a reset link (same answer whether or not the account exists)."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        if not throttle().hit(current_app.config["FORGOT_LIMIT_IP"], "forgot-ip", request.remote_addr or "?"):
            abort(429, description="Too many reset requests from your network. Try again later.")
        user = User.objects(email=form.email.data.strip().lower(), status="active").first()
        if user is not None:
            minutes = current_app.config["RESET_TOKEN_MINUTES"]
            token = issue_reset_link(user, timedelta(minutes=minutes))
            link = canonical_url(current_tenant(), url_for("auth.reset_password", token=token))
            text, html = render_email("password_reset", user=user, link=link, minutes=minutes,
                                      clinic=g.tenant.name)
            queue_email(key=f"reset:{user.pk}:{token[:12]}", kind="password_reset", to=user.email,
                        subject=f"Reset your {g.tenant.name} password", text_body=text, html_body=html)
        flash("If an account uses that address, we have sent it a link to choose a new password.", "success")
        return htmx_redirect(url_for("auth.login"))
    return render_form("auth/forgot.html", form)


# What each kind of emailed link is called on the page that says it no longer works.
LINKS = {"reset": "password reset link", "invite": "invitation link"}


def _link_invalid(purpose):
    """Stop the request with the 404 "this link does not work" page."""
    abort(render("auth/token_invalid.html", status=404, what=LINKS[purpose]))


def _link_user(token, purpose):
    """The user an emailed `purpose` link is for; the invalid-link page when it is unknown, used or expired."""
    found = AuthToken.peek(token, purpose)
    if found is None:
        _link_invalid(purpose)
    return found.user


def _redeem(token, purpose, still_valid=True):
    """Use the link up; the invalid-link page when another use won the race (or `still_valid` is false)."""
    if AuthToken.redeem(token, purpose) is None or not still_valid:
        _link_invalid(purpose)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token):
    """Choose a new password from an emailed link (single use, short-lived, this clinic only)."""
    user = _link_user(token, "reset")
    form = NewPasswordForm(user_inputs=context_words(email=user.email, name=user.name, tenant=g.tenant))
    if form.validate_on_submit():
        _redeem(token, "reset")
        set_password(user, form.password.data)
        audit.record("auth.password_reset", target=user, actor=user)
        flash("Your password has been changed. Sign in with the new one.", "success")
        return htmx_redirect(url_for("auth.login"))
    return render_form("auth/reset.html", form, user=user)


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept_invite(token):
    """Accept a staff invitation: set your name and password, then sign in."""
    user = _link_user(token, "invite")
    # The name typed on this form is checked too (AcceptInviteForm adds it).
    form = AcceptInviteForm(user_inputs=context_words(email=user.email, name=user.name, tenant=g.tenant),
                            data={"name": user.name})
    if form.validate_on_submit():
        _redeem(token, "invite", still_valid=user.status == "invited")
        user.name = form.name.data.strip()
        user.status = "active"
        user.save()
        set_password(user, form.password.data)
        user.reload()
        audit.record("staff.invite_accepted", target=user, actor=user)
        start_session(user)
        flash(f"Welcome to {g.tenant.name}!", "success")
        return htmx_redirect("/")
    return render_form("auth/accept_invite.html", form, user=user)
