"""A day with every kind of money movement: every report tells the same story, to the cent."""
import csv
import io
from datetime import date, datetime, timedelta, timezone

import pytest

from clinic_app.models import Invoice, PatientCredit
from clinic_app.services import reports
from clinic_app.services.billing import credit_notes, invoices, payments
from clinic_app.services.pharmacy import dispensing
from clinic_app.services.reports.common import csv_lines
from tests import billing_factories as f
from tests import lab_factories as lf
from tests import pharmacy_factories as pf
from tests.support import make_user

DAY = date(2026, 3, 2)


@pytest.fixture
def busy_day(clinic_a, in_tenant, frozen_clock):
    """Clinic in New York; every movement between 08:00 and 23:30 local time on DAY."""
    frozen_clock.set(datetime(2026, 3, 2, 13, 0, tzinfo=timezone.utc))  # 08:00 in New York
    with in_tenant(clinic_a):
        f.set_billing(timezone="America/New_York", tax_rates=[{"name": "VAT", "rate": 2000}])
        doctor = make_user("Doctor", email="doc@clinica.test", name="Dr Who")
        doctor2 = make_user("Doctor", email="doc2@clinica.test", name="Dr Ada")
        clerk = make_user("Receptionist", email="desk@clinica.test", name="Desk Person")
        f.price_item("CONS", "Consultation", 5000, 2000)
        med = pf.medicine(price=250)
        pf.batch(med, "L1", 100, user=doctor, cost=100)
        people = [f.patient(f"P{i}", "Day") for i in range(6)]

        def visit_invoice(p, doc, qty=2):
            v = f.visit(p, doc)
            dispensing.dispense(pf.prescription(v, doc, pf.row(med, quantity=qty)), 0, qty, doc)
            lf.order(p, doc, codes=("K",), visit=v)
            return invoices.finalise(invoices.create_from_visit(v, clerk), clerk)

        a = visit_invoice(people[0], doctor)                         # 60.00 + 5.00 + 6.00 = 71.00
        payments.record_payment(a, 3000, "cash", clerk)
        frozen_clock.advance(hours=1)
        payments.record_payment(Invoice.objects.get(pk=a.pk), 4100, "card", clerk)   # paid
        b = visit_invoice(people[1], doctor2, qty=1)                  # 68.50
        payments.record_payment(b, 10000, "cash", clerk)               # overpaid: 31.50 to credit
        c = f.issued(people[1], clerk, f.line("Dressing", 1, 2000))   # hand-made, no practitioner
        payments.apply_credit(c, 2000, clerk)                          # paid from credit
        d = f.issued(people[2], clerk, f.line("Mistake", 1, 9999))
        invoices.void(d, "Wrong patient", f.admin())
        e = visit_invoice(people[3], doctor)
        card, e = payments.record_payment(e, 7100, "card", clerk)
        _, e = credit_notes.issue(e, "Lab not done", f.admin(), {2: 1})  # credit the 6.00 lab line
        _, e = payments.refund(e, card, 400, "method", "Lab not done", f.admin())
        _, e = payments.refund(e, card, 200, "credit", "Keep for later", f.admin())
        g = f.issued(people[4], clerk, f.line("Typo", 1, 1500))
        wrong, g = payments.record_payment(g, 1500, "cash", clerk)
        payments.delete_payment(wrong, "Typed on the wrong invoice", f.admin())
        h = f.issued(people[5], clerk, f.line("Unpaid", 3, 1000, 2000))  # stays open
        frozen_clock.set(datetime(2026, 3, 3, 4, 30, tzinfo=timezone.utc))  # 23:30 local, still DAY
        payments.record_payment(Invoice.objects.get(pk=h.pk), 1000, "bank_transfer", clerk)
        frozen_clock.set(datetime(2026, 3, 3, 5, 30, tzinfo=timezone.utc))  # 00:30 on the next day: not DAY
        payments.record_payment(Invoice.objects.get(pk=h.pk), 500, "cash", clerk)
    return clinic_a


