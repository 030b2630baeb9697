"""The stock counts on the dashboard of the roles that manage stock: right, and cheap (kept in Redis for a
minute, dropped by every stock or catalogue change, so a page never shows numbers its own action changed)."""
import pytest

from clinic_app.localtime import clinic_settings
from clinic_app.services.pharmacy import catalogue, stock

from . import pharmacy_factories as f
from .support import CountQueries, make_user


@pytest.fixture
def shelf(clinic_a, in_tenant):
    """Low: cetirizine (none on hand) and amoxicillin (8 usable <= 10); expiring: AMX-SOON; expired: AMX-OLD."""
    with in_tenant(clinic_a):
        amox = f.medicine(reorder=10)
        para = f.medicine("Paracetamol", "paracetamol", "tablet", "500 mg", reorder=10)
        f.medicine("Cetirizine", "cetirizine", "tablet", "10 mg", reorder=5)
        f.batch(amox, "AMX-SOON", 8, 30)
        old = f.batch(amox, "AMX-OLD", 50, -3)  # expired stock does not count as usable
        f.batch(para, "PAR-1", 100, 400)
        return {"amox": amox, "para": para, "old": old}


def test_the_counts_are_right_and_shown_to_the_roles_that_manage_stock(client, clinic_a, login_as, shelf):
    login_as(clinic_a, "Medical Representative")
    page = client.get("/", tenant=clinic_a).get_data(as_text=True)
    assert 'data-count="low"><strong>2<' in page and 'data-count="expiring"><strong>1<' in page
    assert 'data-count="expired"><strong>1<' in page
    login_as(clinic_a, "Doctor")
    assert 'id="pharmacy-counts"' not in client.get("/", tenant=clinic_a).get_data(as_text=True)


def test_the_counts_cost_no_database_read_while_cached_and_follow_every_change(app, clinic_a, in_tenant, shelf):
    with in_tenant(clinic_a), app.test_request_context():
        clinic_settings()  # as on a page: the settings are read once per request anyway
        with CountQueries(app) as first:
            assert stock.counts() == {"low": 2, "expiring": 1, "expired": 1}
        with CountQueries(app) as again:
            assert stock.counts() == {"low": 2, "expiring": 1, "expired": 1}
        assert first.reads == 4 and again.reads == 0
        user = make_user("Medical Representative")
        stock.write_off(shelf["old"], user)
        assert stock.counts()["expired"] == 0
        f.batch(shelf["amox"], "AMX-NEW", 40, 500)
        assert stock.counts()["low"] == 1
        catalogue.update(shelf["para"], {**{k: getattr(shelf["para"], k) for k in catalogue.FIELDS},
                                         "reorder_level": 1000})
        assert stock.counts()["low"] == 2
        catalogue.set_active(shelf["para"], False)
        assert stock.counts()["low"] == 1
        assert stock.counts() == stock.compute_counts()


def test_the_dashboard_costs_the_same_with_a_bigger_catalogue(app, client, clinic_a, login_as, in_tenant, shelf):
    login_as(clinic_a, "Medical Representative")

    def reads():
        client.get("/", tenant=clinic_a)  # warm: the counts are cached by the first load after a change
        with CountQueries(app) as q:
            assert client.get("/", tenant=clinic_a).status_code == 200
        return q.reads

    few = reads()
    with in_tenant(clinic_a):
        for i in range(15):
            m = f.medicine(f"Drug{i}", f"generic{i}", reorder=3)
            f.batch(m, f"L{i}", 5, 20 + i)
    assert reads() == few
