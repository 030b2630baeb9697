"""Clinic settings: everyone may read them, Admins (settings:update) change them."""
from flask import Blueprint, flash, url_for

from ...models import Settings
from ...permissions import require_permission
from ...services import clinic_settings
from ...services.errors import FieldRefused
from ...web import htmx_redirect, render, render_form
from ..common import beside_field
from .forms import SettingsForm

bp = Blueprint("settings", __name__)


@bp.get("/settings")
@require_permission("settings", "read")
def edit():
    """The clinic's settings (a form for those who may change them)."""
    return render("settings/edit.html", form=SettingsForm(obj=Settings.current()))


@bp.post("/settings")
@require_permission("settings", "update")
def update():
    """Save the clinic's settings."""
    form = SettingsForm()
    if form.validate_on_submit():
        try:
            changes = clinic_settings.update_settings(form.values())
        except FieldRefused as exc:
            beside_field(form, exc)
        else:
            flash("Settings saved." if changes else "Nothing changed.", "success")
            return htmx_redirect(url_for("settings.edit"))
    return render_form("settings/edit.html", form)
