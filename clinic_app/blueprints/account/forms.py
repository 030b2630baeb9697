from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from ...services.passwords import MAX_LENGTH
from ..auth.forms import NewPasswordForm


class NameForm(FlaskForm):
    name = StringField("Your name", filters=[lambda v: v.strip() if isinstance(v, str) else v],
                       validators=[DataRequired(), Length(max=120)])


class PasswordChangeForm(NewPasswordForm):
    """Current password (re-authentication) plus a new one under the NIST rules."""

    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=MAX_LENGTH)],
                                     render_kw={"autocomplete": "current-password"})
