"""The clinic's test catalogue: the shipped starter set, tests and panels, and what an order picks."""
import json
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from bson import ObjectId
from mongoengine import NotUniqueError, ValidationError

from ... import clock
from ...models import LabPanel, LabTest, Tenant
from ...models.labs import ReferenceRange
from ...tenancy import tenant_context
from .. import audit
from ..errors import FieldRefused
from . import flags

STARTER = Path(__file__).resolve().parents[2] / "data" / "lab_catalogue.json"
TEST_FIELDS = ("code", "name", "loinc", "specimen", "result_type", "unit", "decimals", "choices",
               "normal_choices", "price", "active")


class CatalogueError(FieldRefused):
    """A refused catalogue change: str(exc) is the message, `field` the form field it belongs to."""


@lru_cache(maxsize=1)
def starter_data():
    """The shipped catalogue (clinic_app/data/lab_catalogue.json), parsed once per process."""
    return json.loads(STARTER.read_text(encoding="utf-8"))


def _test_from(entry, additions=()):
    fields = {k: entry[k] for k in TEST_FIELDS if k in entry}
    ranges = [_range_from(r) for r in entry.get("ranges", [])]
    # A new test gets every addition now, so a later load never offers them again.
    return LabTest(**fields, ranges=ranges, starter_additions=list(additions))


def _range_from(entry):
    return ReferenceRange(**{k: entry[k] for k in ReferenceRange.FIELDS if k in entry})


class Loaded(NamedTuple):
    tests: int  # tests added
    panels: int  # panels added
    ranges: int = 0  # reference ranges added to tests the clinic already had (range_additions)


def load_starter(actor=None):
    """Add what this clinic lacks from the starter catalogue; returns Loaded(tests, panels, ranges) added.

    Tests and panels are matched by code; a test the clinic already has gets the ranges of each of the
    file's `range_additions` once (see `_add_ranges`). Idempotent: run it again and nothing changes, and a
    clinic's own edits are never overwritten. New tests and panels are two bulk inserts, so onboarding
    stays fast; each addition to an existing test is one conditional update.
    """
    data = starter_data()
    additions = [a["id"] for a in data.get("range_additions", [])]
    existing = {t.code: t for t in LabTest.objects.only("code", "ranges", "starter_additions")}
    have = {code: t.pk for code, t in existing.items()}
    new_tests = [_test_from(e, additions) for e in data["tests"] if e["code"].upper() not in have]
    if new_tests:
        ids = LabTest.objects.insert(new_tests, load_bulk=False)
        for doc, pk in zip(new_tests, ids if isinstance(ids, list) else [ids]):
            have[doc.code] = pk
    have_panels = set(LabPanel.objects.distinct("code"))
    new_panels = [LabPanel(code=p["code"], name=p["name"], test_ids=[have[c] for c in p["tests"] if c in have])
                  for p in data["panels"] if p["code"].upper() not in have_panels]
    if new_panels:
        LabPanel.objects.insert(new_panels, load_bulk=False)
    ranges = _add_ranges(data, existing, additions)
    if new_tests or new_panels or ranges:
        audit.record("lab_catalogue.load", changes={"tests": len(new_tests), "panels": len(new_panels),
                                                    "ranges": ranges, "version": data.get("version")}, actor=actor)
    return Loaded(len(new_tests), len(new_panels), sum(ranges.values()))


def _add_ranges(data, existing, additions):
    """Give the clinic's existing tests each range addition they have not had; {test code: ranges added}.

    A range is skipped when the test already has one for an overlapping sex and age (the clinic's own
    children's range wins). The addition is marked on the test either way, in the same conditional
    update that appends the ranges, so two loads at once cannot both add them.
    """
    added = {}
    for entry in data["tests"]:
        test = existing.get(entry["code"].upper())
        if test is None:
            continue
        for addition in additions:
            offered = [r for r in entry.get("ranges", []) if r.get("addition") == addition]
            if not offered or addition in (test.starter_additions or []):
                continue
            fresh = [_range_from(r) for r in offered
                     if not any(flags.ranges_overlap(r, mine) for mine in test.ranges or [])]
            updates = {"push__starter_additions": addition, "set__updated_at": clock.now()}
            if fresh:
                updates["push_all__ranges"] = fresh
            if LabTest.objects(pk=test.pk, starter_additions__ne=addition).update(**updates) and fresh:
                added[test.code] = added.get(test.code, 0) + len(fresh)
    return added


# -- reading ------------------------------------------------------------------------


def tests(include_inactive=False):
    qs = LabTest.objects if include_inactive else LabTest.objects(active=True)
    return qs.order_by("name")


def panels(include_inactive=False):
    qs = LabPanel.objects if include_inactive else LabPanel.objects(active=True)
    return qs.order_by("name")


def _oids(values):
    """ObjectIds of the well-formed ids among `values` (form or API input), in order, each once."""
    out = []
    for v in values or ():
        oid = v if isinstance(v, ObjectId) else ObjectId(v) if isinstance(v, str) and ObjectId.is_valid(v) else None
        if oid is not None and oid not in out:
            out.append(oid)
    return out


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
    test_ids, panel_ids = _oids(test_ids), _oids(panel_ids)
    chosen_panels = list(LabPanel.objects(pk__in=panel_ids, active=True)) if panel_ids else []
    by_panel = panel_tests(chosen_panels)
    for panel in chosen_panels:
        for test in by_panel[panel.pk]:
            if test.active and test.pk not in seen:
                seen.add(test.pk)
                picked.append((test, panel.code))
    singles = tests_by_id(test_ids)
    for tid in test_ids:
        test = singles.get(tid)
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
    creating = test.pk is None
    before = {f: getattr(test, f) for f in TEST_FIELDS}
    before_ranges = [r.to_mongo().to_dict() for r in test.ranges or []]
    for field in TEST_FIELDS:
        if field in data:
            setattr(test, field, data[field])
    test.ranges = [ReferenceRange(**{k: r.get(k) for k in ReferenceRange.FIELDS}) for r in ranges]
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
    creating = panel.pk is None
    test_ids = _oids(test_ids)
    found = tests_by_id(test_ids)
    panel.code, panel.name, panel.active = code, name, active
    panel.test_ids = [t for t in test_ids if t in found]
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
    """The first plain message inside a mongoengine ValidationError (errors nest per field, list index, __all__)."""
    errors = getattr(exc, "errors", None)
    if isinstance(errors, dict) and errors:
        return _validation_message(next(iter(errors.values())))
    if isinstance(exc, dict) and exc:
        return _validation_message(next(iter(exc.values())))
    return str(getattr(exc, "message", None) or exc)


def load_starter_for_clinics(subdomain=None):
    """Load the starter catalogue into one clinic (by subdomain) or every clinic; yields (tenant, added).

    For clinics created before the laboratory existed; idempotent like `load_starter`.
    """
    tenants = Tenant.objects(subdomain=subdomain) if subdomain else Tenant.objects(status__ne="provisioning")
    for tenant in tenants:
        with tenant_context(tenant):
            yield tenant, load_starter()
