from wtforms import DateField, IntegerField, RadioField, SelectField, StringField, TimeField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, InputRequired, Length, NumberRange, Optional, ValidationError

from ...forms import AppForm
from ...localtime import local_date
from ...models.scheduling import STATUSES


class RescheduleForm(AppForm):
    """When, with whom, how long, why. The clinic's rules (hours, overlaps) live in the service."""

    doctor = SelectField("Doctor", validate_choice=False, validators=[InputRequired(message="Choose a doctor.")])
    date = DateField("Date", validators=[InputRequired(message="Enter a date.")],
                     invalid_value_message="Enter the date as a full date: day, month and year.")
    time = TimeField("Time", format=["%H:%M", "%H:%M:%S"], validators=[InputRequired(message="Enter a time.")],
                     invalid_value_message="Enter the time as HH:MM, e.g. 09:30.")
    duration = IntegerField(
        "Duration (minutes)", invalid_value_message="Enter the duration in whole minutes, e.g. 15.",
        validators=[InputRequired(message="Enter a duration in minutes."),
                    NumberRange(min=5, max=480, message="Enter a duration from 5 to 480 minutes.")])
    reason = StringField("Reason", validators=[Optional(), Length(max=300, message="Use at most 300 characters.")])

    def validate_duration(self, field):
        if field.data is not None and field.data % 5:
            raise ValidationError("Use a multiple of 5 minutes.")

    def offer_doctors(self, doctors, label):
        self.doctor.choices = [SelectChoice("", "Choose a doctor…")] + [SelectChoice(str(d.pk), label(d))
                                                                 for d in doctors]

    def cleaned(self):
        data = {name: self[name].data for name in ("doctor", "date", "time", "duration", "reason")}
        if "patient_id" in self:
            data["patient_id"] = self.patient_id.data
        return data

    def add_errors(self, errors):
        for name, message in errors.items():
            self[name].errors = list(self[name].errors or []) + [message]


class BookingForm(RescheduleForm):
    # Radio buttons filled by the search-as-you-type picker; the id is checked in the service
    # (another clinic's id is "not found"), so choices are not enforced here.
    patient_id = RadioField("Choose the patient", validate_choice=False,
                            validators=[InputRequired(message="Search for the patient and choose one.")])

    def offer_patients(self, patients):
        self.patient_id.choices = [SelectChoice(str(p.pk), picker_label(p)) for p in patients]


def picker_label(patient):
    parts = [f"{patient.last_name}, {patient.first_name}", patient.record_number]
    if patient.date_of_birth:
        parts.append(f"born {local_date(patient.date_of_birth)}")
    if patient.phone:
        parts.append(patient.phone)
    return " · ".join(parts)


class StatusForm(AppForm):
    status = StringField("Status", validators=[InputRequired(message="Choose a status."),
                                               AnyOf(STATUSES, message="Unknown appointment status.")])
    cancel_reason = StringField("Reason for cancelling", validators=[Optional(), Length(max=300)])
