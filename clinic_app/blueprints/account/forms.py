from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from ...forms import AppForm
from ...services.passwords import MAX_LENGTH
from ..auth.forms import NewPasswordForm


class NameForm(AppForm):
    name = StringField("Your name", filters=[lambda v: v.strip() if isinstance(v, str) else v],
                       validators=[DataRequired(message="Enter your name."),
                                   Length(max=120, message="Use at most 120 characters.")])


class PasswordChangeForm(NewPasswordForm):
    """Current password (re-authentication) plus a new one under the NIST rules."""

    current_password = PasswordField("Current password", validators=[
        DataRequired(message="Enter your current password."), Length(max=MAX_LENGTH)],
                                     render_kw={"autocomplete": "current-password"})
