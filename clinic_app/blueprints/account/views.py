"""My account: name, password and the browsers I am signed in on."""
from flask import Blueprint, abort, flash, g, url_for
from flask_login import current_user

from ...models import UserSession
from ...permissions import require_login
from ...services import account, staff
from ...services.auth import end_session
from ...services.passwords import context_words
from ...web import htmx_redirect, render
from ..common import get_or_404
from .forms import NameForm, PasswordChangeForm

bp = Blueprint("account", __name__, url_prefix="/account")


def _me():
    return current_user._get_current_object()


def get_session_or_404(session_id):
    """One of *my* live sessions. Aborts 404 for anyone else's (this clinic's or another's)."""
    return get_or_404(UserSession, session_id, user=_me(), revoked_at=None)


def _password_form(**kwargs):
    return PasswordChangeForm(user_inputs=context_words(email=current_user.email, name=current_user.name,
                                                        tenant=g.tenant), **kwargs)


def _page(block=None, status=200, name_form=None, password_form=None):
    me = _me()
    return render("account/index.html", block=block, status=status,
                  name_form=name_form or NameForm(formdata=None, data={"name": me.name}),
                  password_form=password_form or _password_form(formdata=None),
                  sessions=account.active_sessions(me), this_session=me.current_session)


@bp.get("")
@require_login
def index():
    """My name, password and sessions."""
    return _page()


@bp.post("/name")
@require_login
def change_name():
    """Change my name."""
    form = NameForm()
    if form.validate_on_submit():
        if account.change_name(_me(), form.name.data):
            flash("Your name is saved.", "success")
        return htmx_redirect(url_for("account.index"))
    return _page(block="name_form", status=422, name_form=form)


@bp.post("/password")
@require_login
def change_password():
    """Change my password (needs the current one); my other sessions end."""
    form = _password_form()
    if form.validate_on_submit():
        try:
            ok = account.verify_current_password(_me(), form.current_password.data)
        except staff.TooManyAttempts as exc:
            abort(429, description=str(exc))
        if ok:
            account.change_password(_me(), form.password.data, keep_session=current_user.current_session)
            flash("Your password is changed. Your other sessions were signed out.", "success")
            return htmx_redirect(url_for("account.index"))
        form.current_password.errors.append("This is not your current password.")
    return _page(block="password_form", status=422, password_form=form)


@bp.post("/sessions/<session_id>/revoke")
@require_login
def revoke_session(session_id):
    """Sign one of my sessions out (this one too: that is signing out)."""
    record = get_session_or_404(session_id)
    account.revoke_session(_me(), record)
    if record.pk == current_user.current_session.pk:
        end_session(_me())
        flash("You have been signed out.", "success")
        return htmx_redirect(url_for("auth.login"))
    flash("That session is signed out.", "success")
    return htmx_redirect(url_for("account.index"))


@bp.post("/sessions/revoke-others")
@require_login
def revoke_other_sessions():
    """Sign out every session but this one."""
    count = account.revoke_other_sessions(_me(), current_user.current_session)
    flash(f"Signed out {count} other session{'' if count == 1 else 's'}.", "success")
    return htmx_redirect(url_for("account.index"))
