import re

from mongoengine import IntField
from wtforms import FloatField, HiddenField, IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ...forms import AppForm
from ...models.clinical import VITALS, Vitals
from ...services.visits import DIAGNOSIS, SOAP

# ICD-10 style: letter (not U), two characters, optional dot and 1-4 more.
ICD10 = re.compile(r"^[A-TV-Z][0-9][0-9AB](\.[0-9A-TV-Z]{1,4})?$")


def _number(value):
    return f"{value:g}"


class InRange:
    """'Temperature must be between 30 and 45 °C', from the VITALS table."""

    def __init__(self, key):
        self.label, self.unit, self.low, self.high = VITALS[key]

    def __call__(self, form, field):
        if field.data is not None and not self.low <= field.data <= self.high:
            raise ValidationError(f"{self.label} must be between {_number(self.low)} and "
                                  f"{_number(self.high)} {self.unit}.")


def _text(label, max_length, description=None, rows=None):
    return TextAreaField(label, validators=[
        Optional(), Length(max=max_length, message=f"Use at most {max_length} characters.")], description=description,
                         render_kw={"rows": rows} if rows else None)


class StartVisitForm(AppForm):
    patient_id = HiddenField()
    appointment_id = HiddenField()


class VisitForm(AppForm):
    subjective = _text("Subjective", 20000, "What the patient reports: complaint, history.", 4)
    objective = _text("Objective", 20000, "Examination findings.", 4)
    assessment = _text("Assessment", 20000, "Your clinical impression.", 3)
    plan = _text("Plan", 20000, "Treatment, tests, follow-up.", 3)
    diagnosis = StringField("Diagnosis", validators=[
        Optional(), Length(max=500, message="The diagnosis must be at most 500 characters.")])
    diagnosis_code = StringField("Diagnosis code (ICD-10)", validators=[Optional()],
                                 description="Optional, e.g. J06.9", render_kw={"autocomplete": "off"})

    def validate_diagnosis_code(self, field):
        code = (field.data or "").strip().upper()
        if code and not ICD10.match(code):
            raise ValidationError("Enter an ICD-10 style code: a letter, two characters, and optionally a dot "
                                  "and up to 4 more, e.g. J06.9 or E11.")

    def validate_diastolic(self, field):
        systolic = self.systolic.data
        if field.data is not None and systolic is not None and not self.systolic.errors and field.data >= systolic:
            raise ValidationError("Diastolic BP must be lower than systolic BP.")

    def vital_fields(self):
        return [(self[key], VITALS[key][1]) for key in VITALS]

    def values(self):
        """The submitted note, normalised: stripped text (None when empty), upper-case code."""
        values = {f: (self[f].data or "").strip() or None for f in SOAP + DIAGNOSIS}
        if values["diagnosis_code"]:
            values["diagnosis_code"] = values["diagnosis_code"].upper()
        values.update({key: self[key].data for key in VITALS})
        return values


# One input per VITALS entry, typed like the model field (whole numbers where the model stores ints).
# Rendered as text, not type=number: browsers submit "" for what they cannot parse
# (e.g. "37,5"), which would drop the value silently instead of showing an error.
# What a person typed that is no number gets told how to write it, e.g. "Enter the temperature as a number, e.g. 37.2."
_EXAMPLES = {"temperature_c": ("the temperature", "37.2"), "pulse_bpm": ("the pulse", "72"),
             "resp_rate": ("the respiratory rate", "16"), "systolic": ("the systolic BP", "120"),
             "diastolic": ("the diastolic BP", "80"), "spo2": ("SpO₂", "98"), "weight_kg": ("the weight", "70.5"),
             "height_cm": ("the height", "172")}
for _key, (_label, _unit, _low, _high) in VITALS.items():
    _kind = IntegerField if isinstance(Vitals._fields[_key], IntField) else FloatField
    _what, _example = _EXAMPLES.get(_key, (_label, "1"))
    _message = (f"Enter {_what} as a whole number, e.g. {_example}." if _kind is IntegerField
                else f"Enter {_what} as a number, e.g. {_example}.")
    setattr(VisitForm, _key, _kind(
        _label, validators=[Optional(), InRange(_key)], invalid_value_message=_message,
        render_kw={"type": "text", "inputmode": "numeric" if _kind is IntegerField else "decimal",
                   "autocomplete": "off"}))


class AmendmentForm(VisitForm):
    reason = TextAreaField("Reason for amendment", render_kw={"rows": 2}, validators=[
        DataRequired(message="Give the reason for the amendment."),
        Length(max=500, message="Use at most 500 characters.")])


def form_for(visit, values, **kwargs):
    """The draft form, or for a signed visit the amendment form, filled with `values` unless submitted."""
    cls = AmendmentForm if visit.locked else VisitForm
    return cls(data=values, **kwargs)
