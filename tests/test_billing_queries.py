"""Billing lists and report queries are served by tenant-prefixed indexes (explain)."""
from datetime import date

from clinic_app.models import Appointment, BillingClaim, CreditNote, Dispense, Invoice, Patient, PatientCredit, Payment
from clinic_app.services.reports.common import Range
from tests import billing_factories as f
from tests.test_query_plans import assert_tenant_index


def test_billing_lists_and_report_ranges_use_tenant_indexes(clinic_a, in_tenant, frozen_clock):
    with in_tenant(clinic_a):
        p = f.patient()
        inv = f.issued(p)
        f.paid(inv, 100)
        r = Range(date(2026, 3, 1), date(2026, 3, 31), "UTC")
        for qs in (
            Invoice.objects.order_by("-created_at"),
            Invoice.objects(status="issued").order_by("-created_at"),
            Invoice.objects(patient=p).order_by("-created_at"),
            Invoice.objects(status="partly_paid").order_by("issued_at"),  # outstanding, one per open status
            Invoice.objects(**r.filter("issued_at")),  # invoiced, by service
            Invoice.objects(**r.filter("voided_at")),
            Payment.objects(invoice=inv).order_by("received_at"),
            Payment.objects(**r.filter("received_at")),
            PatientCredit.objects(**r.filter("at")),
            CreditNote.objects(**r.filter("issued_at")),
            BillingClaim.objects(source_key__in=["visit_service:x", "dispense:y"]),
            Dispense.objects(status="active", **r.filter("at")),
            Appointment.objects(**r.filter("start")),
            Patient.objects(**r.filter("created_at")),
        ):
            assert_tenant_index(qs)
