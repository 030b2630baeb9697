from datetime import date
from functools import cache
from zoneinfo import available_timezones

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from ...models.settings import CURRENCIES, DATE_FORMATS
from ...services.staff import SETTINGS_FIELDS

_EXAMPLE = date(2026, 12, 31)


@cache
def timezone_choices():
    """IANA zone names, without the tzdata build artefacts (posix/, right/, Factory…)."""
    zones = (z for z in available_timezones()
             if not z.startswith(("posix/", "right/")) and z not in {"Factory", "localtime", "posixrules"})
    return tuple(SelectChoice(z) for z in sorted(zones))


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class SettingsForm(FlaskForm):
    clinic_name = StringField("Clinic name", filters=[_strip], validators=[DataRequired(), Length(max=120)])
    timezone = SelectField("Time zone", invalid_choice_message="Choose a time zone from the list.")
    currency = SelectField("Currency", choices=[SelectChoice(c) for c in CURRENCIES],
                           invalid_choice_message="Choose a currency from the list.")
    date_format = SelectField("Date format", invalid_choice_message="Choose a date format from the list.",
                              choices=[SelectChoice(k, f"{k} ({_EXAMPLE.strftime(v)})")
                                       for k, v in DATE_FORMATS.items()])
    idle_timeout_minutes = IntegerField("Sign out after this many idle minutes", validators=[
        InputRequired(message="Enter a number of minutes."),
        NumberRange(min=5, max=24 * 60, message="Enter a number of minutes from 5 to 1440.")])
    slot_minutes = IntegerField("Appointment slot length (minutes)", validators=[
        InputRequired(message="Enter a number of minutes."),
        NumberRange(min=5, max=240, message="Enter a number of minutes from 5 to 240.")])
    allow_double_booking = BooleanField("Allow two appointments at the same time for one doctor")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = list(timezone_choices())

    def values(self):
        return {name: self[name].data for name in SETTINGS_FIELDS}
