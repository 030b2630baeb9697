import re
from datetime import date

from wtforms import BooleanField, DateField, EmailField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from ... import clock
from ...forms import AppForm
from ...models.patients import SEVERITIES, SEXES

_ALLERGY_SEP = re.compile(r"\s*(?:—|–|\||\s-\s)\s*")
_PHONE = re.compile(r"^[0-9+()\-. ]{6,40}$")


class PatientForm(AppForm):
    first_name = StringField("First name", validators=[
        DataRequired(message="Enter the first name."), Length(max=80, message="Use at most 80 characters.")])
    last_name = StringField("Last name", validators=[
        DataRequired(message="Enter the last name."), Length(max=80, message="Use at most 80 characters.")])
    date_of_birth = DateField("Date of birth", validators=[Optional()],
                              invalid_value_message="Enter the date of birth as a full date: day, month and year.")
    sex = SelectField("Sex", choices=[SelectChoice(s, s.capitalize()) for s in SEXES], default="unknown",
                      invalid_choice_message="Choose one from the list.")
    phone = StringField("Phone", validators=[Optional(), Length(max=40, message="Use at most 40 characters.")])
    email = EmailField("Email", validators=[Optional(), Email(message="Enter a valid email address."),
                                            Length(max=320, message="Use at most 320 characters.")])
    address = TextAreaField("Address", validators=[Optional(), Length(max=400, message="Use at most 400 characters.")])
    allergies = TextAreaField("Allergies", validators=[Optional(), Length(max=5000)], render_kw={"rows": 3},
                              description="One per line: substance — reaction — severity (mild, moderate, severe), "
                                          "e.g. penicillin — hives — severe. Reaction and severity are optional.")
    alerts = TextAreaField("Alerts", validators=[Optional(), Length(max=1000, message="Use at most 1000 characters.")],
                           description="Shown as a banner on the patient's page")
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=5000, message="Use at most 5000 characters.")])
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
        allergies = self.allergy_list()
        if len(allergies) > 50:
            raise ValidationError("At most 50 allergies.")
        if any(len(a["substance"]) > 120 for a in allergies):
            raise ValidationError("Each substance must be at most 120 characters.")
        if any(len(a["reaction"] or "") > 200 for a in allergies):
            raise ValidationError("Each reaction must be at most 200 characters.")

    def allergy_list(self):
        """[{substance, reaction, severity}] from "substance — reaction — severity" lines; a line without
        dashes may list several substances separated by commas ("penicillin, latex")."""
        found = []
        for line in (self.allergies.data or "").splitlines():
            parts = [p.strip() for p in _ALLERGY_SEP.split(line)]
            if len(parts) == 1:
                found += [{"substance": a.strip(), "reaction": None, "severity": "unknown"}
                          for a in line.split(",") if a.strip()]
                continue
            severity = parts[-1].lower() if parts[-1].lower() in SEVERITIES else None
            rest = parts[:-1] if severity else parts
            if rest and rest[0]:
                found.append({"substance": rest[0], "reaction": " — ".join(p for p in rest[1:] if p) or None,
                              "severity": severity or "unknown"})
        return found

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
        # The field is text; obj= gives it the patient's list. Not posted (a GET, or a POST
        # without the field) means "as it is", as text, never the raw list (a 500 before).
        if not form.allergies.raw_data:
            form.allergies.data = "\n".join(
                " — ".join(p for p in (a.substance, a.reaction, a.severity if a.severity != "unknown" else None) if p)
                for a in patient.allergies or [])
        return form
