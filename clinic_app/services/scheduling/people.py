"""Who can be booked: the bookable doctors and their labels, and the booking form's patient picker."""
from bson import ObjectId
from bson.errors import InvalidId
from mongoengine.queryset.visitor import Q

from ...models import Patient, Role, User
from ..patients import search

DOCTOR_ROLE = "Doctor"


def bookable_doctors():
    """Active staff who take appointments, by name: those set so on the staff page, and Doctors left
    at the default (User.bookable). An Admin is not offered unless set to take appointments."""
    roles = {r.pk: r for r in Role.objects}  # a clinic has a handful: labels need them, no query per doctor
    doctor_roles = [pk for pk, r in roles.items() if r.name == DOCTOR_ROLE]
    takes = Q(takes_appointments=True) | Q(takes_appointments=None, role__in=doctor_roles)
    doctors = list(User.objects(takes, status="active").order_by("name"))
    for d in doctors:  # labels need the role: no query per doctor
        d._data["role"] = roles.get(getattr(d._data["role"], "id", d._data["role"]), d._data["role"])
    return doctors


def doctor_label(user):
    """'Dr Jane Roe' for users with the Doctor role, the plain name for the others (Admins)."""
    name = user.name
    if user.role.name == DOCTOR_ROLE and not name.lower().startswith(("dr ", "dr.")):
        return f"Dr {name}"
    return name


def parse_id(value):
    """The ObjectId a submitted string names, or None (malformed, or not a string)."""
    if not isinstance(value, str):
        return None
    try:
        return ObjectId(value)
    except (InvalidId, TypeError):
        return None


def find_doctor(doctor_id):
    """The bookable doctor with this (submitted) id in the bound clinic, or None (also for other clinics' ids)."""
    oid = parse_id(doctor_id)
    return next((d for d in bookable_doctors() if d.pk == oid), None) if oid else None


def find_patient(patient_id):
    oid = parse_id(patient_id)
    return Patient.objects(pk=oid).first() if oid else None


PICKER_LIMIT = 10


def patient_options(selected_id=None, q="", limit=PICKER_LIMIT):
    """(patients, more) for the booking form's picker: the chosen patient first, then up to
    `limit` matches of `q` (the patient register's own search); `more` when there are others."""
    chosen = find_patient(selected_id)
    found = list(search(q[:100]).limit(limit + 1)) if (q or "").strip() else []
    more = len(found) > limit
    patients = ([chosen] if chosen else []) + [p for p in found[:limit] if not chosen or p.pk != chosen.pk]
    return patients, more
