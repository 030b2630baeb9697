"""The API's shapes: strictly typed request bodies (a dict or list where a string belongs is a
400, never a query), what they mean for the services, and the JSON each record is answered as."""
from datetime import date as date_
from datetime import time as time_
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from ... import clock
from ...localtime import to_local
from ...models.patients import SEVERITIES, SEXES
from ...models.scheduling import STATUSES
from ...services import patients as patient_svc
from ...services.scheduling.days import FIRST_DAY, LAST_DAY

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)]


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


Substance = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]


class AllergyIn(Strict):
    substance: Substance
    reaction: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    severity: Literal[SEVERITIES] = "unknown"


# Structured {substance, reaction, severity}; a plain string is still accepted as the substance.
Allergies = Annotated[list[AllergyIn | Substance], Field(max_length=50)]


class PatientIn(Strict):
    first_name: Name
    last_name: Name
    date_of_birth: date_ | None = None
    sex: Literal[SEXES] = "unknown"
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40,
                                            pattern=r"^[0-9+()\-. ]*$")] | None = None
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=320,
                                            pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None
    address: Annotated[str, StringConstraints(max_length=400)] | None = None
    allergies: Allergies = []
    alerts: Text | None = None
    notes: Annotated[str, StringConstraints(max_length=5000)] | None = None

    @field_validator("date_of_birth")
    @classmethod
    def not_in_future(cls, value):
        if value is not None and value > clock.now().date():
            raise ValueError("cannot be in the future")
        return value


class PatientPatch(PatientIn):
    first_name: Name | None = None
    last_name: Name | None = None
    sex: Literal[SEXES] | None = None
    allergies: Allergies | None = None

    def merged(self, patient):
        """The patient's fields with the given ones applied (a null name or sex keeps the old value)."""
        data = {f: getattr(patient, f) for f in patient_svc.FIELDS}
        given = self.model_dump(exclude_unset=True)
        data.update({k: v for k, v in given.items() if not (k in ("first_name", "last_name", "sex") and v is None)})
        return data


ObjectIdStr = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{24}$")]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)]


def _calendar_day(value):
    if not FIRST_DAY <= value <= LAST_DAY:  # beyond them a day's bounds overflow datetime
        raise ValueError(f"must be from {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}")
    return value


CalendarDay = Annotated[date_, AfterValidator(_calendar_day)]


class AppointmentIn(Strict):
    """Times are wall-clock in the clinic's time zone, as on the booking form."""

    patient_id: ObjectIdStr
    doctor_id: ObjectIdStr
    date: CalendarDay
    time: time_
    duration: Annotated[int, Field(ge=5, le=480, multiple_of=5)] = 0
    reason: Reason | None = None

    def booking_data(self, default_minutes):
        """The booking form's data (scheduling.book) for this body."""
        return {"patient_id": self.patient_id, "doctor": self.doctor_id, "date": self.date, "time": self.time,
                "duration": self.duration or default_minutes, "reason": self.reason}


class AppointmentPatch(Strict):
    doctor_id: ObjectIdStr | None = None
    date: CalendarDay | None = None
    time: time_ | None = None
    duration: Annotated[int, Field(ge=5, le=480, multiple_of=5)] | None = None
    reason: Reason | None = None
    status: Literal[STATUSES] | None = None
    cancel_reason: Reason | None = None

    def reschedule_data(self, appointment):
        """scheduling.reschedule's data: the given fields over the appointment's own; None when only
        the status (or nothing) is given."""
        given = self.model_dump(exclude_unset=True, exclude={"status", "cancel_reason"})
        if not given:
            return None
        local_start = to_local(appointment.start)
        return {
            "doctor": given.get("doctor_id") or str(appointment.doctor.pk),
            "date": given.get("date") or local_start.date(),
            "time": given.get("time") or local_start.time().replace(tzinfo=None),
            "duration": given.get("duration") or int((appointment.end - appointment.start).total_seconds() // 60),
            "reason": given["reason"] if "reason" in given else appointment.reason,
        }


# -- answers ----------------------------------------------------------------------------


def iso_or_none(value):
    """A date or time as ISO 8601 in the API's JSON; None stays null."""
    return value.isoformat() if value else None




def patient_json(p):
    return {
        "id": str(p.pk), "record_number": p.record_number, "first_name": p.first_name,
        "last_name": p.last_name, "date_of_birth": iso_or_none(p.date_of_birth),
        "sex": p.sex, "phone": p.phone, "email": p.email, "address": p.address,
        "allergies": [{"substance": a.substance, "reaction": a.reaction, "severity": a.severity or "unknown"}
                      for a in p.allergies or []], "alerts": p.alerts, "notes": p.notes, "active": p.active,
        "created_at": iso_or_none(p.created_at), "updated_at": iso_or_none(p.updated_at),
    }


def appointment_json(a):
    """Needs a.patient and a.doctor loaded (prefetch them for a list)."""
    return {
        "id": str(a.pk), "patient_id": str(a.patient.pk), "patient_name": a.patient.full_name,
        "doctor_id": str(a.doctor.pk), "doctor_name": a.doctor.name,
        "start": a.start.isoformat(), "end": a.end.isoformat(),
        "start_local": to_local(a.start).isoformat(), "end_local": to_local(a.end).isoformat(),
        "status": a.status, "reason": a.reason, "cancel_reason": a.cancel_reason,
    }
