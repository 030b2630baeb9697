"""What an audit page shows for each event: the record it is about, and its changes, in words.

Events store ids (`target_id`, ids inside `changes`). `present(events)` reads the
records they name with one query per kind for the whole page (patients, users,
appointments, visits, ... ; never one per row), so the "On" column says
"Maria Lopez (P000012)" or "Appointment 03/02/2026 09:30 · Maria Lopez" instead
of an ObjectId, and a change of doctor reads as names.
"""
import re
from dataclasses import dataclass, field
from datetime import date, datetime

from bson import ObjectId
from flask import current_app, url_for
from flask_login import current_user
from mongoengine.base import get_document
from mongoengine.errors import NotRegistered

from ...localtime import local_date, local_time
from ...models import Patient
from ...tenancy import TenantDocument

# kind -> (label, endpoint, url argument, permission resource) for the records the app has pages for
PAGES = {
    "Patient": ("Patient", "patients.show", "patient_id", "patients"),
    "Appointment": ("Appointment", "appointments.show", "appointment_id", "appointments"),
    "Visit": ("Visit", "visits.show", "visit_id", "visits"),
    "User": ("Staff", "staff.detail", "user_id", "staff"),
    "Role": ("Role", "roles.edit", "role_id", "roles"),
}
KIND_LABELS = {"ApiToken": "API token", "Tenant": "Clinic", "Settings": "Clinic settings", "User": "Staff"}
# change keys whose values are ids of these kinds
REFERENCE_KEYS = {"patient": "Patient", "doctor": "User", "provider": "User", "appointment": "Appointment",
                  "visit": "Visit"}
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FIELDS = {"Patient": ("first_name", "last_name", "record_number"), "User": ("name",),
           "Appointment": ("patient", "start"), "Visit": ("patient", "started_at"), "Role": ("name",),
           "ApiToken": ("name",)}


@dataclass
class Target:
    text: str
    url: str = None
    gone: bool = False


@dataclass
class Change:
    key: str
    label: str
    old: str = None
    new: str = None
    text: str = None

    @property
    def changed(self):
        return self.text is None


@dataclass
class Presented:
    targets: dict = field(default_factory=dict)  # event pk -> Target
    changes: dict = field(default_factory=dict)  # event pk -> [Change]


def _kind_label(kind):
    return KIND_LABELS.get(kind) or re.sub(r"(?<!^)(?=[A-Z])", " ", kind or "").capitalize()


def _model(kind):
    try:
        model = get_document(kind)
    except NotRegistered:
        return None
    return model if isinstance(model, type) and issubclass(model, TenantDocument) else None


def _ref_id(doc, name):
    ref = doc._data.get(name)
    return getattr(ref, "id", getattr(ref, "pk", ref))


def _oid(value):
    return ObjectId(value) if isinstance(value, str) and ObjectId.is_valid(value) else (
        value if isinstance(value, ObjectId) else None)


