"""One list toolkit: paginate() -> Page, the pager macro, page_url(); a page costs O(page), not O(clinic)."""
from datetime import timedelta

import pytest

from clinic_app import clock
from clinic_app.models import AuditEvent, OutboundMessage, Patient, User, Visit
from clinic_app.pagination import MAX_PAGE, Page, paginate
from tests.support import CountQueries


def test_a_page_reads_one_row_more_than_it_shows_to_know_of_a_next_page():
    rows = list(range(60))
    first = paginate(rows, 1, 25)
    assert first.items == rows[:25] and first.has_next and not first.has_prev
    assert first.total is None and first.known_total is None and first.pages is None
    last = paginate(rows, 3, 25)
    assert last.items == rows[50:] and not last.has_next and last.has_prev
    assert last.known_total == 60 and last.pages == 3 and (last.first, last.last) == (51, 60)


def test_a_page_past_the_end_is_the_last_page_and_odd_numbers_are_clamped():
    rows = list(range(30))
    assert paginate(rows, 99, 25).number == 2 and paginate(rows, 99, 25).items == rows[25:]
    assert paginate(rows, -3, 25).number == 1 and paginate(rows, 10 ** 30, 25).number == 2
    assert paginate([], 5, 25) == Page([], 1, 25, False, None)
    assert paginate(rows, MAX_PAGE + 1, 10).number == 3


def test_counting_is_asked_for():
    counted = paginate(list(range(30)), 1, 25, count=True)
    assert counted.total == 30 and counted.pages == 2 and counted.has_next


class _Sliceable:
    """Anything with slicing and count() pages too (the console pages the RQ failed registry so)."""

    def __init__(self, n):
        self.rows, self.counted = list(range(n)), 0

    def __getitem__(self, span):
        return self.rows[span]

    def count(self):
        self.counted += 1
        return len(self.rows)


def test_a_sliceable_source_is_counted_only_when_asked_or_past_the_end():
    source = _Sliceable(40)
    assert paginate(source, 2, 25).items == list(range(25, 40)) and source.counted == 0
    paginate(source, 9, 25)
    assert source.counted == 1


# -- list pages: no count over the clinic ------------------------------------------------------


def _seed(in_tenant, clinic, n, offset=0):
    """n patients, visits, audit events and emails after the first `offset` of each."""
    now = clock.now()
    with in_tenant(clinic):
        admin = User.objects.get(email=f"admin@{clinic.subdomain}.test")
        span = range(offset, offset + n)
        patients = Patient.objects.insert([Patient(record_number=f"P{i:06d}", first_name=f"Pat{i:03d}",
                                                   last_name="Smith", allergies=[]) for i in span])
        Visit.objects.insert([Visit(patient=p, provider=admin, started_at=now - timedelta(minutes=i))
                              for i, p in zip(span, patients)])
        AuditEvent.objects.insert([AuditEvent(action="thing.done", changes={}, at=now - timedelta(minutes=i))
                                   for i in span])
        OutboundMessage.objects.insert([
            OutboundMessage(key=f"k{i}", kind="welcome", to=f"p{i}@example.test", subject="Hi", text_body="x",
                            message_id=f"<m{i}@x>", status="sent", created_at=now - timedelta(minutes=i))
            for i in span])


LIST_PAGES = ["/patients/", "/patients/?q=smith", "/visits/", "/visits/?status=draft", "/visits/?page=2",
              "/audit/", "/messages/", "/api/v1/patients"]


def _reads(app, client, clinic, path):
    with CountQueries(app) as q:
        response = client.get(path, tenant=clinic)
        assert response.status_code == 200, (path, response.status_code)
    assert "count" not in q.names, (path, q.names)  # no count over the clinic's whole list
    return q.reads


@pytest.mark.parametrize("path", LIST_PAGES)
def test_a_list_page_runs_no_count_and_costs_the_same_at_any_size(app, client, clinic_a, login_as, in_tenant,
                                                                  path):
    login_as(clinic_a, "Admin")
    _seed(in_tenant, clinic_a, 60)
    small = _reads(app, client, clinic_a, path)
    _seed(in_tenant, clinic_a, 140, offset=60)
    assert _reads(app, client, clinic_a, path) == small


def test_the_patient_list_shows_what_it_knows_without_counting(client, clinic_a, login_as, in_tenant):
    login_as(clinic_a, "Admin")
    _seed(in_tenant, clinic_a, 30)
    first = client.get("/patients/", tenant=clinic_a).get_data(as_text=True)
    assert "Showing 1–25 of more than 25 patients" in first and "data-total" not in first
    assert 'rel="next"' in first and "<span>Page 1</span>" in first
    second = client.get("/patients/?page=2", tenant=clinic_a).get_data(as_text=True)
    assert 'data-total="30"' in second and "30 patients" in second
    assert 'rel="prev"' in second and 'rel="next"' not in second


def test_the_pager_keeps_the_filters_and_swaps_the_results(client, clinic_a, login_as, in_tenant):
    login_as(clinic_a, "Admin")
    _seed(in_tenant, clinic_a, 30)
    html = client.get("/patients/?q=smith&archived=1", headers={"HX-Request": "true"},
                      tenant=clinic_a).get_data(as_text=True)
    pager = html.split('id="patient-pager"')[1].split("</nav>")[0]
    assert 'hx-target="#patient-results"' in pager and "q=smith" in pager and "archived=1" in pager
    assert "page=2" in pager


def test_the_console_keeps_its_exact_clinic_count(app, client):
    """Operators filter clinics by state and need how many match: the console counts tenants (not a clinic's rows)."""
    from clinic_app.services import platform as svc
    from tests.support import make_tenant

    with app.app_context():
        for i in range(27):
            make_tenant(f"clinic{i:02d}", f"Clinic {i:02d}")
        page = svc.clinic_page()
    assert page.total == 27 and page.pages == 2 and len(page.items) == 25 and page.has_next
