"""API tokens: an Admin creates (secret shown once) and revokes them."""
from flask import Blueprint, flash, url_for
from flask_login import current_user
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from ...forms import AppForm
from ...models import ApiToken, Role
from ...permissions import require_permission
from ...services.api_tokens import create_token, revoke_token
from ...web import htmx_redirect, render
from ..common import get_or_404

bp = Blueprint("tokens", __name__, url_prefix="/api-tokens")


class TokenForm(AppForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=80)],
                       description="What uses it, e.g. 'lab integration'")
    role = SelectField("Acts with the permissions of", validators=[DataRequired()])


def _least_privileged(roles):
    """The role a new token gets unless the Admin picks another: the lowest level, then the fewest rights."""
    return min(roles, key=lambda r: (r.level, sum(len(a) for a in (r.permissions or {}).values()), r.name))


def _form():
    roles = list(Role.objects.order_by("-level", "name"))
    # A token is a long-lived secret kept in another program: start from the least it may do.
    form = TokenForm(data={"role": str(_least_privileged(roles).pk)} if roles else None)
    form.role.choices = [SelectChoice(str(r.pk), r.name) for r in roles]
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
