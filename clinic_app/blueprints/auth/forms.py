from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError

from ...services.passwords import MAX_LENGTH, password_problem


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=MAX_LENGTH)])


class ForgotPasswordForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Email(message="Enter a valid email address."),
                                            Length(max=320)])


class NewPasswordForm(FlaskForm):
    """Choose a password (reset, invitation): NIST 800-63B rules."""

    password = PasswordField("New password", validators=[DataRequired()],
                             render_kw={"autocomplete": "new-password", "minlength": 12})
    confirm = PasswordField("Repeat the password",
                            validators=[DataRequired(), EqualTo("password", message="The passwords do not match.")],
                            render_kw={"autocomplete": "new-password"})

    def __init__(self, *args, user_inputs=(), **kwargs):
        super().__init__(*args, **kwargs)
        self._user_inputs = user_inputs

    def validate_password(self, field):
        problem = password_problem(field.data, self._user_inputs)
        if problem:
            raise ValidationError(problem)


class AcceptInviteForm(NewPasswordForm):
    name = StringField("Your name", validators=[DataRequired(), Length(max=120)])
