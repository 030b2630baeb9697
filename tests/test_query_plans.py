"""Every list/search query is served by a tenantId-prefixed index (checked with explain), and a
by-id read reads one document, not the clinic."""
import time
from datetime import date

import mongoengine
import pytest

from clinic_app.blueprints.common import get_or_404
from clinic_app.models import Appointment, AuditEvent, OutboundMessage, Patient
from clinic_app.services import patients as svc
from clinic_app.tenancy import NoTenantBound

from .support import CountQueries


def _stages(node):
    if isinstance(node, dict):
        if "stage" in node:
            yield node
        for value in node.values():
            yield from _stages(value)
    elif isinstance(node, list):
        for value in node:
            yield from _stages(value)


def assert_tenant_index(qs):
    plan = qs.explain()
    winning = plan.get("queryPlanner", plan).get("winningPlan", plan)
    stages = list(_stages(winning))
    names = {s["stage"] for s in stages}
    assert "COLLSCAN" not in names, winning
    scans = [s for s in stages if s["stage"] == "IXSCAN"]
    assert scans, winning
    for scan in scans:
        assert next(iter(scan["keyPattern"])) == "tenantId", scan["keyPattern"]


@pytest.fixture
def some_patients(clinic_a, in_tenant, ensure_indexes):
    with in_tenant(clinic_a):
        for i in range(30):
            svc.create_patient({"first_name": f"Ann{i}", "last_name": f"Lee{i % 7}", "phone": f"555-01{i:02d}",
                                "date_of_birth": date(1980, 1, 1 + i % 28), "allergies": []})


@pytest.fixture
def ensure_indexes(app):
    from clinic_app.extensions import ensure_indexes as ensure

    with app.app_context():
        ensure()


@pytest.mark.parametrize("q", ["", "ann5 lee", "lee3, an", "555010", "1980-01-02", "P000003"])
def test_patient_search_uses_a_tenant_index(clinic_a, in_tenant, some_patients, q):
    with in_tenant(clinic_a):
        assert_tenant_index(svc.search(q))


def test_one_word_name_search_is_an_index_union_on_mongodb(clinic_a, in_tenant, some_patients):
    """On MongoDB the $or of two prefix ranges is an OR of two tenant-prefixed IXSCANs.

    SecantusDB's planner does not plan $or with indexes (it scans the
    collection, still filtered by tenantId); there this checks each branch alone.
    """
    import mongoengine

    with in_tenant(clinic_a):
        qs = svc.search("lee")
        if "secantusVersion" in mongoengine.get_db().client.server_info():
            assert qs._query["tenantId"] == clinic_a.pk
            assert_tenant_index(Patient.objects(active=True, **svc._prefix_range("last_name_lc", "lee")))
            assert_tenant_index(Patient.objects(active=True, **svc._prefix_range("first_name_lc", "lee")))
        else:
            assert_tenant_index(qs)


def test_other_lists_use_tenant_indexes(clinic_a, in_tenant, some_patients):
    with in_tenant(clinic_a):
        p = Patient.objects.first()
        assert_tenant_index(Appointment.objects(patient=p).order_by("-start"))
        assert_tenant_index(AuditEvent.objects.order_by("-at"))
        assert_tenant_index(OutboundMessage.objects(status="queued"))


def test_calendar_visit_and_message_lists_use_tenant_indexes(clinic_a, in_tenant, some_patients, frozen_clock):
    from datetime import timedelta

    from clinic_app.models import User, Visit
    from clinic_app.services import visits

    now = frozen_clock.now()
    with in_tenant(clinic_a):
        doctor = User.objects.first()
        for status in (None, "draft", "signed"):
            assert_tenant_index(visits.recent(status=status))
            assert_tenant_index(visits.recent(provider=doctor, status=status))
        day = dict(start__gte=now, start__lt=now + timedelta(days=1))
        assert_tenant_index(Appointment.objects(**day).order_by("start"))
        assert_tenant_index(Appointment.objects(doctor=doctor, **day).order_by("start"))
        assert_tenant_index(Visit.objects(patient=Patient.objects.first()).order_by("-started_at"))
        assert_tenant_index(OutboundMessage.objects.order_by("-created_at"))


def test_outbox_recovery_reads_each_clinic_on_its_index(clinic_a, in_tenant, some_patients, frozen_clock):
    with in_tenant(clinic_a):
        for status in ("queued", "sending", "failed"):
            assert_tenant_index(OutboundMessage.objects(status=status, created_at__lt=frozen_clock.now())
                                .order_by("created_at"))


# -- by-id reads: the caller's filter first, the tenant last (ARCHITECTURE §3) ------------------

CLINIC_SIZE = 1500


