"""Sign in, sign out, password reset and invitation acceptance on a clinic subdomain."""
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, g, redirect, request, url_for
from flask_login import current_user

from ...extensions import throttle
from ...models import AuthToken, User
from ...services import audit
from ...services.auth import authenticate, end_session, set_password, start_session
from ...services.notifications import queue_email, render_email
from ...tenancy import allow_when_suspended, canonical_url, current_tenant
from ...web import htmx_redirect, render
from .forms import AcceptInviteForm, ForgotPasswordForm, LoginForm, NewPasswordForm

bp = Blueprint("auth", __name__)

INVALID_LOGIN = "Email or password is incorrect."


def _login_limits(email):
    """(limit, key...) pairs: per account (tenant id + email) and per client address.

    The account key uses the tenant's id, not the Host header, and the address
    key has no tenant at all, so neither resets by switching subdomain.
    """
    cfg = current_app.config
    email = email.strip().lower() if isinstance(email, str) else ""
    return [
        (cfg["LOGIN_LIMIT_ACCOUNT"], "login-account", str(current_tenant().pk), email),
        (cfg["LOGIN_LIMIT_IP"], "login-ip", request.remote_addr or "?"),
    ]


def _too_many(seconds):
    minutes = max(1, round(seconds / 60))
    abort(429, description=f"Too many failed sign-in attempts. Try again in about {minutes} minute"
                           f"{'' if minutes == 1 else 's'}, or reset your password.")


def _safe_next(target):
    """Only same-site relative paths; never an absolute or scheme-relative URL."""
    if not target or not isinstance(target, str):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@allow_when_suspended
def login():
    """Sign in to this clinic."""
    if current_user.is_authenticated and request.method == "GET":
        return redirect(_safe_next(request.args.get("next")) or "/")
    form = LoginForm()
    if form.validate_on_submit():
        limits = _login_limits(form.email.data)
        wait = max(throttle().retry_after(limit, *key) for limit, *key in limits)
        if wait:
            _too_many(wait)
        user = authenticate(form.email.data, form.password.data)
        if user is not None:
            start_session(user)
            audit.record("auth.login", target=user, actor=user)
            return htmx_redirect(_safe_next(request.args.get("next")) or "/")
        for limit, *key in limits:
            throttle().hit(limit, *key)
        form.password.errors.append(INVALID_LOGIN)
    status = 422 if form.is_submitted() else 200
    return render("auth/login.html", block="form", status=status, form=form)


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
            token = AuthToken.issue(user, "reset", timedelta(minutes=minutes))
            link = canonical_url(current_tenant(), url_for("auth.reset_password", token=token))
            text, html = render_email("password_reset", user=user, link=link, minutes=minutes,
                                      clinic=g.tenant.name)
            queue_email(key=f"reset:{user.pk}:{token[:12]}", kind="password_reset", to=user.email,
                        subject=f"Reset your {g.tenant.name} password", text_body=text, html_body=html)
        flash("If an account uses that address, we have sent it a link to choose a new password.", "success")
        return htmx_redirect(url_for("auth.login"))
    return render("auth/forgot.html", block="form", status=422 if form.is_submitted() else 200, form=form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token):
    """Choose a new password from an emailed link (single use, short-lived, this clinic only)."""
    found = AuthToken.peek(token, "reset")
    if found is None:
        return render("auth/token_invalid.html", status=404, what="password reset link")
    user = found.user
    form = NewPasswordForm(user_inputs=(user.email, user.name, g.tenant.name))
    if form.validate_on_submit():
        if AuthToken.redeem(token, "reset") is None:  # lost a race with another use
            return render("auth/token_invalid.html", status=404, what="password reset link")
        set_password(user, form.password.data)
        audit.record("auth.password_reset", target=user, actor=user)
        flash("Your password has been changed. Sign in with the new one.", "success")
        return htmx_redirect(url_for("auth.login"))
    return render("auth/reset.html", block="form", status=422 if form.is_submitted() else 200, form=form,
                  user=user)


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept_invite(token):
    """Accept a staff invitation: set your name and password, then sign in."""
    found = AuthToken.peek(token, "invite")
    if found is None:
        return render("auth/token_invalid.html", status=404, what="invitation link")
    user = found.user
    form = AcceptInviteForm(user_inputs=(user.email, g.tenant.name), data={"name": user.name})
    if form.validate_on_submit():
        if AuthToken.redeem(token, "invite") is None or user.status != "invited":
            return render("auth/token_invalid.html", status=404, what="invitation link")
        user.name = form.name.data.strip()
        user.status = "active"
        user.save()
        set_password(user, form.password.data)
        user.reload()
        audit.record("staff.invite_accepted", target=user, actor=user)
        start_session(user)
        flash(f"Welcome to {g.tenant.name}!", "success")
        return htmx_redirect("/")
    return render("auth/accept_invite.html", block="form", status=422 if form.is_submitted() else 200,
                  form=form, user=user)
