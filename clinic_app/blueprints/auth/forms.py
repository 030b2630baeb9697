from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError

from ...forms import AppForm
from ...services.passwords import MAX_LENGTH, password_problem


class LoginForm(AppForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=MAX_LENGTH)])


class ForgotPasswordForm(AppForm):
    email = EmailField("Email", validators=[DataRequired(), Email(message="Enter a valid email address."),
                                            Length(max=320)])


class NewPasswordForm(AppForm):
    """Choose a password (reset, invitation): NIST 800-63B rules."""

    password = PasswordField("New password", validators=[DataRequired()],
                             render_kw={"autocomplete": "new-password", "minlength": 12})
    confirm = PasswordField("Repeat the password",
                            validators=[DataRequired(), EqualTo("password", message="The passwords do not match.")],
                            render_kw={"autocomplete": "new-password"})

    def __init__(self, *args, user_inputs=(), **kwargs):
        super().__init__(*args, **kwargs)
        self._user_inputs = tuple(user_inputs)  # services.passwords.context_words(...)

    def password_inputs(self):
        return self._user_inputs

    def validate_password(self, field):
        problem = password_problem(field.data, self.password_inputs())
        if problem:
            raise ValidationError(problem)


class AcceptInviteForm(NewPasswordForm):
    name = StringField("Your name", validators=[DataRequired(), Length(max=120)])

    def password_inputs(self):
        # The name typed beside the password is a context word too.
        typed = self.name.data if isinstance(self.name.data, str) else None
        return (*self._user_inputs, typed) if typed else self._user_inputs
