"""API tokens: an Admin creates (secret shown once) and revokes them."""
from flask import Blueprint, flash, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from ...models import ApiToken, Role
from ...permissions import require_permission
from ...services.api_tokens import create_token, revoke_token
from ...web import htmx_redirect, render
from ..common import get_or_404

bp = Blueprint("tokens", __name__, url_prefix="/api-tokens")


class TokenForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=80)],
                       description="What uses it, e.g. 'lab integration'")
    role = SelectField("Acts with the permissions of", validators=[DataRequired()])


def _form():
    form = TokenForm()
    form.role.choices = [SelectChoice(str(r.pk), r.name) for r in Role.objects.order_by("-level", "name")]
    return form


@bp.route("/", methods=["GET", "POST"])
@require_permission("settings", "update")
def index():
    """List tokens and create one (its secret is shown once)."""
    form = _form()
    secret = None
    if form.validate_on_submit():
        role = Role.objects(pk=form.role.data).first()
        if role is None:
            form.role.errors.append("Choose a role of this clinic.")
        else:
            _, secret = create_token(form.name.data.strip(), role, current_user._get_current_object())
            form = _form()
            form.name.data = ""
    status = 422 if form.errors else (201 if secret else 200)
    tokens = ApiToken.objects.order_by("-created_at")
    return render("tokens/index.html", status=status, form=form, tokens=tokens, secret=secret)


@bp.post("/<token_id>/revoke")
@require_permission("settings", "update")
def revoke(token_id):
    """Revoke a token at once."""
    token = get_or_404(ApiToken, token_id)
    revoke_token(token)
    flash(f"Token “{token.name}” revoked.", "success")
    return htmx_redirect(url_for("tokens.index"), status=303)
