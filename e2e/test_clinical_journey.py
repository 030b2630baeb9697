"""Journey: the admin invites a receptionist and a doctor; the receptionist registers a
patient and books an appointment; the doctor checks the patient in, records and signs
a visit. Runs once per E2E tenant, and once for two clinics at the same moment against
the same server (two threads, each with its own browser), checking no data crosses."""
import re

from playwright.sync_api import expect

from .steps import marker_of, register_patient, start_visit


def run_journey(run):
    """The whole journey for one clinic (`run`: a JourneyRun)."""
    sub, marker, tenant_url = run.clinic.subdomain, run.marker, run.url
    desk = run.hire("desk", "Receptionist", "Rita")
    doc = run.hire("doc", "Doctor", "Omar")
    # Receptionist registers the patient.
    register_patient(desk, tenant_url, "Ines", f"Patient{marker}",
                     date_of_birth="1990-05-17" if run.name == "a" else "1987-09-03",
                     email=f"ines-{run.name}@{sub}.example.com", allergies="penicillin")
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
    start_visit(doc)
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
    own = marker_of(sub)
    assert names and all(own in n for n in names), names  # other journeys add patients of this clinic too
    for other in run.others:
        assert not any(marker_of(other) in n for n in names), names


def test_front_desk_to_signed_visit(browser, tenant, journeys):
    journeys.alone(run_journey, browser, tenant)


def test_two_clinics_at_the_same_moment(journeys):
    """Both clinics' journeys interleave on one server; neither sees the other's data."""
    journeys.together(run_journey, timeout=240)
