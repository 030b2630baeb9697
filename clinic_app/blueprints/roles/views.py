"""Roles: who may do what, as a resource × action matrix."""
from flask import Blueprint, abort, flash, url_for

from ...models import Role
from ...permissions import ACTIONS, RESOURCES, label, require_permission
from ...services import roles, staff
from ...web import htmx_redirect, render, render_form
from ..common import get_or_404
from ..flows import attempt
from .forms import RoleForm

bp = Blueprint("roles", __name__, url_prefix="/roles")


def get_role_or_404(role_id):
    return get_or_404(Role, role_id)


def _form_page(form, role=None, status=None):
    # The Admin role is shown as what it always is: everything.
    full = role is not None and role.is_admin
    return render_form("roles/edit.html", form, status=status, role=role,
                       granted=set(roles.PERMISSION_KEYS) if full else set(form.permissions.data or []),
                       matrix=[(res, label(res), actions) for res, actions in RESOURCES.items()], actions=ACTIONS,
                       users=roles.role_user_counts().get(role.pk, 0) if role is not None else 0)


@bp.get("/")
@require_permission("roles", "read")
def index():
    """Every role with how many users have it."""
    return render("roles/index.html", roles=staff.roles_by_level(), counts=roles.role_user_counts())


@bp.route("/new", methods=["GET", "POST"])
@require_permission("roles", "create")
def create():
    """Create a custom role."""
    form = RoleForm()
    if form.validate_on_submit():
        try:
            role = roles.create_role(form.name.data, form.level.data,
                                     roles.permissions_from_keys(form.permissions.data))
        except staff.NameTaken as exc:
            form.name.errors.append(str(exc))
        else:
            flash(f"Role {role.name} created.", "success")
            return htmx_redirect(url_for("roles.index"))
    return _form_page(form)


@bp.get("/<role_id>")
@require_permission("roles", "read")
def edit(role_id):
    """A role's permission matrix (read-only for the Admin role)."""
    role = get_role_or_404(role_id)
    form = RoleForm(role=role, data={"name": role.name, "level": role.level,
                                     "permissions": sorted(roles.permission_keys(role.permissions))})
    return _form_page(form, role)


@bp.post("/<role_id>")
@require_permission("roles", "update")
def update(role_id):
    """Save a role's permissions (and a custom role's name and level)."""
    role = get_role_or_404(role_id)
    if role.is_admin:
        abort(403, description="The Admin role always has full access and cannot be changed.")
    form = RoleForm(role=role)
    if form.validate_on_submit():
        try:
            changes = roles.update_role(role, roles.permissions_from_keys(form.permissions.data),
                                        name=form.name.data if "name" in form else None, level=form.level.data)
        except staff.NameTaken as exc:
            form.name.errors.append(str(exc))
        else:
            flash(f"Role {role.name} saved." if changes else "Nothing changed.", "success")
            return htmx_redirect(url_for("roles.index"))
    return _form_page(form, role, status=422)


@bp.post("/<role_id>/delete")
@require_permission("roles", "delete")
def delete(role_id):
    """Delete a custom role that nobody has."""
    role = get_role_or_404(role_id)
    if attempt(lambda: roles.delete_role(role), f"Role {role.name} deleted.", staff.StaffError):
        return htmx_redirect(url_for("roles.index"))
    return htmx_redirect(url_for("roles.edit", role_id=role.pk))
