"""Demo billing data: a month of invoices from the demo clinic's visits, gap-free numbers, one void,
a credit note with its refund, drafts, patient credit; every report has numbers; seeding twice adds nothing."""
import random
import time
from datetime import datetime, timedelta, timezone

import pytest

from clinic_app.models import BillingClaim, CreditNote, Invoice, Payment, PatientCredit
from clinic_app.services import demo_billing, reports
from clinic_app.services.billing import invoices, sources
from clinic_app.services.demo import seed_demo
from clinic_app.tenancy import tenant_context
from tests import billing_factories as f

NOW = datetime(2026, 3, 4, 19, 0, tzinfo=timezone.utc)


@pytest.fixture
def demo_clinic(app, frozen_clock):
    frozen_clock.set(NOW)
    with app.app_context():
        tenant, _ = seed_demo()
        with tenant_context(tenant):
            started = time.monotonic()
            demo_billing.seed(tenant, random.Random(7), NOW)
            elapsed = time.monotonic() - started
    assert elapsed < 10, elapsed
    return tenant


def test_demo_billing_is_a_month_of_consistent_invoices(app, demo_clinic):
    with app.app_context(), tenant_context(demo_clinic):
        final = sorted(Invoice.objects(number__exists=True), key=lambda i: i.number)
        assert len(final) >= 15
        assert [i.number for i in final] == [f"INV-2026-{n:06d}" for n in range(1, len(final) + 1)]
        assert [i.number for i in sorted(final, key=lambda i: i.issued_at)] == [i.number for i in final]
        assert Invoice.objects(status="draft").count() == 2
        assert Invoice.objects(status="void").count() == 1
        assert [n.number for n in CreditNote.objects] == ["CN-2026-000001"]
        statuses = {i.status for i in final}
        assert {"paid", "partly_paid", "issued"} <= statuses
        for inv in Invoice.objects(status__ne="void"):
            assert inv.balance == inv.total - inv.paid - inv.credit_applied - inv.credited
            assert inv.paid == sum(p.applied for p in Payment.objects(invoice=inv))
        keys = [c.source_key for c in BillingClaim.objects]
        assert len(keys) == len(set(keys)) and keys
        assert Payment.objects(amount__lt=0).count() >= 1 and PatientCredit.objects.count() >= 1
        start = (NOW - timedelta(days=40)).date()
        for name in reports.REPORTS:
            reports.run(name, start, NOW.date())
        s = reports.run("day_end", start, NOW.date()).options["summary"]
        assert s["invoiced"] > 0 and s["received"] > 0 and s["voided"] > 0 and s["credit_notes"] > 0
        # A visit's billed items are not offered again; the app's next number follows the demo's.
        billed = next(i for i in final if i.status != "void")
        assert not any(c.available for c in sources.for_visit(billed.visit, f.set_billing()) if c.key in keys)
        nxt = invoices.finalise(invoices.create_draft(f.patient("New", "One"), None, lines=[f.line()]), None)
        assert nxt.number == f"INV-2026-{len(final) + 1:06d}"


def test_seeding_twice_adds_nothing(app, demo_clinic):
    with app.app_context(), tenant_context(demo_clinic):
        before = Invoice.objects.count()
        demo_billing.seed(demo_clinic, random.Random(7), NOW)
        assert Invoice.objects.count() == before
