"""Journey: the admin invites a receptionist and a doctor; the receptionist registers a
patient and books an appointment; the doctor checks the patient in, records and signs
a visit. Runs once per E2E tenant (side by side with -n), and checks no data crosses."""
import re
from datetime import timedelta

from playwright.sync_api import expect

PASSWORD = "quiet harbour lamps at noon"


def _invite(page, tenant_url, email, role):
    page.goto(tenant_url("/staff/invite"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Role").select_option(label=role)
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.locator("#staff-table")).to_contain_text(email)


def _accept(browser, mail, email, name):
    message = mail.wait_for(to=email, subject="invited")
    link = re.search(r"(http://\S+/invite/\S+)", message.get_body(("plain",)).get_content()).group(1)
    context = browser.new_context()
    page = context.new_page()
    page.goto(link)
    page.get_by_label("Your name").fill(name)
    page.get_by_label("New password").fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Join the clinic").click()
    expect(page.locator("[data-nav=account]")).to_contain_text(name)
    return context, page


def test_front_desk_to_signed_visit(page, browser, tenant, tenant_url, sign_in, mail):
    sub = tenant.subdomain
    marker = sub.replace("-", "").title()
    sign_in()
    _invite(page, tenant_url, f"desk@{sub}.example.com", "Receptionist")
    _invite(page, tenant_url, f"doc@{sub}.example.com", "Doctor")
    desk_ctx, desk = _accept(browser, mail, f"desk@{sub}.example.com", f"Rita {marker}")
    doc_ctx, doc = _accept(browser, mail, f"doc@{sub}.example.com", f"Omar {marker}")
    try:
        # Receptionist registers the patient.
        desk.goto(tenant_url("/patients/new"))
        desk.get_by_label("First name").fill("Ines")
        desk.get_by_label("Last name").fill(f"Patient{marker}")
        desk.get_by_label("Date of birth").fill("1990-05-17")
        desk.get_by_label("Email").fill(f"ines@{sub}.example.com")
        desk.get_by_label("Allergies").fill("penicillin")
        desk.get_by_role("button", name="Register").click()
        expect(desk.locator("#patient-alerts")).to_contain_text("penicillin")
        # ... and books her with the doctor tomorrow at 10:00 (clinic time).
        desk.locator("#book-appointment").click()
        expect(desk.locator("#appointment-form")).to_be_visible()
        doctor = desk.get_by_label("Doctor")
        doctor.select_option(doctor.locator("option", has_text=f"Omar {marker}").get_attribute("value"))
        tomorrow = desk.evaluate("() => new Date(Date.now() + 86400000).toISOString().slice(0, 10)")
        desk.get_by_label("Date").fill(tomorrow)
        desk.get_by_label("Time").fill("10:00")
        desk.get_by_label("Reason").fill("persistent cough")
        desk.get_by_role("button", name="Book").click()
        expect(desk.locator("#appointment-status")).to_have_text(re.compile("Scheduled", re.I))
        appointment_url = desk.url

        # The doctor checks her in, records the visit and signs it.
        doc.goto(appointment_url)
        expect(doc.locator("h1")).to_contain_text(f"Patient{marker}")
        doc.locator("button[data-status=checked_in]").click()
        expect(doc.locator("#appointment-status")).to_have_text(re.compile("Checked in", re.I))
        doc.locator("#start-visit").click()
        expect(doc).to_have_url(re.compile(r"/visits/[0-9a-f]{24}/edit"))
        doc.get_by_label("Subjective").fill("Cough for two weeks, no fever.")
        doc.get_by_label("Objective").fill("Chest clear on auscultation.")
        doc.get_by_label("Assessment").fill("Post-viral cough.")
        doc.get_by_label("Plan").fill("Honey, fluids; review in 2 weeks if not better.")
        doc.get_by_label("Temperature").fill("37.1")
        doc.get_by_label("Diagnosis", exact=True).fill("Acute bronchitis")
        doc.get_by_label("Diagnosis code (ICD-10)").fill("j20.9")
        doc.get_by_role("button", name="Save").click()
        expect(doc).to_have_url(re.compile(r"/visits/[0-9a-f]{24}$"))
        doc.once("dialog", lambda dialog: dialog.accept())  # "Sign this visit? The note is then locked"
        doc.get_by_role("button", name="Sign visit").click()
        expect(doc.locator("#visit-status")).to_have_attribute("data-status", "signed")
        expect(doc.locator("#signed-by")).to_contain_text(f"Omar {marker}")
        doc.goto(appointment_url)
        expect(doc.locator("#appointment-status")).to_have_text(re.compile("Completed", re.I))

        # No data crossing: this clinic's list holds only its own patient.
        desk.goto(tenant_url("/patients/"))
        rows = desk.locator("#patient-results tbody tr[data-patient]")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text(f"Patient{marker}")
        desk.goto(tenant_url("/patients/?q=patient"))
        expect(desk.locator("#patient-results tbody tr[data-patient]")).to_have_count(1)
    finally:
        desk_ctx.close()
        doc_ctx.close()
