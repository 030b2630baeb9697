import re
from datetime import date

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, EmailField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from ... import clock
from ...models.patients import SEXES

_PHONE = re.compile(r"^[0-9+()\-. ]{6,40}$")


class PatientForm(FlaskForm):
    first_name = StringField("First name", validators=[DataRequired(), Length(max=80)])
    last_name = StringField("Last name", validators=[DataRequired(), Length(max=80)])
    date_of_birth = DateField("Date of birth", validators=[Optional()])
    sex = SelectField("Sex", choices=[SelectChoice(s, s.capitalize()) for s in SEXES], default="unknown")
    phone = StringField("Phone", validators=[Optional(), Length(max=40)])
    email = EmailField("Email", validators=[Optional(), Email(message="Enter a valid email address."),
                                            Length(max=320)])
    address = TextAreaField("Address", validators=[Optional(), Length(max=400)])
    allergies = StringField("Allergies", validators=[Optional(), Length(max=1000)],
                            description="Separate with commas, e.g. penicillin, latex")
    alerts = TextAreaField("Alerts", validators=[Optional(), Length(max=1000)],
                           description="Shown as a banner on the patient's page")
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=5000)])
    confirm_duplicate = BooleanField("This is a different person: create anyway")

    def validate_date_of_birth(self, field):
        if field.data is None:
            return
        today = clock.now().date()
        if field.data > today:
            raise ValidationError("The date of birth cannot be in the future.")
        if field.data < date(today.year - 130, 1, 1):
            raise ValidationError("Check the year: that is more than 130 years ago.")

    def validate_phone(self, field):
        if field.data and (not _PHONE.match(field.data) or len(re.sub(r"\D", "", field.data)) < 6):
            raise ValidationError("Enter a phone number of at least 6 digits (spaces, +, -, ( ) allowed).")

    def validate_allergies(self, field):
        if len(self.allergy_list()) > 50:
            raise ValidationError("At most 50 allergies.")
        if any(len(a) > 120 for a in self.allergy_list()):
            raise ValidationError("Each allergy must be at most 120 characters.")

    def allergy_list(self):
        return [a.strip() for a in (self.allergies.data or "").split(",") if a.strip()]

    def cleaned(self):
        return {
            "first_name": self.first_name.data.strip(),
            "last_name": self.last_name.data.strip(),
            "date_of_birth": self.date_of_birth.data,
            "sex": self.sex.data,
            "phone": (self.phone.data or "").strip() or None,
            "email": (self.email.data or "").strip().lower() or None,
            "address": (self.address.data or "").strip() or None,
            "allergies": self.allergy_list(),
            "alerts": (self.alerts.data or "").strip() or None,
            "notes": (self.notes.data or "").strip() or None,
        }

    @classmethod
    def for_patient(cls, patient, **kwargs):
        form = cls(obj=patient, **kwargs)
        if not form.is_submitted():
            form.allergies.data = ", ".join(patient.allergies or [])
        return form
