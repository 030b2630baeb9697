"""Patient use cases: search, create/update with duplicate checks, soft delete, timeline."""
import re
from datetime import date, datetime

from mongoengine.queryset.visitor import Q

from .. import clock
from ..localtime import parse_local_date
from ..models import (Appointment, Counter, Dispense, Invoice, LabOrder, LabResult, Patient, Payment, Prescription,
                      Visit)
from ..models.patients import as_allergy, digits
from ..models.prefetch import prefetch
from . import audit

PER_PAGE = 25
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _prefix_range(field, prefix):
    """{field__gte: p, field__lt: p+1}: a prefix match that uses index bounds (unlike a regex)."""
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return {f"{field}__gte": prefix, f"{field}__lt": upper}


NAME_ORDER = ("last_name_lc", "first_name_lc")


def search(q="", include_inactive=False):
    """A QuerySet of patients matching `q`, ordered by name. Every shape is equality + one range
    on a {tenantId, active, ...} index (ESR):

    - "P000123" → record number (any status; record numbers are unique)
    - digits (spaces, dashes allowed) → phone number prefix
    - a date in the clinic's format (31/12/1980) or YYYY-MM-DD → date of birth
    - "maria lop" → first name "maria", last name starting "lop"
    - "lopez, ma" → last name "lopez", first name starting "ma"
    - one word → last name or first name starting with it (an index union on MongoDB)
    """
    base = Patient.objects if include_inactive else Patient.objects(active=True)
    q = " ".join((q or "").split())
    if not q:
        return base.order_by(*NAME_ORDER)
    compact = q.replace(" ", "").replace("-", "")
    if re.fullmatch(r"[Pp]\d{1,10}", compact):
        return Patient.objects(record_number=f"P{int(compact[1:]):06d}")
    born = parse_local_date(q)  # in the clinic's date format (e.g. 31/12/1980), or YYYY-MM-DD
    if born is not None:
        return base.filter(date_of_birth=born).order_by(*NAME_ORDER)
    if _DATE.match(q):  # shaped like YYYY-MM-DD but no such day (2026-02-30)
        return base.none()
    if re.fullmatch(r"\+?[\d()]{3,}", compact.replace("(", "").replace(")", "")):
        return base.filter(**_prefix_range("phone_digits", re.sub(r"\D", "", compact))).order_by(*NAME_ORDER)
    text = q.lower()
    if "," in text:
        last, _, first = (part.strip() for part in text.partition(","))
        qs = base.filter(last_name_lc=last)
        return (qs.filter(**_prefix_range("first_name_lc", first)) if first else qs).order_by(*NAME_ORDER)
    words = text.split(" ", 1)
    if len(words) == 2:
        return base.filter(first_name_lc=words[0], **_prefix_range("last_name_lc", words[1])).order_by(*NAME_ORDER)
    return base.filter(Q(**_prefix_range("last_name_lc", words[0])) | Q(**_prefix_range("first_name_lc", words[0]))) \
        .order_by(*NAME_ORDER)


def likely_duplicates(first_name, last_name, date_of_birth=None, phone=None, email=None, exclude=None):
    """Active patients with the same name and birth date, or the same phone or email."""
    conds = []
    if first_name and last_name and date_of_birth:
        conds.append(Q(first_name_lc=first_name.strip().lower(), last_name_lc=last_name.strip().lower(),
                       date_of_birth=date_of_birth))
    if digits(phone):
        conds.append(Q(phone_digits=digits(phone)))
    if email:
        conds.append(Q(email=email.strip().lower()))
    if not conds:
        return []
    cond = conds[0]
    for extra in conds[1:]:
        cond = cond | extra
    qs = Patient.objects(active=True).filter(cond)
    if exclude is not None:
        qs = qs.filter(pk__ne=exclude.pk)
    return list(qs.limit(5))


FIELDS = ("first_name", "last_name", "date_of_birth", "sex", "phone", "email", "address", "allergies",
          "alerts", "notes")


def create_patient(data):
    patient = Patient(record_number=f"P{Counter.next('patient'):06d}", **{f: data.get(f) for f in FIELDS})
    patient.save()
    audit.record("patient.create", target=patient, changes={"fields": sorted(k for k in FIELDS if data.get(k))})
    return patient


def _plain(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, list):  # structured allergies
        return [v.to_mongo().to_dict() if hasattr(v, "to_mongo") else v for v in value]
    return value


def update_patient(patient, data):
    data = {**data, "allergies": [as_allergy(a) for a in data.get("allergies") or []]}
    changes = audit.apply_values(patient, data, FIELDS, same=lambda old, new: (old or None) == (new or None),
                                 recorded=lambda old, new: audit.change(_plain(old), _plain(new)))
    if changes:
        patient.save()
        audit.record("patient.update", target=patient, changes=changes)
    return changes


def set_active(patient, active):
    """Archive (False) or restore (True); False when it already was. One conditional update,
    so of two simultaneous archives exactly one happens (and is audited)."""
    changed = Patient.objects(pk=patient.pk, active=not active).update(set__active=active,
                                                                       set__updated_at=clock.now())
    patient.active = active
    if not changed:
        return False
    audit.record("patient.restore" if active else "patient.archive", target=patient)
    return True


def next_appointment(patient, now):
    return Appointment.objects(patient=patient, start__gte=now,
                               status__in=["scheduled", "checked_in"]).order_by("start").first()


TIMELINE_PAGE = 20


def timeline(patient, before=None, per_page=TIMELINE_PAGE):
    """Newest-first entries (appointments, visits, ...) older than `before`; (entries, next_before).

    Each source is read with a limit on its {tenantId, patient, -time} index, so
    a page costs the same with ten visits or ten thousand.
    """
    entries = []
    # (kind, model, time field): each area that keeps per-patient records adds its line
    # here and a matching branch in the `timeline` block of templates/patients/show.html.
    sources = [
        ("appointment", Appointment, "start"),
        ("visit", Visit, "started_at"),
        ("lab_order", LabOrder, "ordered_at"),
        ("lab_result", LabResult, "resulted_at"),
        ("prescription", Prescription, "created_at"),
        ("dispense", Dispense, "at"),
        ("invoice", Invoice, "created_at"),
        ("payment", Payment, "received_at"),
    ]
    for kind, model, field in sources:
        qs = model.objects(patient=patient)
        if before is not None:
            qs = qs.filter(**{f"{field}__lt": before})
        for doc in qs.order_by(f"-{field}").limit(per_page + 1):
            entries.append({"kind": kind, "at": getattr(doc, field), "doc": doc})
    entries.sort(key=lambda e: e["at"], reverse=True)
    page = entries[:per_page]
    prefetch([e["doc"] for e in page if e["kind"] == "appointment"], "doctor")
    prefetch([e["doc"] for e in page if e["kind"] == "visit"], "provider")
    prefetch([e["doc"] for e in page if e["kind"] == "prescription"], "prescriber")
    more = len(entries) > per_page
    return page, (page[-1]["at"] if more and page else None)
