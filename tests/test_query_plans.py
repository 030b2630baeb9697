"""Every list/search query is served by a tenantId-prefixed index (checked with explain)."""
from datetime import date

import pytest

from clinic_app.models import Appointment, AuditEvent, OutboundMessage, Patient
from clinic_app.services import patients as svc


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
