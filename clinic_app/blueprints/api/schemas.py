"""Strictly typed request bodies: a dict or list where a string belongs is a 400, never a query."""
from datetime import date as date_
from datetime import time as time_
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from ...models.patients import SEXES

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)]


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


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
    allergies: Annotated[list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                               max_length=120)]], Field(max_length=50)] = []
    alerts: Text | None = None
    notes: Annotated[str, StringConstraints(max_length=5000)] | None = None

    @field_validator("date_of_birth")
    @classmethod
    def not_in_future(cls, value):
        from ... import clock

        if value is not None and value > clock.now().date():
            raise ValueError("cannot be in the future")
        return value


class PatientPatch(PatientIn):
    first_name: Name | None = None
    last_name: Name | None = None
    sex: Literal[SEXES] | None = None
    allergies: Annotated[list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                               max_length=120)]], Field(max_length=50)] | None = None


ObjectIdStr = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{24}$")]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)]


class AppointmentIn(Strict):
    """Times are wall-clock in the clinic's time zone, as on the booking form."""

    patient_id: ObjectIdStr
    doctor_id: ObjectIdStr
    date: date_
    time: time_
    duration: Annotated[int, Field(ge=5, le=480, multiple_of=5)] = 0
    reason: Reason | None = None


class AppointmentPatch(Strict):
    doctor_id: ObjectIdStr | None = None
    date: date_ | None = None
    time: time_ | None = None
    duration: Annotated[int, Field(ge=5, le=480, multiple_of=5)] | None = None
    reason: Reason | None = None
    status: Literal["scheduled", "checked_in", "in_progress", "completed", "cancelled", "no_show"] | None = None
    cancel_reason: Reason | None = None
