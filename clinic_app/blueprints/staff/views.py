"""Staff: the clinic's users, invitations, roles and access."""
from flask import Blueprint, flash, url_for
from flask_login import current_user

from ...models import Role, User
from ...permissions import require_permission
from ...services import staff
from ...web import htmx_redirect, render, render_form
from ..common import find, get_or_404
from ..flows import attempt
from .forms import InviteForm, RoleChangeForm, TakesAppointmentsForm

bp = Blueprint("staff", __name__, url_prefix="/staff")


def get_user_or_404(user_id):
    return get_or_404(User, user_id)


def _detail(user, role_form, status=200, block=None):
    bookable_form = TakesAppointmentsForm(formdata=None, data={"takes_appointments": user.bookable})
    return render("staff/detail.html", block=block, status=status, user=user, role_form=role_form,
                  bookable_form=bookable_form)


def _back_to(user, fallback="/"):
    """Where to go after changing `user`: their page, unless that was you and you lost access to it."""
    if user.pk == current_user.pk and not (user.is_active and user.role.allows("staff", "read")):
        return fallback
    return url_for("staff.detail", user_id=user.pk)


@bp.get("/")
@require_permission("staff", "read")
def index():
    """Everyone who works at the clinic, with role, status and last sign-in."""
    return render("staff/index.html", users=staff.list_staff())


@bp.route("/invite", methods=["GET", "POST"])
@require_permission("staff", "create")
def invite():
    """Invite a new staff member by email."""
    form = InviteForm()
    if form.validate_on_submit():
        try:
            user = staff.invite(form.email.data, find(Role, form.role.data), form.name.data)
        except staff.AlreadyMember as exc:
            form.email.errors.append(str(exc))
        except staff.StaffError as exc:
            form.role.errors.append(str(exc))
        else:
            flash(f"Invitation sent to {user.email}.", "success")
            return htmx_redirect(url_for("staff.index"))
    return render_form("staff/invite.html", form)


@bp.get("/<user_id>")
@require_permission("staff", "read")
def detail(user_id):
    """One staff member: details, role and access."""
    user = get_user_or_404(user_id)
    return _detail(user, RoleChangeForm(data={"role": str(user.role.pk)}))


@bp.post("/<user_id>/role")
@require_permission("staff", "update")
def change_role(user_id):
    """Give a staff member another role (never the last active Admin's)."""
    user = get_user_or_404(user_id)
    form = RoleChangeForm()
    if form.validate_on_submit():
        try:
            changed = staff.change_role(user, find(Role, form.role.data))
        except staff.StaffError as exc:
            form.role.errors.append(str(exc))
        else:
            if changed:
                flash(f"{user.name} is now {user.role.name}.", "success")
            return htmx_redirect(_back_to(user))
    return _detail(user, form, status=422, block="role_form")


def _act(user_id, action, done, back=None):
    """Run `action(user)` on a staff member, flash `done(user, result)` or the StaffError, then go to
    `back(user)` (their page by default)."""
    user = get_user_or_404(user_id)
    attempt(lambda: action(user), lambda result: done(user, result), staff.StaffError)
    return htmx_redirect(back(user) if back else url_for("staff.detail", user_id=user.pk))


@bp.post("/<user_id>/deactivate")
@require_permission("staff", "delete")
def deactivate(user_id):
    """Deactivate a staff member: they are signed out everywhere at once."""
    return _act(user_id, staff.deactivate, lambda user, _: f"{user.name} is deactivated and signed out everywhere.",
                back=lambda user: _back_to(user, fallback=url_for("auth.login")))


@bp.post("/<user_id>/reactivate")
@require_permission("staff", "update")
def reactivate(user_id):
    """Let a deactivated staff member sign in again."""
    return _act(user_id, staff.reactivate, lambda user, changed: changed and (
        f"{user.name} is {'active' if user.status == 'active' else 'invited'} again."))


@bp.post("/<user_id>/resend")
@require_permission("staff", "create")
def resend_invite(user_id):
    """Send a fresh invitation email (earlier links stop working)."""
    return _act(user_id, staff.resend_invite, lambda user, _: f"A new invitation was sent to {user.email}.")


@bp.post("/<user_id>/appointments")
@require_permission("staff", "update")
def takes_appointments(user_id):
    """Offer a staff member in the booking form's doctor list, or stop (on for Doctors by default)."""
    user = get_user_or_404(user_id)
    form = TakesAppointmentsForm()
    if form.validate_on_submit() and staff.set_takes_appointments(user, form.takes_appointments.data):
        flash(f"{user.name} {'now takes' if user.bookable else 'no longer takes'} appointments.", "success")
    return htmx_redirect(url_for("staff.detail", user_id=user.pk))
