"""What walking the billing and report pages in a browser found: htmx redirects that did not reload the
invoice, a visit's line that could not be edited, a price list item's tax lost, report filters that
failed as fragments, unbounded outstanding list, unclear refusals, and the printed figures."""
import re
from datetime import timedelta

import pytest
from bson import ObjectId

from clinic_app.models import Invoice
from clinic_app.services.billing import invoices, payments
from clinic_app.services.reports import REPORTS, outstanding
from tests import billing_factories as f
from tests.support import CountQueries, make_user, run_jobs

HX = {"HX-Request": "true"}


def _from_page(path, anchor=""):
    """The headers htmx sends for a form posted from `path` (a boosted page)."""
    return {**HX, "HX-Boosted": "true", "HX-Current-URL": f"http://clinica.localhost:5000{path}{anchor}"}


@pytest.fixture
def visit(clinic_a, in_tenant):
    with in_tenant(clinic_a):
        return f.billable_visit()


def test_a_change_made_on_the_invoice_page_reloads_it(client, clinic_a, login_as, in_tenant, frozen_clock):
    """HX-Redirect to the page's own address plus #lines is a same-document jump in the browser: the page
    kept showing the old lines (and a second click added the line twice). HX-Refresh makes it reload."""
    login_as(clinic_a, "Receptionist")
    with in_tenant(clinic_a):
        inv = f.draft()
    path = f"/invoices/{inv.pk}"
    line = {"description": "Sling", "quantity": "1", "unit_price": "1.50", "tax_rate": "0"}
    for anchor in ("", "#lines"):
        added = client.post(f"{path}/lines", data=line, headers=_from_page(path, anchor), tenant=clinic_a)
        assert added.status_code == 200 and added.headers["HX-Redirect"] == f"{path}#lines"
        assert added.headers["HX-Refresh"] == "true"
    removed = client.post(f"{path}/lines/1/remove", headers=_from_page(path, "#lines"), tenant=clinic_a)
    assert removed.headers["HX-Refresh"] == "true"
    # From another page (the line's edit page) the redirect is a real load: no refresh needed.
    edited = client.post(f"{path}/lines/0", data={**line, "description": "Sling, large"},
                         headers=_from_page(f"{path}/lines/0"), tenant=clinic_a)
    assert edited.headers["HX-Redirect"] == f"{path}#lines" and "HX-Refresh" not in edited.headers
    with in_tenant(clinic_a):
        assert [ln.description for ln in Invoice.objects.get(pk=inv.pk).lines] == ["Sling, large", "Sling"]


def test_a_refused_form_on_the_invoice_page_keeps_the_invoice_address(client, clinic_a, login_as, in_tenant):
    """A boosted POST to /invoices/<id>/lines that is refused shows the invoice page; htmx must push the
    invoice's address, not the POST-only one (reloading that answered 405)."""
    login_as(clinic_a, "Receptionist")
    with in_tenant(clinic_a):
        inv = f.draft()
    path = f"/invoices/{inv.pk}"
    refused = client.post(f"{path}/lines", data={"description": "x", "quantity": "0"}, headers=_from_page(path),
                          tenant=clinic_a)
    assert refused.status_code == 422 and refused.headers["HX-Push-Url"] == path
    credit = client.post(f"{path}/apply-credit", data={"amount": "x"}, headers=_from_page(f"{path}/payments/new"),
                         tenant=clinic_a)
    assert credit.status_code == 422 and credit.headers["HX-Push-Url"] == f"{path}/payments/new"


def test_a_visit_line_is_edited_with_only_the_fields_the_page_enables(client, clinic_a, login_as, in_tenant, visit):
    """The page disables description, quantity and price of a visit's line, so a browser sends only the
    discount and the tax: that used to fail with "Enter a number" for the quantity."""
    login_as(clinic_a, "Receptionist")
    with in_tenant(clinic_a):
        inv = invoices.create_from_visit(visit, f.admin())
    page = client.get(f"/invoices/{inv.pk}/lines/1", tenant=clinic_a).get_data(as_text=True)
    assert re.search(r'<input[^>]*\bdisabled\b[^>]*name="quantity"', page)
    response = client.post(f"/invoices/{inv.pk}/lines/1", data={"discount_kind": "percent", "discount_value": "10",
                                                                 "tax_rate": "2000"}, tenant=clinic_a)
    assert response.status_code == 303
    with in_tenant(clinic_a):
        line = Invoice.objects.get(pk=inv.pk).lines[1]
    assert (line.quantity, line.unit_price, line.discount, line.net, line.tax) == (4, 250, 100, 900, 180)


