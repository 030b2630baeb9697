from datetime import date
from functools import cache
from zoneinfo import available_timezones

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Regexp, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ...models.settings import CURRENCIES, DATE_FORMATS
from ...services.clinic_settings import SETTINGS_FIELDS

_EXAMPLE = date(2026, 12, 31)
_HHMM = r"^(?:[01]\d|2[0-3]):[0-5]\d$"
_DAYS = [(1, "Mon"), (2, "Tue"), (3, "Wed"), (4, "Thu"), (5, "Fri"), (6, "Sat"), (7, "Sun")]


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
    work_day_start = StringField("Opens at", filters=[_strip], validators=[
        Regexp(_HHMM, message="Enter a time as HH:MM, e.g. 08:00.")])
    work_day_end = StringField("Closes at", filters=[_strip], validators=[
        Regexp(_HHMM, message="Enter a time as HH:MM, e.g. 18:00.")])
    working_days = SelectMultipleField("Open on", coerce=int, choices=[SelectChoice(i, d) for i, d in _DAYS],
                                       widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    reminder_hours = StringField("Remind patients (hours before)", filters=[_strip],
                                 description="Up to 4, separated by commas, e.g. 24, 2")
    quiet_start = StringField("No reminders from", filters=[_strip], validators=[
        Regexp(_HHMM, message="Enter a time as HH:MM, e.g. 21:00.")])
    quiet_end = StringField("until", filters=[_strip], validators=[
        Regexp(_HHMM, message="Enter a time as HH:MM, e.g. 08:00.")])

    def __init__(self, *args, obj=None, **kwargs):
        super().__init__(*args, obj=obj, **kwargs)
        self.timezone.choices = list(timezone_choices())
        if obj is not None and not self.is_submitted():
            self.reminder_hours.data = ", ".join(_hours(m) for m in (obj.reminder_leads or []))

    def validate_work_day_end(self, field):
        if self.work_day_start.data and field.data and field.data <= self.work_day_start.data:
            raise ValidationError("The clinic must close after it opens.")

    def validate_working_days(self, field):
        if not field.data:
            raise ValidationError("Choose at least one day.")

    def validate_reminder_hours(self, field):
        self._leads = []
        for part in filter(None, (p.strip() for p in (field.data or "").split(","))):
            try:
                hours = float(part)
            except ValueError:
                raise ValidationError(f"“{part}” is not a number of hours.") from None
            if not 0.25 <= hours <= 14 * 24:
                raise ValidationError("Each reminder must be between 0.25 hours and 14 days (336 hours) before.")
            self._leads.append(round(hours * 60))
        if len(self._leads) > 4:
            raise ValidationError("At most 4 reminders.")
        self._leads = sorted(set(self._leads), reverse=True)

    def values(self):
        values = {name: self[name].data for name in SETTINGS_FIELDS if name != "reminder_leads"}
        values["reminder_leads"] = self._leads
        return values


def _hours(minutes):
    return str(minutes // 60) if minutes % 60 == 0 else f"{minutes / 60:g}"
