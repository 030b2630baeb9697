from datetime import date

from flask import request
from wtforms import BooleanField, IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ...forms import AppForm, strip_text
from ...localtime import clinic_settings, is_offered_zone, timezone_choices
from ...models.settings import CURRENCIES, DATE_FORMATS, PREFIX
from ...services.billing.totals import TotalsError, parse_rate, rate_label
from ...services.clinic_settings import SETTINGS_FIELDS

_EXAMPLE = date(2026, 12, 31)
_HHMM = r"^(?:[01]\d|2[0-3]):[0-5]\d$"
_DAYS = [(1, "Mon"), (2, "Tue"), (3, "Wed"), (4, "Thu"), (5, "Fri"), (6, "Sat"), (7, "Sun")]


def _upper(value):
    return value.upper() if isinstance(value, str) else value


class SettingsForm(AppForm):
    clinic_name = StringField("Clinic name", filters=[strip_text], validators=[
        DataRequired(message="Enter the clinic's name."), Length(max=120, message="Use at most 120 characters.")])
    # Canonical zones by region; static/js/app.js preselects the browser's zone when it is empty.
    timezone = SelectField("Time zone", validate_choice=False, render_kw={"data-browser-zone": ""})
    currency = SelectField("Currency", choices=[SelectChoice(c) for c in CURRENCIES],
                           invalid_choice_message="Choose a currency from the list.")
    date_format = SelectField("Date format", invalid_choice_message="Choose a date format from the list.",
                              choices=[SelectChoice(k, f"{k} ({_EXAMPLE.strftime(v)})")
                                       for k, v in DATE_FORMATS.items()])
    idle_timeout_minutes = IntegerField(
        "Sign out after this many idle minutes", invalid_value_message="Enter the minutes as a whole number, e.g. 60.",
        validators=[InputRequired(message="Enter a number of minutes."),
                    NumberRange(min=5, max=24 * 60, message="Enter a number of minutes from 5 to 1440.")])
    slot_minutes = IntegerField(
        "Appointment slot length (minutes)", invalid_value_message="Enter the minutes as a whole number, e.g. 15.",
        validators=[InputRequired(message="Enter a number of minutes."),
                    NumberRange(min=5, max=240, message="Enter a number of minutes from 5 to 240.")])
    allow_double_booking = BooleanField("Allow two appointments at the same time for one doctor")
    # Left empty (or not sent by an older form) means the default window.
    expiry_window_days = IntegerField(
        "Pharmacy: list stock expiring within (days)", filters=[lambda v: 90 if v is None else v],
        invalid_value_message="Enter the days as a whole number, e.g. 90.",
        validators=[NumberRange(min=1, max=730, message="Enter a number of days from 1 to 730.")])
    work_day_start = StringField("Opens at", filters=[strip_text], validators=[
        Regexp(_HHMM, message="Enter a time as HH:MM, e.g. 08:00.")])
    work_day_end = StringField("Closes at", filters=[strip_text], validators=[
        Regexp(_HHMM, message="Enter a time as HH:MM, e.g. 18:00.")])
    working_days = SelectMultipleField("Open on", coerce=int, choices=[SelectChoice(i, d) for i, d in _DAYS],
                                       widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    reminder_hours = StringField("Remind patients (hours before)", filters=[strip_text],
                                 description="Up to 4, separated by commas, e.g. 24, 2")
    quiet_start = StringField("No reminders from", filters=[strip_text], validators=[
        Regexp(_HHMM, message="Enter a time as HH:MM, e.g. 21:00.")])
    quiet_end = StringField("until", filters=[strip_text], validators=[
        Regexp(_HHMM, message="Enter a time as HH:MM, e.g. 08:00.")])
    # Printed on invoices, receipts and prescriptions; billing's number series, taxes and footer.
    address = TextAreaField("Clinic address", filters=[strip_text], validators=[Length(max=400)], render_kw={"rows": 2})
    phone = StringField("Clinic phone", filters=[strip_text], validators=[Length(max=40)])
    invoice_prefix = StringField("Invoice number prefix", filters=[strip_text, _upper], validators=[
        Optional(), Regexp(PREFIX, message="Use 1 to 10 letters or digits, e.g. INV.")])
    credit_note_prefix = StringField("Credit note prefix", filters=[strip_text, _upper], validators=[
        Optional(), Regexp(PREFIX, message="Use 1 to 10 letters or digits, e.g. CN.")])
    invoice_yearly_reset = BooleanField("Restart invoice and credit note numbers every year (clinic time)")
    tax_rates = TextAreaField("Tax rates", render_kw={"rows": 3},
                              description="One per line: a name and a percentage, e.g. “VAT 20” or “Sales tax 8.25”")
    default_tax_rate = StringField("Default tax rate (%)", filters=[strip_text],
                                   description="For new price list items; 0 or one of the rates above")
    invoice_footer = TextAreaField("Invoice footer", filters=[strip_text], validators=[Length(max=1000)],
                                   render_kw={"rows": 3}, description="Tax id, bank details, payment terms")

    def __init__(self, *args, obj=None, **kwargs):
        super().__init__(*args, obj=obj, **kwargs)
        # An older zone name the clinic already has (US/Eastern…) stays selectable until changed.
        self._current_zone = obj.timezone if obj is not None else clinic_settings().timezone
        self.timezone.choices = timezone_choices(current=self._current_zone)
        if obj is not None and not self.is_submitted():
            self.reminder_hours.data = ", ".join(_hours(m) for m in (obj.reminder_leads or []))
            self.tax_rates.data = "\n".join(f"{t['name']} {rate_label(t['rate'])[:-1]}"
                                             for t in obj.tax_rates or [])
            self.default_tax_rate.data = rate_label(obj.default_tax_rate or 0)[:-1]

    def validate_timezone(self, field):
        if not is_offered_zone(field.data, current=self._current_zone):
            raise ValidationError("Choose a time zone from the list.")

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

    def validate_tax_rates(self, field):
        self._tax_rates = []
        for line in filter(None, (ln.strip() for ln in (field.data or "").splitlines())):
            name, _, rate = line.rpartition(" ")
            try:
                bp = parse_rate(rate)
            except TotalsError as exc:
                raise ValidationError(f"“{line}”: {exc}") from None
            if not name.strip():
                raise ValidationError(f"“{line}”: give the tax a name, e.g. “VAT {rate}”.")
            self._tax_rates.append({"name": name.strip()[:40], "rate": bp})
        if len(self._tax_rates) > 10:
            raise ValidationError("At most 10 tax rates.")

    def validate_default_tax_rate(self, field):
        try:
            self._default_tax_rate = parse_rate(field.data or "0")
        except TotalsError as exc:
            raise ValidationError(str(exc)) from None
        listed = {t["rate"] for t in getattr(self, "_tax_rates", [])}
        if self._default_tax_rate and "tax_rates" in request.form and self._default_tax_rate not in listed:
            raise ValidationError("Use 0 or one of the tax rates listed above.")

    def values(self):
        values = {name: self[name].data for name in SETTINGS_FIELDS if name != "reminder_leads"}
        values["reminder_leads"] = self._leads
        values["tax_rates"] = getattr(self, "_tax_rates", [])
        values["default_tax_rate"] = getattr(self, "_default_tax_rate", 0)
        for name in ("address", "phone", "invoice_footer"):
            values[name] = values[name] or None
        # Billing fields a form did not send (an older page, a script) keep what they were.
        current = clinic_settings()
        for name in BILLING_FIELDS:
            if name not in request.form or (name.endswith("_prefix") and not values[name]):
                values[name] = getattr(current, name)
        return values


BILLING_FIELDS = ("address", "phone", "invoice_prefix", "credit_note_prefix", "invoice_yearly_reset", "tax_rates",
                  "default_tax_rate", "invoice_footer")


def _hours(minutes):
    return str(minutes // 60) if minutes % 60 == 0 else f"{minutes / 60:g}"
