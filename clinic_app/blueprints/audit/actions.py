"""Every audit action the application records, in words for the audit log's filter and rows.

A known list, so the page never runs `distinct("action")` over a clinic's whole
audit log on every load. A module that records a new action adds its line here
(tests/test_audit_page.py checks that every `audit.record("...")` in the code is listed).
"""
ACTIONS = {
    # sign-in and own account
    "auth.login": "Signed in",
    "auth.logout": "Signed out",
    "auth.password_reset": "Password reset by email",
    "account.name_change": "Changed own name",
    "account.password_change": "Changed own password",
    "account.session_revoke": "Signed out a session",
    "api_token.create": "API token created",
    "api_token.revoke": "API token revoked",
    # staff, roles, settings, subscription
    "staff.invite": "Staff member invited",
    "staff.invite_resend": "Invitation sent again",
    "staff.invite_accepted": "Invitation accepted",
    "staff.role_change": "Staff member's role changed",
    "staff.bookable_change": "Takes appointments changed",
    "staff.deactivate": "Staff member deactivated",
    "staff.reactivate": "Staff member reactivated",
    "role.create": "Role created",
    "role.update": "Role changed",
    "role.delete": "Role deleted",
    "settings.update": "Settings changed",
    "subscription.checkout_started": "Checkout started",
    "subscription.paid": "Subscription paid",
    # patients, appointments, visits
    "patient.create": "Patient registered",
    "patient.update": "Patient details changed",
    "patient.archive": "Patient archived",
    "patient.restore": "Patient restored",
    "patient.view": "Patient record opened",
    "appointment.create": "Appointment booked",
    "appointment.update": "Appointment rescheduled",
    "appointment.status": "Appointment status changed",
    "visit.create": "Visit started",
    "visit.update": "Visit note edited",
    "visit.sign": "Visit signed",
    "visit.amend": "Visit amended",
    "visit.view": "Visit opened",
    # pharmacy
    "medicine.create": "Medicine added",
    "medicine.update": "Medicine changed",
    "medicine.archive": "Medicine archived",
    "medicine.restore": "Medicine restored",
    "prescription.create": "Prescription written",
    "prescription.issue": "Prescription issued",
    "prescription.cancel": "Prescription cancelled",
    "prescription.view": "Prescription opened",
    "prescription.print": "Prescription printed",
    "prescription.pdf": "Prescription downloaded as PDF",
    "prescription.update": "Draft prescription edited",
    "prescription.dispense": "Prescription dispensed",
    "prescription.allergy_override": "Allergy warning overridden",
    "prescription.duplicate_confirmed": "Duplicate prescription confirmed",
    "dispense.cancel": "Dispense cancelled",
    "stock.receive": "Stock received",
    "stock.adjust": "Stock adjusted",
    "stock.write_off": "Stock written off",
    # billing
    "price_item.create": "Price list item added",
    "price_item.update": "Price list item changed",
    "price_item.archive": "Price list item archived",
    "price_item.restore": "Price list item restored",
    "invoice.create": "Invoice drafted",
    "invoice.line_add": "Invoice line added",
    "invoice.line_update": "Invoice line changed",
    "invoice.line_remove": "Invoice line removed",
    "invoice.delete": "Draft invoice discarded",
    "invoice.finalise": "Invoice finalised",
    "invoice.void": "Invoice voided",
    "credit_note.issue": "Credit note issued",
    "payment.record": "Payment recorded",
    "payment.refund": "Refund recorded",
    "payment.delete": "Payment deleted",
    "credit.apply": "Patient credit used",
    # laboratory
    "lab_catalogue.load": "Lab catalogue loaded",
    "lab_test.create": "Lab test added",
    "lab_test.update": "Lab test changed",
    "lab_panel.create": "Lab panel added",
    "lab_panel.update": "Lab panel changed",
    "lab_order.create": "Lab order placed",
    "lab_order.collect": "Specimen collected",
    "lab_order.cancel": "Lab order cancelled",
    "lab_order.print": "Lab order printed",
    "lab_order.review": "Lab order reviewed",
    "lab_order.view": "Lab order opened",
    "lab_result.create": "Lab result entered",
    "lab_result.amend": "Lab result amended",
    "lab_result.acknowledge": "Lab result acknowledged",
}


def action_label(action):
    """'Patient details changed' for patient.update; an unlisted action reads as 'Lab order: print'."""
    if action in ACTIONS:
        return ACTIONS[action]
    area, _, verb = (action or "").partition(".")
    return f"{area.replace('_', ' ').capitalize()}: {verb.replace('_', ' ')}" if verb else (action or "")


def action_choices():
    """(value, label) for the filter, by label."""
    return sorted(ACTIONS.items(), key=lambda item: item[1])