def test_a_price_list_line_takes_the_items_tax_rate_unless_another_is_chosen(client, clinic_a, login_as, in_tenant):
    """The tax select always sends a value, so "0" (No tax) used to win over the item's own 20%."""
    login_as(clinic_a, "Receptionist")
    with in_tenant(clinic_a):
        f.set_billing(tax_rates=[{"name": "VAT", "rate": 2000}, {"name": "Reduced", "rate": 500}])
        cert = f.price_item("CERT", "Certificate", 2000, 2000, kind="other", default=False)
        inv = f.draft(None, None, f.line("A", 1, 100))
    page = client.get(f"/invoices/{inv.pk}", tenant=clinic_a).get_data(as_text=True)
    assert re.search(r'<select id="tax_rate" name="tax_rate"><option value="">As on the price list', page)
    for tax, rate in (("", 2000), ("500", 500), ("0", 0)):
        assert client.post(f"/invoices/{inv.pk}/lines", data={"price_item_id": str(cert.pk), "quantity": "1",
                                                              "tax_rate": tax}, tenant=clinic_a).status_code == 303
        with in_tenant(clinic_a):
            assert Invoice.objects.get(pk=inv.pk).lines[-1].tax_rate == rate
    # Free text with the default choice has no tax.
    client.post(f"/invoices/{inv.pk}/lines", data={"description": "Misc", "quantity": "1", "unit_price": "1",
                                                   "tax_rate": ""}, tenant=clinic_a)
    with in_tenant(clinic_a):
        assert Invoice.objects.get(pk=inv.pk).lines[-1].tax_rate == 0


def test_every_report_filter_answers_a_fragment_with_its_figures(client, clinic_a, login_as, in_tenant, frozen_clock):
    """The filter form swaps the report block alone; its cell macro lived outside the block: 500."""
    login_as(clinic_a, "Accountant")
    with in_tenant(clinic_a):
        f.paid(f.issued(None, None, f.line("X", 1, 12345)), 2345)
    for name in REPORTS:
        response = client.get(f"/reports/{name}?from=2026-03-01&to=2026-03-02", headers=HX, tenant=clinic_a)
        body = response.get_data(as_text=True)
        assert response.status_code == 200, name
        assert "<html" not in body and 'id="report-area"' in body and 'id="report-filters"' in body, name
    body = client.get("/reports/day_end?from=2026-03-02&to=2026-03-02", headers=HX, tenant=clinic_a).get_data(
        as_text=True)
    assert "$23.45" in body and "$123.45" in body


def test_report_pages_ask_only_for_the_dates_they_read(client, clinic_a, login_as):
    login_as(clinic_a, "Accountant")
    revenue = client.get("/reports/revenue", tenant=clinic_a).get_data(as_text=True)
    assert 'id="from"' in revenue and 'id="to"' in revenue
    aged = client.get("/reports/outstanding?from=2026-12-31&to=2026-03-02", tenant=clinic_a)
    assert aged.status_code == 200  # "from" is not read: no "to before from" refusal
    assert 'id="from"' not in aged.get_data(as_text=True) and "As of" in aged.get_data(as_text=True)
    stock = client.get("/reports/stock_value", tenant=clinic_a).get_data(as_text=True)
    assert 'id="from"' not in stock and 'id="to"' not in stock and "As it stands now" in stock


def _open_invoices(n, now, first=1):
    """`n` open invoices (issued, 10.00 due each, one a day back from `now`), inserted in bulk."""
    p = f.patient(last=f"Row{first}")
    Invoice.objects.insert([
        Invoice(id=ObjectId(), patient=p, patient_name=p.full_name, record_number=p.record_number, currency="USD",
                number=f"INV-2026-{first + i:06d}", status="issued", total=1000, balance=1000, created_at=now,
                issued_at=now - timedelta(days=i)) for i in range(n)], load_bulk=False)


def test_outstanding_pages_its_rows_and_totals_them_all(app, client, clinic_a, login_as, in_tenant, frozen_clock):
    """Every open invoice counts (no date range bounds it): the page reads one page of rows, the totals
    come from one aggregation, and the cost of a page does not grow with the clinic."""
    login_as(clinic_a, "Accountant")
    with in_tenant(clinic_a):
        _open_invoices(outstanding.PER_PAGE + 5, frozen_clock.now())

    def page(n):
        with CountQueries(app) as q:
            response = client.get(f"/reports/outstanding?page={n}", tenant=clinic_a)
        assert response.status_code == 200
        return response.get_data(as_text=True), q.reads

    first, reads = page(1)
    assert first.count('data-col="number"') == outstanding.PER_PAGE and 'rel="next"' in first
    assert "Total (all pages)" in first and 'data-total="b0_30">$310.00' in first  # 31 of them 0-30 days old
    assert 'data-total="b90">$0.00' in first and 'data-total="total">$550.00' in first
    second, _ = page(2)
    assert second.count('data-col="number"') == 5 and 'rel="prev"' in second
    with in_tenant(clinic_a):
        _open_invoices(100, frozen_clock.now() - timedelta(days=200), first=1000)
    assert page(1)[1] == reads
    csv = client.get("/reports/outstanding.csv", tenant=clinic_a).get_data(as_text=True)
    assert csv.count("\r\nINV-2026-") == outstanding.PER_PAGE + 5 + 100  # the CSV has every row


