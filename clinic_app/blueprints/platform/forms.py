from wtforms import EmailField, IntegerField, PasswordField, SearchField, SelectChoice, SelectField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from ...forms import AppForm
from ...services.passwords import MAX_LENGTH
from ...services.platform import MAX_EXTENSION_DAYS, STATE_FILTERS

class OperatorLoginForm(AppForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=MAX_LENGTH)])


class ClinicFilterForm(AppForm):
    """The clinic list's search (GET): no CSRF, it changes nothing."""

    class Meta:
        csrf = False

    q = SearchField("Name or subdomain starts with", validators=[Optional(), Length(max=100)])
    state = SelectField("State", default="", validators=[Optional()],
                        choices=[SelectChoice("", "Any state")] + [SelectChoice(s, s.capitalize()) for s in STATE_FILTERS],
                        invalid_choice_message="Choose a state from the list.")


def _reason():
    return TextAreaField("Reason", validators=[DataRequired(message="Give a reason: it is kept in the audit trail."),
                                               Length(max=1000)], render_kw={"rows": 2})


class ExtendTrialForm(AppForm):
    days = IntegerField("Days", default=7, validators=[
        InputRequired(message="How many days?"),
        NumberRange(min=1, max=MAX_EXTENSION_DAYS, message=f"Extend by 1 to {MAX_EXTENSION_DAYS} days.")],
        render_kw={"min": 1, "max": MAX_EXTENSION_DAYS})
    reason = _reason()


class SuspendForm(AppForm):
    reason = _reason()


class ReactivateForm(AppForm):
    reason = _reason()


class JobActionForm(AppForm):
    """Requeue/delete a failed job: no fields, just the CSRF token."""
