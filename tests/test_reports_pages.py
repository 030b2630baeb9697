"""Report pages and CSV downloads: filters in the clinic's zone, CSV format and formula neutralisation,
streaming, access (Admin, Accountant) and clinics kept apart."""
import codecs
import csv
import io
from datetime import date

import pytest

from clinic_app.services import reports
from clinic_app.services.reports.common import Column, Report, csv_lines, neutralise
from tests import billing_factories as f


@pytest.mark.parametrize("text,safe", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
    ("+1+2", "'+1+2"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\tcmd", "'\tcmd"),
    ("\rcmd", "'\rcmd"),
    ("Maria = 1", "Maria = 1"),  # only a leading character is dangerous
    ("Ünïcødé ✓", "Ünïcødé ✓"),
    ("", ""),
])
def test_each_dangerous_first_character_is_neutralised(text, safe):
    assert neutralise(text) == safe


def test_csv_rows_neutralise_text_but_keep_negative_amounts_numbers():
    report = Report("x", "X", [Column("who", "Patient"), Column("on", "Date", "date"), Column("amount", "Amount",
                                                                                               "money")],
                    iter([{"who": "=cmd|' /C calc'!A0", "on": date(2026, 3, 2), "amount": -500},
                          {"who": "@Lopez", "on": None, "amount": 1234}]), totals={"amount": 734}, currency="JPY")
    chunks = csv_lines(report)
    assert hasattr(chunks, "__next__")  # a generator: rows are written as they are read
    rows = list(csv.reader(io.StringIO("".join(chunks))))
    assert rows == [["Patient", "Date", "Amount"], ["'=cmd|' /C calc'!A0", "2026-03-02", "-500"],
                    ["'@Lopez", "", "1234"], ["Total", "", "734"]]


def test_accountant_reads_reports_and_downloads_csv(client, clinic_a, login_as, in_tenant, frozen_clock):
    login_as(clinic_a, "Accountant")
    with in_tenant(clinic_a):
        p = f.patient("=Evil", "@Name")
        inv = f.issued(p, None, f.line("X", 1, 12345))
        f.paid(inv, 2345)
    page = client.get("/reports/", tenant=clinic_a).get_data(as_text=True)
    assert 'data-report="day_end"' in page and 'data-report="stock_low"' in page
    for name in reports.REPORTS:
        response = client.get(f"/reports/{name}?from=2026-03-01&to=2026-03-02", tenant=clinic_a)
        assert response.status_code == 200, name
    page = client.get("/reports/day_end?from=2026-03-02&to=2026-03-02", tenant=clinic_a).get_data(as_text=True)
    assert "Net cash expected in the till" in page and "$23.45" in page and "$123.45" in page
    fragment = client.get("/reports/revenue?from=2026-03-01&to=2026-03-02", headers={"HX-Request": "true"},
                          tenant=clinic_a)
    assert "<html" not in fragment.get_data(as_text=True) and "HX-Request" in fragment.headers["Vary"]
    response = client.get("/reports/outstanding.csv?from=2026-03-01&to=2026-03-02", tenant=clinic_a)
    assert response.status_code == 200 and response.mimetype == "text/csv" and response.is_streamed
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.get_data().startswith(codecs.BOM_UTF8)  # so Excel reads it as UTF-8
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert rows[0][:3] == ["Invoice", "Issued", "Patient"]
    assert rows[1][:4] == ["INV-2026-000001", "2026-03-02", "'=Evil @Name", "P000001"]
    assert rows[1][6] == "100.00" and rows[-1][0] == "Total"


@pytest.mark.parametrize("query,status", [
    ("from=2026-03-05&to=2026-03-01", 400), ("from=yesterday", 400), ("from=2020-01-01&to=2026-03-01", 400),
    ("period=year", 400),
])
def test_bad_filters_are_400(client, clinic_a, login_as, query, status):
    """The CSV and the API refuse them; the page shows the message beside the field (422, no report)."""
    login_as(clinic_a, "Accountant")
    assert client.get(f"/reports/revenue.csv?{query}", tenant=clinic_a).status_code == status
    assert client.get(f"/api/v1/reports/revenue?{query}", tenant=clinic_a).status_code == status
    page = client.get(f"/reports/revenue?{query}", tenant=clinic_a)
    body = page.get_data(as_text=True)
    assert page.status_code == 422 and 'class="error" id="' in body and 'id="report-table"' not in body


def test_unknown_report_is_404(client, clinic_a, login_as):
    login_as(clinic_a, "Admin")
    assert client.get("/reports/secrets", tenant=clinic_a).status_code == 404
    assert client.get("/reports/secrets.csv", tenant=clinic_a).status_code == 404


@pytest.mark.parametrize("role", ["Receptionist", "Doctor", "Nurse"])
def test_other_roles_cannot_read_reports(client, clinic_a, login_as, role):
    login_as(clinic_a, role)
    assert client.get("/reports/day_end", tenant=clinic_a).status_code == 403
    assert client.get("/reports/day_end.csv", tenant=clinic_a).status_code == 403


def test_reports_see_only_their_own_clinic(client, clinic_a, clinic_b, login_as, in_tenant, frozen_clock):
    with in_tenant(clinic_b):
        inv = f.issued(None, None, f.line("B only", 1, 99999))
        f.paid(inv, 99999)
    login_as(clinic_a, "Admin")
    page = client.get("/reports/day_end?from=2026-03-02&to=2026-03-02", tenant=clinic_a).get_data(as_text=True)
    assert "$999.99" not in page
    text = client.get("/reports/by_service.csv?from=2026-03-02&to=2026-03-02", tenant=clinic_a).get_data(as_text=True)
    assert "B only" not in text


def test_a_one_day_report_links_the_day_before_and_after_but_not_past_today(client, clinic_a, login_as,
                                                                           frozen_clock):
    login_as(clinic_a, "Accountant")
    today = client.get("/reports/day_end", tenant=clinic_a).get_data(as_text=True)  # today: 2026-03-02
    assert 'href="/reports/day_end?from=2026-03-01&amp;to=2026-03-01"' in today and 'rel="next"' not in today
    before = client.get("/reports/day_end?from=2026-02-27&to=2026-02-27", tenant=clinic_a).get_data(as_text=True)
    assert 'rel="prev"' in before and 'href="/reports/day_end?from=2026-02-28&amp;to=2026-02-28"' in before
    as_of = client.get("/reports/outstanding?to=2026-03-01", tenant=clinic_a).get_data(as_text=True)
    assert 'href="/reports/outstanding?to=2026-02-28"' in as_of and 'href="/reports/outstanding?to=2026-03-02"' in as_of
    ranged = client.get("/reports/revenue?from=2026-03-01&to=2026-03-02", tenant=clinic_a).get_data(as_text=True)
    assert 'id="report-days"' not in ranged
