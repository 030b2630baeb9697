"""Invoice and credit note numbers: gap-free and unique under concurrency, per clinic, yearly reset
in the clinic's time zone, and a failed finalisation takes no number."""
import threading
from datetime import datetime, timezone

import pytest

from clinic_app.models import Counter, Invoice
from clinic_app.services.billing import credit_notes, invoices, numbering
from tests import billing_factories as f


def test_finalising_gives_the_first_number_of_the_clinics_series(in_tenant, clinic_a, frozen_clock):
    with in_tenant(clinic_a):
        inv = f.draft()
        assert inv.number is None and inv.status == "draft"
        inv = invoices.finalise(inv, f.admin())
        assert inv.number == "INV-2026-000001" and inv.status == "issued"
        stored = Invoice.objects.get(pk=inv.pk)
        assert stored.number == "INV-2026-000001" and stored.issued_at is not None


def test_prefix_comes_from_settings_and_drafts_deleted_leave_no_gap(in_tenant, clinic_a, frozen_clock):
    with in_tenant(clinic_a):
        f.set_billing(invoice_prefix="RX")
        first = f.draft()
        invoices.delete_draft(first, f.admin())  # a deleted draft never had a number
        a = invoices.finalise(f.draft(), f.admin())
        b = invoices.finalise(f.draft(), f.admin())
        assert (a.number, b.number) == ("RX-2026-000001", "RX-2026-000002")


def _finalise_many(app, clinic, drafts, barrier, numbers, errors):
    from clinic_app.tenancy import tenant_context

    def run(invoice_id):
        try:
            with app.app_context(), tenant_context(clinic):
                inv = Invoice.objects.get(pk=invoice_id)
                barrier.wait(timeout=30)
                numbers.append(invoices.finalise(inv, None).number)
        except Exception as exc:  # surfaced by the assertion below
            errors.append(repr(exc))

    return [threading.Thread(target=run, args=(d,)) for d in drafts]


def test_eight_concurrent_finalisations_in_each_of_two_clinics_are_gap_free_and_unique(
        app, in_tenant, clinic_a, clinic_b):
    drafts, numbers = {}, {clinic_a.pk: [], clinic_b.pk: []}
    for clinic in (clinic_a, clinic_b):
        with in_tenant(clinic):
            drafts[clinic.pk] = [f.draft().pk for _ in range(8)]
    barrier, errors = threading.Barrier(16), []
    threads = []
    for clinic in (clinic_a, clinic_b):
        threads += _finalise_many(app, clinic, drafts[clinic.pk], barrier, numbers[clinic.pk], errors)
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    year = datetime.now(timezone.utc).year
    for clinic in (clinic_a, clinic_b):
        assert sorted(numbers[clinic.pk]) == [f"INV-{year}-{n:06d}" for n in range(1, 9)]
        with in_tenant(clinic):
            stored = sorted(i.number for i in Invoice.objects(status="issued"))
            assert stored == sorted(numbers[clinic.pk])
            assert Counter.objects.get(name=f"invoice:{year}").value == 8


def test_finalising_twice_at_once_gives_one_number_and_one_conflict(app, in_tenant, clinic_a):
    with in_tenant(clinic_a):
        draft_id = f.draft().pk
    barrier, out, errors = threading.Barrier(2), [], []
    from clinic_app.tenancy import tenant_context

    def run():
        with app.app_context(), tenant_context(clinic_a):
            inv = Invoice.objects.get(pk=draft_id)
            barrier.wait(timeout=30)
            try:
                out.append(invoices.finalise(inv, None).number)
            except invoices.Conflict as exc:
                errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    [t.start() for t in threads]
    [t.join(timeout=60) for t in threads]
    assert len(out) == 1 and len(errors) == 1
    with in_tenant(clinic_a):
        year = datetime.now(timezone.utc).year
        assert Counter.objects.get(name=f"invoice:{year}").value == 1  # the loser's increment rolled back
        assert invoices.finalise(f.draft(), None).number.endswith("-000002")


def test_a_failed_finalisation_takes_no_number(in_tenant, clinic_a, frozen_clock):
    with in_tenant(clinic_a):
        stale = f.draft()
        fresh = Invoice.objects.get(pk=stale.pk)
        invoices.add_line(fresh, f.line("Another"), f.admin())  # the page `stale` was read from is now old
        with pytest.raises(invoices.Conflict, match="changed by someone else"):
            invoices.finalise(stale, f.admin())
        assert Invoice.objects.get(pk=stale.pk).status == "draft"
        with pytest.raises(invoices.BillingError, match="at least one line"):
            invoices.finalise(invoices.create_draft(f.patient("Al", "Bo"), f.admin()), f.admin())
        assert invoices.finalise(Invoice.objects.get(pk=stale.pk), f.admin()).number == "INV-2026-000001"


@pytest.mark.parametrize("zone,before,after", [
    # 31 Dec 23:59 and 1 Jan 00:01 clinic time, as UTC instants.
    ("America/New_York", datetime(2027, 1, 1, 4, 59), datetime(2027, 1, 1, 5, 1)),
    ("Pacific/Auckland", datetime(2026, 12, 31, 10, 59), datetime(2026, 12, 31, 11, 1)),  # still 2026 in UTC
    ("UTC", datetime(2026, 12, 31, 23, 59), datetime(2027, 1, 1, 0, 1)),
])
def test_numbers_restart_at_the_clinics_new_year(in_tenant, clinic_a, frozen_clock, zone, before, after):
    with in_tenant(clinic_a):
        f.set_billing(timezone=zone)
        frozen_clock.set(before.replace(tzinfo=timezone.utc))
        a = invoices.finalise(f.draft(), None)
        b = invoices.finalise(f.draft(), None)
        frozen_clock.set(after.replace(tzinfo=timezone.utc))
        c = invoices.finalise(f.draft(), None)
        note, _ = credit_notes.issue(c, "Wrong patient", None)
        assert (a.number, b.number, c.number) == ("INV-2026-000001", "INV-2026-000002", "INV-2027-000001")
        assert note.number == "CN-2027-000001"


def test_without_yearly_reset_the_series_continues(in_tenant, clinic_a, frozen_clock):
    with in_tenant(clinic_a):
        f.set_billing(invoice_yearly_reset=False)
        frozen_clock.set(datetime(2026, 12, 31, 12, tzinfo=timezone.utc))
        a = invoices.finalise(f.draft(), None)
        frozen_clock.set(datetime(2027, 1, 2, 12, tzinfo=timezone.utc))
        b = invoices.finalise(f.draft(), None)
        assert (a.number, b.number) == ("INV-2026-000001", "INV-2027-000002")


def test_credit_notes_have_their_own_gap_free_series(in_tenant, clinic_a, frozen_clock):
    with in_tenant(clinic_a):
        inv = f.issued(None, None, f.line(quantity=3, unit_price=1000))
        n1, inv = credit_notes.issue(inv, "Returned one", None, {0: 1})
        n2, inv = credit_notes.issue(inv, "Returned the rest", None)
        assert (n1.number, n2.number) == ("CN-2026-000001", "CN-2026-000002")
        assert inv.number == "INV-2026-000001"
        assert numbering.peek("invoice", f.set_billing(), frozen_clock.now()) == "INV-2026-000002"
