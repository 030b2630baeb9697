"""The clinic's test catalogue: the shipped starter set, tests and panels, and what an order picks."""
import json
from functools import lru_cache
from pathlib import Path

from bson import ObjectId

from ... import clock
from ...models import LabPanel, LabTest
from ...models.labs import ReferenceRange
from .. import audit

STARTER = Path(__file__).resolve().parents[2] / "data" / "lab_catalogue.json"
TEST_FIELDS = ("code", "name", "loinc", "specimen", "result_type", "unit", "decimals", "choices",
               "normal_choices", "price", "active")
RANGE_FIELDS = ("sex", "age_min", "age_max", "age_unit", "low", "high", "critical_low", "critical_high")


class CatalogueError(Exception):
    """A refused catalogue change: str(exc) is the message, `field` the form field it belongs to."""

    def __init__(self, message, field=None):
        super().__init__(message)
        self.field = field


@lru_cache(maxsize=1)
def starter_data():
    """The shipped catalogue (clinic_app/data/lab_catalogue.json), parsed once per process."""
    return json.loads(STARTER.read_text(encoding="utf-8"))


def _test_from(entry):
    fields = {k: entry[k] for k in TEST_FIELDS if k in entry}
    ranges = [ReferenceRange(**{k: r[k] for k in RANGE_FIELDS if k in r}) for r in entry.get("ranges", [])]
    return LabTest(**fields, ranges=ranges)


def load_starter(actor=None):
    """Add the starter tests and panels this clinic does not have yet (by code); returns (tests, panels) added.

    Idempotent: run it again and nothing changes; a clinic's own edits to a test are never overwritten.
    Bulk inserts (two writes), so onboarding stays fast.
    """
    data = starter_data()
    have = {t.code: t.pk for t in LabTest.objects.only("code")}
    new_tests = [_test_from(e) for e in data["tests"] if e["code"].upper() not in have]
    if new_tests:
        for doc in LabTest.objects.insert(new_tests):
            have[doc.code] = doc.pk
    have_panels = set(LabPanel.objects.distinct("code"))
    new_panels = [LabPanel(code=p["code"], name=p["name"], test_ids=[have[c] for c in p["tests"] if c in have])
                  for p in data["panels"] if p["code"].upper() not in have_panels]
    if new_panels:
        LabPanel.objects.insert(new_panels)
    if new_tests or new_panels:
        audit.record("lab_catalogue.load", changes={"tests": len(new_tests), "panels": len(new_panels),
                                                    "version": data.get("version")}, actor=actor)
    return len(new_tests), len(new_panels)


# -- reading ------------------------------------------------------------------------


def tests(include_inactive=False):
    qs = LabTest.objects if include_inactive else LabTest.objects(active=True)
    return qs.order_by("name")


def panels(include_inactive=False):
    qs = LabPanel.objects if include_inactive else LabPanel.objects(active=True)
    return qs.order_by("name")


def tests_by_id(ids):
    """{id: LabTest} for these ids, in one query."""
    ids = [i if isinstance(i, ObjectId) else ObjectId(i) for i in ids]
    return LabTest.objects.in_bulk(ids) if ids else {}


def panel_tests(panel_list):
    """{panel id: [LabTest, ...]} for these panels, with one query for all their tests."""
    found = tests_by_id({tid for p in panel_list for tid in p.test_ids})
    return {p.pk: [found[t] for t in p.test_ids if t in found] for p in panel_list}


def resolve(test_ids=(), panel_ids=()):
    """[(LabTest, panel code or None)] for an order: panels' tests then single tests, each test once.

    Ids of other clinics or inactive entries are ignored; raises CatalogueError when nothing is left.
    """
    picked, seen = [], set()
    chosen_panels = list(LabPanel.objects(pk__in=[ObjectId(p) for p in panel_ids], active=True)) if panel_ids else []
    by_panel = panel_tests(chosen_panels)
    for panel in chosen_panels:
        for test in by_panel[panel.pk]:
            if test.active and test.pk not in seen:
                seen.add(test.pk)
                picked.append((test, panel.code))
    singles = tests_by_id(test_ids)
    for tid in test_ids:
        test = singles.get(ObjectId(tid))
        if test is not None and test.active and test.pk not in seen:
            seen.add(test.pk)
            picked.append((test, None))
    if not picked:
        raise CatalogueError("Pick at least one test or panel.", field="tests")
    return picked


# -- editing -------------------------------------------------------------------------


def save_test(test, data, ranges):
    """Create or update a test from form data and a list of range dicts; returns the changed field names.

    Raises CatalogueError (duplicate code, invalid limits).
    """
    from mongoengine import NotUniqueError, ValidationError

    creating = test.pk is None
    before = {f: getattr(test, f) for f in TEST_FIELDS}
    before_ranges = [r.to_mongo().to_dict() for r in test.ranges or []]
    for field in TEST_FIELDS:
        if field in data:
            setattr(test, field, data[field])
    test.ranges = [ReferenceRange(**{k: r.get(k) for k in RANGE_FIELDS}) for r in ranges]
    test.updated_at = clock.now()
    changed = [f for f in TEST_FIELDS if before[f] != getattr(test, f)]
    if before_ranges != [r.to_mongo().to_dict() for r in test.ranges]:
        changed.append("ranges")
    if not changed and not creating:
        return []
    try:
        test.save()
    except NotUniqueError:
        raise CatalogueError("Another test already has this code.", field="code") from None
    except ValidationError as exc:
        raise CatalogueError(_validation_message(exc)) from None
    audit.record("lab_test.create" if creating else "lab_test.update", target=test, changes={"fields": changed})
    return changed


def save_panel(panel, code, name, test_ids, active=True):
    """Create or update a panel; raises CatalogueError."""
    from mongoengine import NotUniqueError

    creating = panel.pk is None
    found = tests_by_id(test_ids)
    panel.code, panel.name, panel.active = code, name, active
    panel.test_ids = [ObjectId(t) for t in test_ids if ObjectId(t) in found]
    if not panel.test_ids:
        raise CatalogueError("A panel needs at least one test.", field="tests")
    try:
        panel.save()
    except NotUniqueError:
        raise CatalogueError("Another panel already has this code.", field="code") from None
    audit.record("lab_panel.create" if creating else "lab_panel.update", target=panel,
                 changes={"tests": len(panel.test_ids)})
    return panel


def _validation_message(exc):
    errors = getattr(exc, "errors", None) or {}
    for value in errors.values():
        inner = getattr(value, "errors", None)
        if inner:
            for v in inner.values():
                return str(getattr(v, "message", v))
        return str(getattr(value, "message", value))
    return str(getattr(exc, "message", exc))


def load_starter_for_clinics(subdomain=None):
    """Load the starter catalogue into one clinic (by subdomain) or every clinic; yields (tenant, added).

    For clinics created before the laboratory existed; idempotent like `load_starter`.
    """
    from ...models import Tenant
    from ...tenancy import tenant_context

    tenants = Tenant.objects(subdomain=subdomain) if subdomain else Tenant.objects(status__ne="provisioning")
    for tenant in tenants:
        with tenant_context(tenant):
            yield tenant, load_starter()