def test_every_report_agrees_for_a_day_with_every_kind_of_movement(in_tenant, busy_day):
    with in_tenant(busy_day):
        day_end = reports.run("day_end", DAY, DAY)
        s = day_end.options["summary"]
        revenue = reports.run("revenue", DAY, DAY, period="day")
        service = reports.run("by_service", DAY, DAY)
        people = reports.run("by_practitioner", DAY, DAY)
        outstanding = reports.run("outstanding", DAY, DAY)
        dispensed = reports.run("dispensed", DAY, DAY)

        # The day's movements, worked out by hand.
        assert s["invoiced"] == 7100 + 6850 + 2000 + 9999 + 7100 + 1500 + 3600
        assert (s["voided"], s["credit_notes"]) == (9999, 600)
        assert s["received"] == 3000 + 4100 + 10000 + 7100 + 1000  # the deleted 15.00 and the next day's 5.00 not
        assert (s["refunded"], s["refunded_to_credit"], s["credit_applied"]) == (400, 200, 2000)
        assert s["net_collected"] == s["received"] - 400
        assert s["cash_expected"] == 3000 + 10000

        # Revenue by period says the same.
        t = revenue.totals
        assert (t["invoiced"], t["credit_notes"], t["voided"]) == (s["invoiced"], s["credit_notes"], s["voided"])
        assert t["net_invoiced"] == s["net_invoiced"] == s["invoiced"] - 600 - 9999
        assert (t["received"], t["refunded"], t["net_collected"]) == (s["received"], s["refunded"], s["net_collected"])
        # By service and by practitioner add up to the invoiced and collected totals.
        assert service.totals["total"] == s["invoiced"]
        assert sum(r["invoiced"] for r in people.rows) == s["invoiced"]
        assert sum(r["credit_notes"] for r in people.rows) == s["credit_notes"]
        assert sum(r["voided"] for r in people.rows) == s["voided"]
        assert sum(r["net_collected"] for r in people.rows) == s["net_collected"]
        by_name = {r["practitioner"]: r for r in people.rows}
        assert by_name["Dr Ada"]["invoiced"] == 6850 and by_name["Dr Ada"]["net_collected"] == 10000
        # The day-end's own breakdowns add up to its totals.
        rows = day_end.rows
        assert sum(r["amount"] for r in rows if r["section"] == "Received by method") == s["received"]
        assert sum(r["amount"] for r in rows if r["section"] == "Received by staff member") == s["received"]
        assert sum(r["amount"] for r in rows if r["section"] == "Refunded by method") == s["refunded"]
        deleted = next(r for r in rows if r["item"] == "Payments deleted")
        assert (deleted["count"], deleted["amount"]) == (1, 1500)
        # Medicines dispensed that day were all billed: the stock report and the invoices agree.
        meds = [r for r in service.rows if r["kind"] == "Medicine"]
        assert sum(r["quantity"] for r in meds) == dispensed.totals["quantity"] == 5
        assert sum(r["net"] for r in meds) == dispensed.totals["value"] == 1250

        # What is still owed is what was invoiced less everything that settled it.
        invoices_now = list(Invoice.objects(status__nin=["draft", "void"]))  # a void invoice owes nothing
        assert all(i.balance == i.total - i.paid - i.credit_applied - i.credited for i in invoices_now)
        open_balance = sum(i.balance for i in invoices_now)
        excess = 10000 - 6850  # B's overpayment
        applied_cash = s["net_collected"] - excess  # money received that went onto invoices
        next_day = 500  # paid after midnight: tomorrow's money, already off today's invoice
        assert open_balance == (s["net_invoiced"] - (applied_cash - s["refunded_to_credit"]) - s["credit_applied"]
                                - next_day)
        aged = sum(outstanding.totals[k] for k in ("b0_30", "b31_60", "b61_90", "b90"))
        # Aged as of DAY: what was owed at its end, so the next day's 5.00 still counts as owed.
        assert aged == sum(i.balance for i in invoices_now if i.balance > 0 and i.status in ("issued", "partly_paid")
                           ) + next_day
        # Patient credit: the overpayment and the refund to credit, less what was used.
        assert sum(c.amount for c in PatientCredit.objects) == excess + 200 - 2000


def test_the_csv_says_what_the_page_says(in_tenant, busy_day):
    with in_tenant(busy_day):
        report = reports.run("revenue", DAY, DAY, period="day")
        lines = list(csv.reader(io.StringIO("".join(csv_lines(report)))))
    assert lines[0][:3] == ["Period starting", "Invoiced (accrual)", "Credit notes (accrual)"]
    assert lines[1][0] == "2026-03-02"
    assert lines[-1][0] == "Total" and lines[-1][1] == f"{report.totals['invoiced'] / 100:.2f}"


def test_the_next_day_in_the_clinics_zone_is_another_day(in_tenant, busy_day):
    with in_tenant(busy_day):
        s = reports.run("day_end", DAY + timedelta(days=1), DAY + timedelta(days=1)).options["summary"]
    assert (s["received"], s["cash_expected"], s["invoiced"]) == (500, 500, 0)
