"""Appointment use cases, one module per concern:

    days.py      clinic-local days, working hours and slots (DST-correct bounds), the range of dates
    people.py    who can be booked (doctors and their labels), the booking form's patient picker
    calendar.py  reading: the day grid, the week, the API's list, the dashboard's counts
    booking.py   writing: check a booking against the clinic's rules, book and reschedule under locks
    status.py    status labels and the conditional status changes (TRANSITIONS)
    errors.py    Refused (field -> message) and InvalidTransition

Callers use the package (`from ..services import scheduling`); the names below are its API.
"""
from .booking import Plan, book, can_reschedule, check, reschedule  # noqa: F401
from .calendar import (  # noqa: F401
    LIST_MAX_DAYS, DayView, Row, WeekDay, appointment_list, appointments_between, day_view,
    today_by_status, upcoming_for_doctor, week_view,
)
from .days import (  # noqa: F401
    DAY_NAMES, FIRST_DAY, LAST_DAY, OUT_OF_RANGE, day_bounds, is_working_day, local_today, slot_starts,
    wall_time_exists, week_start, working_hours,
)
from .errors import InvalidTransition, Refused  # noqa: F401
from .people import (  # noqa: F401
    DOCTOR_ROLE, PICKER_LIMIT, bookable_doctors, doctor_label, find_doctor, find_patient, parse_id, patient_options,
)
from .status import ACTION_LABELS, DONE, STATE, STATUS_LABELS, actions_for, change_status  # noqa: F401
