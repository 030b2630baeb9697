"""Onboarding wizard forms, one per step.

Each step's form validates what was posted, and re-validates the stored
answers for the final check (`recheck()`): the same rules, twice.
"""
from wtforms import EmailField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import AnyOf, DataRequired, Email, EqualTo, Length, ValidationError

from ...forms import AppForm, strip_text
from ...localtime import canonical_zones, timezone_choices
from ...models.settings import CURRENCIES, DATE_FORMATS
from ...services.onboarding import password_inputs, subdomain_problem
from ...services.passwords import password_problem

_EXAMPLE_DATE = "31/12/2026"


def _lower(value):
    return value.lower() if isinstance(value, str) else value


def _date_format_label(key):
    day, month, year = _EXAMPLE_DATE.split("/")
    example = key.replace("YYYY", year).replace("MM", month).replace("DD", day)
    return f"{key}  (e.g. {example})"


class WizardForm(AppForm):
    """A wizard step: knows the wizard (for cross-step rules) and can re-check stored answers."""

    def __init__(self, *args, wizard=None, final=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.wizard = wizard
        self.final = final

    @classmethod
    def for_answers(cls, wizard, final=False):
        """The step's form filled from the stored answers (nothing posted), for display or re-check."""
        return cls(formdata=None, data=wizard.answers, wizard=wizard, final=final)

    def recheck(self):
        """Validate the stored answers; True when they still pass.

        The CSRF field is left out: nothing was posted to this form (the
        request's own token was checked by CSRFProtect).
        """
        self.validate()
        return not any(errors for name, errors in self.errors.items() if name != "csrf_token")

    def apply(self, wizard):
        """Store this step's answers in `wizard`."""
        wizard.update(**{name: field.data for name, field in self._fields.items() if name != "csrf_token"})


class ClinicForm(WizardForm):
    name = StringField("Clinic name", filters=[strip_text], validators=[
        DataRequired(message="Enter your clinic's name."),
        Length(max=120, message="Use at most 120 characters."),
    ], render_kw={"autocomplete": "organization"})
    subdomain = StringField("Address", filters=[strip_text], render_kw={
        "autocomplete": "off", "autocapitalize": "none", "spellcheck": "false",
    })

    def validate_subdomain(self, field):
        problem = subdomain_problem(field.data, just_taken=self.final)
        if problem:
            raise ValidationError(problem)


class AdminForm(WizardForm):
    admin_name = StringField("Your name", filters=[strip_text], validators=[
        DataRequired(message="Enter your name."),
        Length(max=120, message="Use at most 120 characters."),
    ], render_kw={"autocomplete": "name"})
    admin_email = EmailField("Your email", filters=[strip_text, _lower], validators=[
        DataRequired(message="Enter your email address."),
        Length(max=320, message="Use at most 320 characters."),
        Email(message="Enter a valid email address, like name@example.com."),
    ], render_kw={"autocomplete": "email"})
    # No maxlength: a browser would silently cut a pasted password short.
    password = PasswordField("Password", render_kw={"autocomplete": "new-password"})
    confirm = PasswordField("Repeat the password", validators=[
        EqualTo("password", message="The passwords do not match."),
    ], render_kw={"autocomplete": "new-password"})

    def password_inputs(self):
        w = self.wizard
        return password_inputs(self.admin_email.data, w.get("name"), w.get("subdomain"), self.admin_name.data)

    @property
    def keeps_password(self):
        """A password was chosen earlier and checked against the same details, so it may be left blank."""
        return self.wizard is not None and self.wizard.password_checked_for(self.password_inputs())

    def validate_password(self, field):
        if not field.data:
            if self.keeps_password:
                return
            if self.wizard is not None and self.wizard.get("password_hash"):
                raise ValidationError("Your details changed since you chose the password, so it must be "
                                      "checked again: type it (or a new one) once more.")
            raise ValidationError("Choose a password.")
        problem = password_problem(field.data, self.password_inputs())
        if problem:
            raise ValidationError(problem)

    def apply(self, wizard):
        wizard.update(admin_name=self.admin_name.data, admin_email=self.admin_email.data)
        if self.password.data:
            wizard.set_password(self.password.data, self.password_inputs())


class SettingsForm(WizardForm):
    # UTC until chosen; with JavaScript the browser's own zone instead (static/js/app.js, data-browser-zone).
    timezone = SelectField("Time zone", default="UTC", validate_choice=False)
    currency = SelectField("Currency", default="USD", validate_choice=False, choices=list(CURRENCIES),
                           validators=[AnyOf(CURRENCIES, message="Choose a currency from the list.")])
    date_format = SelectField("Date format", default="YYYY-MM-DD", validate_choice=False,
                              choices=[SelectChoice(k, _date_format_label(k)) for k in DATE_FORMATS],
                              validators=[AnyOf(tuple(DATE_FORMATS), message="Choose a date format from the list.")])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = timezone_choices()

    def validate_timezone(self, field):
        if field.data not in canonical_zones():
            raise ValidationError("Choose a time zone from the list (IANA names, like Europe/Paris).")


class CreateForm(AppForm):
    """The review step's Create button: only the CSRF token."""


STEP_FORMS = {"clinic": ClinicForm, "admin": AdminForm, "settings": SettingsForm}
