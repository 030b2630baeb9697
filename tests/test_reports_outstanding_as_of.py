"""Outstanding balances as of a past day: what was due at the end of that day, whatever was paid,
refunded, credited or voided since (the aged-debtors report an accountant runs at month end)."""
from datetime import date

from clinic_app.models import Invoice
from clinic_app.services.billing import credit_notes, invoices, payments
from clinic_app.services.reports import outstanding

from . import billing_factories as f
from .conftest import T0
from .support import CountQueries

DAY1, DAY2 = date(2026, 3, 2), date(2026, 3, 3)


def _rows(as_of):
    report = outstanding.run(as_of, as_of, page=1)
    return {row["number"]: sum(row[key] for key, _, _ in outstanding.BUCKETS) for row in report.rows}, report.totals


def _world(frozen_clock):
    """Issued on day 1: A 100.00, B 50.00 (20.00 paid that day), C 40.00, D 60.00, E 10.00, F 30.00 (paid in
    full that day). On day 2: A paid, B's 30.00 paid, C voided, D credited in full, F refunded 15.00."""
    admin = f.admin()
    made = {}
    for name, price in (("A", 10000), ("B", 5000), ("C", 4000), ("D", 6000), ("E", 1000), ("F", 3000)):
        made[name] = f.issued(f.patient(last=f"Row{name}"), admin, f.line(f"Item {name}", 1, price))
    f.paid(made["B"], 2000)
    f_payment, _ = f.paid(made["F"], 3000)
    frozen_clock.advance(days=1)
    fresh = {k: Invoice.objects.get(pk=v.pk) for k, v in made.items()}
    f.paid(fresh["A"], 10000)
    f.paid(fresh["B"], 3000)
    invoices.void(fresh["C"], "Billed to the wrong patient", admin)
    credit_notes.issue(fresh["D"], "Not performed", admin)
    payments.refund(Invoice.objects.get(pk=made["F"].pk), f_payment, 1500, "method", "Partly refunded", admin)
    return {k: v.number for k, v in made.items()}


def test_a_past_day_shows_what_was_due_then(in_tenant, clinic_a, frozen_clock):
    with in_tenant(clinic_a):
        n = _world(frozen_clock)
        then, then_totals = _rows(DAY1)
        now, now_totals = _rows(DAY2)
    assert then == {n["A"]: 10000, n["B"]: 3000, n["C"]: 4000, n["D"]: 6000, n["E"]: 1000}  # F was paid up
    assert then_totals["b0_30"] == 24000 and then_totals["total"] == 10000 + 5000 + 4000 + 6000 + 1000
    assert now == {n["E"]: 1000, n["F"]: 1500}  # the refund opened F again on day 2
    assert now_totals["b0_30"] == 2500 and now_totals["total"] == 1000 + 3000


def test_the_page_and_the_csv_agree_with_the_service(client, clinic_a, login_as, in_tenant, frozen_clock):
    with in_tenant(clinic_a):
        n = _world(frozen_clock)
    login_as(clinic_a, "Accountant")
    page = client.get("/reports/outstanding?to=2026-03-02", tenant=clinic_a).get_data(as_text=True)
    assert page.count('data-col="number"') == 5 and 'data-total="b0_30">$240.00' in page
    assert "balance due at the end of that day" in page
    csv = client.get("/reports/outstanding.csv?to=2026-03-02", tenant=clinic_a).get_data(as_text=True)
    assert n["A"] in csv and n["F"] not in csv


def test_a_past_day_costs_the_same_reads_however_many_invoices_are_open(app, client, clinic_a, login_as, in_tenant,
                                                                        frozen_clock):
    with in_tenant(clinic_a):
        _world(frozen_clock)
    login_as(clinic_a, "Accountant")

    def page():
        with CountQueries(app) as q:
            body = client.get("/reports/outstanding?to=2026-03-02", tenant=clinic_a).get_data(as_text=True)
        return body, q.reads

    _, few = page()
    with in_tenant(clinic_a):
        p = f.patient(last="More")
        Invoice.objects.insert([
            Invoice(patient=p, patient_name=p.full_name, record_number=p.record_number, currency="USD",
                    number=f"INV-2026-9{i:05d}", status="issued", total=500, balance=500, issued_at=T0)
            for i in range(60)], load_bulk=False)
    body, many = page()
    assert body.count('data-col="number"') == outstanding.PER_PAGE and 'rel="next"' in body
    assert many == few