def test_outstanding_as_of_a_past_day_leaves_out_later_invoices(client, clinic_a, login_as, in_tenant,
                                                                frozen_clock):
    login_as(clinic_a, "Accountant")
    with in_tenant(clinic_a):
        _open_invoices(3, frozen_clock.now())  # issued today, yesterday, the day before
    body = client.get("/reports/outstanding?to=2026-03-01", tenant=clinic_a).get_data(as_text=True)
    assert body.count('data-col="number"') == 2 and 'data-total="total">$20.00' in body


def test_deleting_a_payment_whose_credit_was_used_says_why_not(client, clinic_a, login_as, in_tenant, frozen_clock):
    login_as(clinic_a, "Admin")
    with in_tenant(clinic_a):
        p = f.patient()
        first = f.issued(p, None, f.line("A", 1, 1000))
        overpaid, _ = f.paid(first, 1500)  # 5.00 kept as credit
        payments.apply_credit(f.issued(p, None, f.line("B", 1, 500)), 500, f.admin())
    response = client.post(f"/invoices/payments/{overpaid.pk}/delete", data={"reason": "typed twice"},
                           tenant=clinic_a)
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and "$5.00 of this payment went to the patient" in body
    assert "Record a refund instead" in body


def test_the_printed_invoice_shows_what_of_a_payment_went_to_credit(client, clinic_a, login_as, in_tenant, app,
                                                                   mail, frozen_clock):
    login_as(clinic_a, "Receptionist")
    with in_tenant(clinic_a):
        p = f.patient(email="maria@example.test")
        inv = f.issued(p, None, f.line("A", 1, 1000))
        overpaid, _ = f.paid(inv, 1500)
    printed = client.get(f"/invoices/{inv.pk}/print", tenant=clinic_a).get_data(as_text=True)
    assert "$15.00" in printed and "of which $5.00 kept as credit" in printed
    assert "No tax" not in printed  # a lone 0% row says nothing
    client.post(f"/invoices/payments/{overpaid.pk}/email", tenant=clinic_a)
    run_jobs(app)
    text = [m for m in mail() if m["To"] == "maria@example.test"][0].get_body(("plain",)).get_content()
    assert "Date:            2026-03-02 09:00" in text and "Kept as credit for your next visit: $5.00" in text


def test_each_report_page_costs_the_same_queries_whatever_its_rows(app, client, clinic_a, login_as, in_tenant,
                                                                  frozen_clock):
    """Range reports read their range with a fixed number of aggregations (bounded by the dates: at most two
    years); nothing is looked up row by row."""
    login_as(clinic_a, "Accountant")

    def reads():
        out = {}
        for name in REPORTS:
            with CountQueries(app) as q:
                assert client.get(f"/reports/{name}?from=2026-03-01&to=2026-03-02", tenant=clinic_a).status_code == 200
            out[name] = q.reads
        return out

    with in_tenant(clinic_a):
        f.paid(f.issued(None, None, f.line("A", 1, 1000)), 500)
    few = reads()
    with in_tenant(clinic_a):
        doctor = make_user("Doctor", email="doc2@clinica.test")
        for i in range(5):
            p = f.patient(f"P{i}", "Many")
            inv = invoices.finalise(invoices.create_draft(p, doctor, visit=f.visit(p, doctor),
                                                          lines=[f.line(f"Item {i}", 1, 700)]), doctor)
            f.paid(inv, 700 + i, method=("cash", "card")[i % 2], user=doctor)
    assert reads() == few


def test_the_api_pages_outstanding_balances_too(client, clinic_a, login_as, in_tenant, frozen_clock):
    login_as(clinic_a, "Accountant")
    with in_tenant(clinic_a):
        _open_invoices(outstanding.PER_PAGE + 1, frozen_clock.now())
    first = client.get("/api/v1/reports/outstanding", tenant=clinic_a).json
    assert len(first["data"]["rows"]) == outstanding.PER_PAGE and first["meta"]["has_next"] is True
    assert first["data"]["totals"]["total"] == (outstanding.PER_PAGE + 1) * 1000
    second = client.get("/api/v1/reports/outstanding?page=2", tenant=clinic_a).json
    assert len(second["data"]["rows"]) == 1 and second["meta"]["has_next"] is False
    assert "meta" not in client.get("/api/v1/reports/revenue", tenant=clinic_a).json