class _Records:
    """The records a page of events names, loaded with one query per kind."""

    def __init__(self, events):
        wanted = {}
        for ev in events:
            if ev.target_type and ev.target_id:
                wanted.setdefault(ev.target_type, set()).add(ev.target_id)
            for key, value in (ev.changes or {}).items():
                kind = REFERENCE_KEYS.get(key)
                for v in (value.values() if isinstance(value, dict) else [value]) if kind else ():
                    if _oid(v):
                        wanted.setdefault(kind, set()).add(_oid(v))
        self.docs = {}
        patients = set(wanted.pop("Patient", ()))
        # Appointments, visits and any other kind first: the patients they name join the one patient query.
        for kind, ids in wanted.items():
            model = _model(kind)
            if model is None or kind in ("Settings", "Tenant"):
                continue
            only = _FIELDS.get(kind) or (("patient",) if "patient" in model._fields else ())
            qs = model.objects(pk__in=list(ids))
            found = list(qs.only(*only) if only else qs)
            self.docs[kind] = {d.pk: d for d in found}
            if "patient" in model._fields:
                patients.update(filter(None, (_ref_id(d, "patient") for d in found)))
        if patients:
            found = Patient.objects(pk__in=list(patients)).only(*_FIELDS["Patient"])
            self.docs["Patient"] = {p.pk: p for p in found}

    def get(self, kind, pk):
        return self.docs.get(kind, {}).get(pk)

    def patient_name(self, doc):
        patient = self.get("Patient", _ref_id(doc, "patient"))
        return f"{patient.first_name} {patient.last_name}" if patient else None

    def describe(self, kind, pk, stored=None):
        """Target for the record `kind`/`pk`; `stored` is the description written with the event."""
        if kind == "Settings":
            return Target("Clinic settings", _url("settings.edit", "settings"))
        if kind == "Tenant":
            return Target("The clinic's subscription", _url("subscription.index", "subscription"))
        doc = self.get(kind, pk)
        label = _kind_label(kind)
        if doc is None and kind not in self.docs:  # a kind with no clinic records to read: as written then
            return Target(f"{label}: {stored}" if stored else label)
        if doc is None:
            return Target(f"{label}: {stored} (deleted)" if stored else f"{label} (deleted)", gone=True)
        if kind == "Patient":
            text = f"{doc.first_name} {doc.last_name} ({doc.record_number})"
        elif kind == "Appointment":
            text = " · ".join(filter(None, [f"Appointment {local_time(doc.start)}", self.patient_name(doc)]))
        elif kind == "Visit":
            text = " · ".join(filter(None, [f"Visit {local_time(doc.started_at)}", self.patient_name(doc)]))
        elif kind in ("User", "Role", "ApiToken"):
            text = f"{label}: {doc.name}"
        elif "patient" in doc._fields:
            text = " · ".join(filter(None, [label, self.patient_name(doc)]))
        else:
            text = f"{label}: {stored}" if stored else label
        page = PAGES.get(kind)
        return Target(text, _url(page[1], page[3], **{page[2]: doc.pk}) if page else None)


def _url(endpoint, resource, **values):
    if endpoint not in current_app.view_functions or not current_user.can(resource, "read"):
        return None
    return url_for(endpoint, **values)


def _humanize(key):
    return key.replace("_", " ").capitalize()


def _value(key, value, records):
    """One recorded value in words: names for ids, the clinic's date format and zone for times."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return local_time(value)
    if isinstance(value, date):
        return local_date(value)
    if isinstance(value, (list, tuple)):
        if key == "fields":  # the names of the fields that changed: height_cm -> height cm
            return ", ".join(str(v).replace("_", " ") for v in value) or "—"
        return ", ".join(_value(key, v, records) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{_humanize(k)}: {_value(k, v, records)}" for k, v in value.items())
    if key in REFERENCE_KEYS and _oid(value):
        return records.describe(REFERENCE_KEYS[key], _oid(value)).text.removesuffix(" (deleted)")
    if isinstance(value, str):
        if _ISO_TIME.match(value):
            try:
                return local_time(datetime.fromisoformat(value))
            except ValueError:
                return value
        if _ISO_DATE.match(value):
            try:
                return local_date(date.fromisoformat(value))
            except ValueError:
                return value
        if key.endswith("status"):
            return value.replace("_", " ")
    return str(value)


def _pair(value):
    """(old, new) of a recorded change: services write {old, new} or {from, to}."""
    if isinstance(value, dict) and set(value) in ({"old", "new"}, {"from", "to"}):
        return (value["old"], value["new"]) if "old" in value else (value["from"], value["to"])
    return None


def changes_of(event, records):
    out = []
    for key, value in (event.changes or {}).items():
        pair = _pair(value)
        if pair is not None:
            out.append(Change(key, _humanize(key), old=_value(key, pair[0], records),
                              new=_value(key, pair[1], records)))
        else:
            out.append(Change(key, _humanize(key), text=_value(key, value, records)))
    return out


def present(events):
    """Presented targets and changes of a page of events (one query per kind of record named)."""
    records = _Records(events)
    shown = Presented()
    for ev in events:
        if ev.target_type:
            shown.targets[ev.pk] = records.describe(ev.target_type, ev.target_id, ev.target)
        elif ev.target:
            shown.targets[ev.pk] = Target(ev.target)
        shown.changes[ev.pk] = changes_of(ev, records)
    return shown
