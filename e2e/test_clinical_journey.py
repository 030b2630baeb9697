"""Journey: the admin invites a receptionist and a doctor; the receptionist registers a
patient and books an appointment; the doctor checks the patient in, records and signs
a visit. Runs once per E2E tenant, and once for two clinics at the same moment against
the same server (two threads, each with its own browser), checking no data crosses."""
import re

from playwright.sync_api import expect

from .conftest import ACTION_TIMEOUT_MS, at_the_same_moment

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
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    page = context.new_page()
    page.goto(link)
    page.get_by_label("Your name").fill(name)
    page.get_by_label("New password").fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Join the clinic").click()
    expect(page.locator("[data-nav=account]")).to_contain_text(name)
    return context, page


def run_journey(browser, tenant, tenant_url, mail, run="a", others=()):
    """The whole journey for one clinic; `run` keeps repeated runs' people apart."""
    sub = tenant.subdomain
    marker = f"{sub.replace('-', '').title()}{run.upper()}"
    admin_ctx = browser.new_context(base_url=tenant_url("/"))
    admin_ctx.set_default_timeout(ACTION_TIMEOUT_MS)
    page = admin_ctx.new_page()
    page.goto("/login")
    page.get_by_label("Email", exact=True).fill(tenant.admin_email)
    page.get_by_label("Password", exact=True).fill(tenant.admin_password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/login"))
    _invite(page, tenant_url, f"desk-{run}@{sub}.example.com", "Receptionist")
    _invite(page, tenant_url, f"doc-{run}@{sub}.example.com", "Doctor")
    desk_ctx, desk = _accept(browser, mail, f"desk-{run}@{sub}.example.com", f"Rita {marker}")
    doc_ctx, doc = _accept(browser, mail, f"doc-{run}@{sub}.example.com", f"Omar {marker}")
    try:
        # Receptionist registers the patient.
        desk.goto(tenant_url("/patients/new"))
        desk.get_by_label("First name").fill("Ines")
        desk.get_by_label("Last name").fill(f"Patient{marker}")
        desk.get_by_label("Date of birth").fill("1990-05-17" if run == "a" else "1987-09-03")
        desk.get_by_label("Email").fill(f"ines-{run}@{sub}.example.com")
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

        # No data crossing: this clinic's list holds only its own patients.
        desk.goto(tenant_url(f"/patients/?q=Patient{marker}"))
        expect(desk.locator("#patient-results tbody tr[data-patient]")).to_have_count(1)
        desk.goto(tenant_url("/patients/"))
        names = desk.locator("#patient-results tbody tr[data-patient]").all_inner_texts()
        own = sub.replace("-", "").title()
        assert names and all(own in n for n in names), names  # other journeys add patients of this clinic too
        for other in others:
            assert not any(other.replace("-", "").title() in n for n in names), names
    finally:
        for ctx in (admin_ctx, desk_ctx, doc_ctx):
            ctx.close()


def test_front_desk_to_signed_visit(browser, tenant, tenant_url, mail, e2e_env):
    others = [t.subdomain for t in e2e_env["tenants"] if t.subdomain != tenant.subdomain]
    run_journey(browser, tenant, tenant_url, mail, run="a", others=others)


def test_two_clinics_at_the_same_moment(e2e_env, subdomain_url, mail):
    """Both clinics' journeys interleave on one server; neither sees the other's data."""
    at_the_same_moment(e2e_env, lambda browser, clinic, others: run_journey(
        browser, clinic, lambda path="/": subdomain_url(clinic.subdomain, path), mail, run="b", others=others),
        timeout=240)
