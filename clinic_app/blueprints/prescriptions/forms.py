"""Prescription and dispensing forms. Lines are a FieldList: "Add a line" re-renders the form
with one more row, so it works without JavaScript."""
from wtforms import BooleanField, FieldList, FloatField, Form, FormField, IntegerField, SelectField, StringField, \
    TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from ...forms import AppForm, stop_if_unparsed, strip_text
from ...services.pharmacy.prescribing import DOSE_UNITS, FREQUENCIES, ROUTES

MAX_LINES = 10


def _int(label, low, high, **kw):
    return IntegerField(label, invalid_value_message="Enter a whole number.",
                        validators=[Optional(), stop_if_unparsed, NumberRange(min=low, max=high, message=f"Enter a whole number from {low} to {high:,}.")],
                        render_kw={"inputmode": "numeric", "autocomplete": "off", "type": "text"}, **kw)


class LineForm(Form):
    medicine_id = SelectField("Medicine", choices=[], validate_choice=False)
    free_text = StringField("…or write one in (outside pharmacy)", filters=[strip_text],
                            validators=[Optional(), Length(max=250)])
    dose = FloatField("Dose", invalid_value_message="Enter a number, e.g. 1 or 2.5.",
                      validators=[Optional(), stop_if_unparsed, NumberRange(min=0.001, max=10000, message="Enter a dose from 0.001 to 10,000.")],
                      render_kw={"inputmode": "decimal", "type": "text", "autocomplete": "off"})
    dose_unit = SelectField("Dose unit", choices=[SelectChoice("", "—")] + [SelectChoice(u) for u in DOSE_UNITS])
    route = SelectField("Route", choices=[SelectChoice("", "—")] + [SelectChoice(r) for r in ROUTES])
    frequency = SelectField("Frequency", choices=[SelectChoice("", "—")] + [
        SelectChoice(code, f"{code} — {text}") for code, (text, _) in FREQUENCIES.items()])
    every_hours = _int("Every N hours", 1, 72)
    duration_days = _int("Duration (days)", 1, 365)
    quantity = _int("Quantity", 0, 100000)
    refills = _int("Refills", 0, 12)
    instructions = StringField("Instructions to the patient", filters=[strip_text], validators=[Optional(), Length(max=500)])

    def values(self):
        return {k: self[k].data if self[k].data != "" else None for k in (
            "medicine_id", "free_text", "dose", "dose_unit", "route", "frequency", "every_hours", "duration_days",
            "quantity", "refills", "instructions")}

    def blank(self):
        return not (self.medicine_id.data or self.free_text.data)


class PrescriptionForm(AppForm):
    lines = FieldList(FormField(LineForm), min_entries=1, max_entries=MAX_LINES)
    confirm_duplicates = BooleanField("I know: prescribe it anyway")
    amendment_reason = TextAreaField("Reason for adding this to the signed visit", filters=[strip_text],
                                     validators=[Optional(), Length(max=500)], render_kw={"rows": 2})

    def set_medicines(self, medicines):
        choices = [SelectChoice("", "— choose —")] + [SelectChoice(str(m.pk), m.label) for m in medicines]
        for entry in self.lines:
            entry.form.medicine_id.choices = choices

    def rows(self):
        return [entry.form.values() for entry in self.lines if not entry.form.blank()]


class CancelForm(AppForm):
    reason = TextAreaField("Reason", filters=[strip_text], validators=[
        DataRequired(message="Give the reason."), Length(max=500)], render_kw={"rows": 2})


class DispenseForm(AppForm):
    line = IntegerField("Line", invalid_value_message="There is no such line on this prescription.", validators=[
        InputRequired(message="There is no such line on this prescription."), stop_if_unparsed,
        NumberRange(min=1, max=MAX_LINES, message="There is no such line on this prescription.")])
    quantity = IntegerField("Quantity to dispense", invalid_value_message="Enter a whole number.", validators=[
        InputRequired(message="Enter the quantity."), stop_if_unparsed,
        NumberRange(min=1, max=100000, message="Enter a whole number from 1 to 100,000.")],
        render_kw={"inputmode": "numeric", "type": "text", "autocomplete": "off"})
