"""Lab list pages cost the same number of queries with 2 rows or 12 (no per-row queries); query plans."""
import pytest

from clinic_app.models import LabOrder
from clinic_app.services.labs import orders, results

from . import lab_factories as lf
from .support import CountQueries, login, make_user


def _reads(app, client, clinic, path, **kw):
    with CountQueries(app) as q:
        response = client.get(path, tenant=clinic, **kw)
        assert response.status_code == 200, path
    return q.reads


@pytest.fixture
def world(clinic_a, in_tenant, frozen_clock):
    with in_tenant(clinic_a):
        doctor = make_user("Doctor", email="doc@clinica.test")
        first = lf.patient("First", "Patient")

    def add(n):
        with in_tenant(clinic_a):
            for i in range(n):
                p = lf.patient(f"P{i}", f"Row{n}")
                lf.order(p, doctor)
                lf.collected(p, doctor)
                crit = lf.resulted(p, doctor, {"K": "7.0", "NA": "150"})
                lf.resulted(first, doctor, {"K": f"{4 + i / 10:.1f}", "GLU": "90"})
                frozen_clock.advance(hours=1)
                if i % 2:
                    results.review(lf.resulted(first, doctor, {"NA": "141"}), doctor)
                assert crit.status == "resulted"

    return {"doctor": doctor, "first": first, "add": add}


def test_lab_lists_cost_the_same_with_more_rows(app, client, clinic_a, world):
    world["add"](2)
    login(client, clinic_a, world["doctor"].email)
    paths = ["/lab/", "/lab/?status=collected", "/", f"/lab/patients/{world['first'].pk}", "/lab/tests",
             "/lab/panels", "/api/v1/lab-orders", f"/api/v1/lab-orders?patient_id={world['first'].pk}",
             "/api/v1/lab-tests"]
    few = {p: _reads(app, client, clinic_a, p) for p in paths}
    few_timeline = _reads(app, client, clinic_a, f"/patients/{world['first'].pk}/timeline",
                          headers={"HX-Request": "true"})
    world["add"](10)
    login(client, clinic_a, world["doctor"].email)  # the frozen clock moved past the idle timeout
    assert {p: _reads(app, client, clinic_a, p) for p in paths} == few
    assert _reads(app, client, clinic_a, f"/patients/{world['first'].pk}/timeline",
                  headers={"HX-Request": "true"}) == few_timeline


def test_outstanding_list_query_uses_a_tenant_status_index(clinic_a, in_tenant):
    with in_tenant(clinic_a):
        plan = orders.outstanding()._query
        assert set(plan) == {"status", "tenantId"}
        index_keys = [list(i["fields"]) for i in LabOrder._meta["index_specs"]]
        assert [("tenantId", 1), ("status", 1), ("orderedAt", 1)] in index_keys


def test_order_result_and_report_pages_cost_the_same_with_two_tests_or_fourteen(app, client, clinic_a, in_tenant):
    """An order page reads its results in one query, whatever the number of tests (no per-row lookups)."""
    with in_tenant(clinic_a):
        doctor = make_user("Doctor", email="doc@clinica.test")
        p = lf.patient()
        small = lf.resulted(p, doctor, {"K": "4.0", "NA": "140"})
        codes = ["GLU", "BUN", "CREA", "NA", "K", "CL", "CO2", "CA", "ALB", "TP", "ALP", "ALT", "AST", "TBIL"]
        big = lf.resulted(p, doctor, {c: "1" for c in codes})
        pending_small = lf.collected(p, doctor, codes=("K", "NA"))
        pending_big = lf.collected(p, doctor, codes=tuple(codes))
    login(client, clinic_a, doctor.email)
    for template in ("/lab/orders/{}", "/lab/orders/{}/report"):
        assert _reads(app, client, clinic_a, template.format(small.pk)) == \
            _reads(app, client, clinic_a, template.format(big.pk)), template
    assert _reads(app, client, clinic_a, f"/lab/orders/{pending_small.pk}/results") == \
        _reads(app, client, clinic_a, f"/lab/orders/{pending_big.pk}/results")