@pytest.fixture
def crowded_clinic(clinic_a, clinic_b, in_tenant, ensure_indexes):
    """CLINIC_SIZE patients in clinic A, a few in B; returns A's patient ids."""
    def rows(n, prefix):
        return [Patient(record_number=f"{prefix}{i:06d}", first_name=f"Ann{i}", last_name=f"Lee{i % 97}")
                for i in range(n)]

    with in_tenant(clinic_b):
        Patient.objects.insert(rows(3, "B"))
    with in_tenant(clinic_a):
        docs = rows(CLINIC_SIZE, "A")
        for doc in docs:
            doc.tenant_id = clinic_a.pk
            doc.validate()
        # One raw bulk write: the ORM's insert() reloads the rows with a 1,500-id $in (seconds here).
        return Patient._get_collection().insert_many([d.to_mongo() for d in docs]).inserted_ids


class SentFilters(CountQueries):
    """`with SentFilters(app) as sent:` -> `sent.filters`: the filter of every command sent, in order."""

    @property
    def filters(self):
        return [f for command in self.commands for f in _filters_of(command)]


def _filters_of(command):
    if "filter" in command:  # find, count, distinct
        yield command["filter"]
    for key, field in (("updates", "q"), ("deletes", "q")):
        for statement in command.get(key, []):
            yield statement[field]
    if "query" in command:  # findAndModify
        yield command["query"]
    for stage in command.get("pipeline", [])[:1]:  # aggregate: the scope's $match comes first
        if "$match" in stage:
            yield stage["$match"]


def _on_secantus():
    return "secantusVersion" in mongoengine.get_db().client.server_info()


def _docs_examined(filter_):
    db = mongoengine.get_db()
    plan = db.command("explain", {"find": Patient._get_collection_name(), "filter": filter_},
                      verbosity="executionStats")
    return plan["executionStats"]["totalDocsExamined"]


def _best_ms(read, runs=5):
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        read()
        best = min(best, time.perf_counter() - started)
    return best * 1000


def test_every_scoped_command_puts_the_callers_filter_first_and_the_tenant_last(
        app, clinic_a, in_tenant, crowded_clinic):
    one, some = crowded_clinic[7], crowded_clinic[10:15]
    with in_tenant(clinic_a):
        patient = Patient.objects.get(pk=one)
        with app.test_request_context(), SentFilters(app) as sent:
            Patient.objects(pk=one).first()
            get_or_404(Patient, str(one))
            Patient.objects.in_bulk(some)
            list(Patient.objects(pk__in=some))
            Patient.objects(pk=one).count()
            Patient.objects(pk=one).update(set__notes="n")
            Patient.objects(pk=one).modify(set__notes="m")
            list(Patient.objects(pk=one).aggregate([{"$project": {"_id": 1}}]))
            patient.reload()
            patient.update(set__alerts="a")
            Patient.objects(pk=crowded_clinic[-1]).delete()
    assert len(sent.filters) >= 11
    for sent_filter in sent.filters:
        keys = list(sent_filter)
        assert keys[0] == "_id" and keys[-1] == "tenantId", sent_filter
        assert sent_filter["tenantId"] == clinic_a.pk and "$and" not in sent_filter


def test_a_by_id_read_examines_one_document_and_an_in_read_only_those(app, clinic_a, in_tenant, crowded_clinic):
    """explain(executionStats) of the filter the scoped QuerySet sends.

    SecantusDB's explain reports any filter of two or more keys as a COLLSCAN of the whole
    collection (its explain planner lacks the executor's "first clause that has an index"
    fallback), so there the same property is checked by its cost: a by-id read must cost what a
    point read costs, not what the tenant-first shape costs, which walks the clinic.
    """
    one, some = crowded_clinic[700], crowded_clinic[100:120]
    with in_tenant(clinic_a):
        by_id, by_ids = Patient.objects(pk=one), Patient.objects(pk__in=some)
        assert [p.pk for p in by_id] == [one] and len(list(by_ids)) == len(some)
        if not _on_secantus():
            assert _docs_examined(by_id._query) == 1
            assert _docs_examined(by_ids._query) == len(some)
            return
        walk = Patient._get_collection()
        scoped_ms = _best_ms(lambda: by_id.clone().first())
        walk_ms = _best_ms(lambda: walk.find_one({"tenantId": clinic_a.pk, "_id": one}))
        assert scoped_ms * 4 < walk_ms, (scoped_ms, walk_ms)
        scoped_ms = _best_ms(lambda: list(by_ids.clone()))
        walk_ms = _best_ms(lambda: list(walk.find({"tenantId": clinic_a.pk, "_id": {"$in": some}})))
        assert scoped_ms * 4 < walk_ms, (scoped_ms, walk_ms)


def test_by_id_reads_still_fail_closed_with_no_tenant_bound(ctx, crowded_clinic):
    one, some = crowded_clinic[0], crowded_clinic[:3]
    for action in (
        lambda: Patient.objects(pk=one).first(),
        lambda: list(Patient.objects(pk__in=some)),
        lambda: Patient.objects.in_bulk(some),
        lambda: Patient.objects(pk=one).count(),
        lambda: Patient.objects(pk=one).update(set__notes="x"),
        lambda: Patient.objects(pk=one).delete(),
        lambda: list(Patient.objects(pk=one).aggregate([])),
    ):
        with pytest.raises(NoTenantBound):
            action()
