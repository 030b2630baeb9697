"""Journey: the admin stocks a medicine (two lots) and registers a penicillin-allergic patient; a doctor
starts a visit and prescribes amoxicillin, sees the allergy warning and overrides it with a reason; a
nurse dispenses from the queue; the stock list shows the new on-hand and the lot used (first expiry
first). Runs once per E2E tenant; the second clinic never sees the first one's medicine."""
import re
from datetime import date, timedelta

from playwright.sync_api import expect

from .test_clinical_journey import _accept, _invite


def _marker(tenant):
    return tenant.subdomain.replace("-", "").title()


def test_prescribe_with_allergy_override_then_dispense_fefo(browser, tenant, tenant_url, mail, e2e_env, sign_in, page):
    marker = _marker(tenant)
    drug = f"Amoxil{marker}"
    sub = tenant.subdomain
    sign_in()
    # The admin adds the medicine and receives two lots; the sooner-expiring one must go first.
    page.goto(tenant_url("/inventory/medicines/new"))
    page.get_by_label("Name", exact=True).fill(drug)
    page.get_by_label("Generic name").fill("amoxicillin")
    page.get_by_label("Form").select_option("capsule")
    page.get_by_label("Strength").fill("500 mg")
    page.get_by_label("Dispensing unit").select_option("capsule")
    page.get_by_label("Pack size").fill("21")
    page.get_by_label("Sale price per unit").fill("0.30")
    page.get_by_label("Reorder level").fill("5")
    page.get_by_role("button", name="Add the medicine").click()
    expect(page.locator("h1")).to_contain_text(drug)
    medicine_url = page.url
    soon, later = date.today() + timedelta(days=60), date.today() + timedelta(days=400)
    for lot, expiry, qty in ((f"LATE-{marker}", later, "50"), (f"SOON-{marker}", soon, "10")):
        page.goto(medicine_url)
        page.locator("#receive-stock").click()
        page.get_by_label("Lot number").fill(lot)
        page.get_by_label("Expiry date").fill(expiry.isoformat())
        page.get_by_label("Quantity received").fill(qty)
        page.get_by_label("Unit cost").fill("0.10")
        page.get_by_role("button", name="Receive").click()
        expect(page.locator(f"#batches tr[data-lot='{lot}']")).to_be_visible()
    # ... registers the patient with a structured allergy.
    page.goto(tenant_url("/patients/new"))
    page.get_by_label("First name").fill("Rosa")
    page.get_by_label("Last name").fill(f"Allergic{marker}")
    page.get_by_label("Allergies").fill("penicillin — hives — severe")
    page.get_by_role("button", name="Register").click()
    expect(page.locator("#patient-alerts")).to_contain_text("penicillin (hives, severe)")
    patient_url = page.url
    _invite(page, tenant_url, f"rxdoc@{sub}.example.com", "Doctor")
    _invite(page, tenant_url, f"rxnurse@{sub}.example.com", "Nurse")
    doc_ctx, doc = _accept(browser, mail, f"rxdoc@{sub}.example.com", f"Dr Rx {marker}")
    nurse_ctx, nurse = _accept(browser, mail, f"rxnurse@{sub}.example.com", f"Nurse Rx {marker}")
    try:
        # The doctor starts a visit and prescribes; the allergy check blocks until overridden.
        doc.goto(patient_url)
        doc.locator("#start-visit").click()
        expect(doc).to_have_url(re.compile(r"/visits/[0-9a-f]{24}/edit"))
        doc.goto(doc.url.replace("/edit", ""))
        doc.locator("#prescribe").click()
        line = doc.locator("fieldset[data-line='1']")
        line.get_by_label("Medicine").select_option(label=f"{drug} 500 mg capsule")
        line.get_by_label("Dose", exact=True).fill("1")
        line.get_by_label("Dose unit").select_option("capsule")
        line.get_by_label("Route").select_option("by mouth")
        line.get_by_label("Frequency").select_option("TDS")
        line.get_by_label("Duration (days)").fill("5")
        doc.get_by_role("button", name="Issue the prescription").click()
        expect(doc.locator("#allergy-warning")).to_contain_text("penicillins")
        doc.get_by_label("Reason to prescribe line 1 despite the allergy").fill("Tolerated amoxicillin in 2024")
        doc.get_by_role("button", name="Issue the prescription").click()
        expect(doc.locator("#rx-status")).to_have_attribute("data-status", "issued")
        expect(doc.locator("#rx-lines")).to_contain_text("Take 1 capsule by mouth three times a day for 5 days.")
        expect(doc.locator("#rx-lines")).to_contain_text("15 capsules")
        prescription_url = doc.url
        # ... and downloads it as a PDF for the patient to take away.
        with doc.expect_download() as download:
            doc.locator("#prescription-pdf").click()
        assert download.value.suggested_filename.startswith("prescription-")
        assert open(download.value.path(), "rb").read(5) == b"%PDF-"

        # The nurse dispenses from the queue: 10 from the sooner lot, 5 from the later one.
        nurse.goto(tenant_url("/prescriptions/queue"))
        nurse.locator("#queue-results tr", has_text=f"Allergic{marker}").locator("a").first.click()
        nurse.get_by_role("button", name="Dispense line 1").click()
        expect(nurse.locator("#dispenses tr[data-status=active]")).to_contain_text(f"SOON-{marker} × 10")
        expect(nurse.locator("#dispenses tr[data-status=active]")).to_contain_text(f"LATE-{marker} × 5")
        expect(nurse.locator("#dispense-panel")).to_have_attribute("data-status", "dispensed")
        nurse.goto(prescription_url)
        expect(nurse.locator("#rx-lines .lots")).to_contain_text(f"SOON-{marker}")

        # The stock list shows the new on-hand per lot.
        nurse.goto(tenant_url("/inventory/stock"))
        expect(nurse.locator(f"tr[data-lot='LATE-{marker}'] [data-on-hand]")).to_have_attribute("data-on-hand", "45")
        expect(nurse.locator(f"tr[data-lot='SOON-{marker}']")).to_have_count(0)  # emptied: no longer listed
        nurse.goto(medicine_url)
        expect(nurse.locator(f"#batches tr[data-lot='SOON-{marker}'] [data-on-hand]")).to_have_attribute(
            "data-on-hand", "0")

        # No data crossing: no other clinic's medicine in this catalogue.
        nurse.goto(tenant_url("/inventory/?q=amoxil"))
        names = nurse.locator("#medicine-results tr[data-medicine]").all_inner_texts()
        assert names and all(drug in n for n in names), names
        for other in e2e_env["tenants"]:
            if other.subdomain != sub:
                assert not any(f"Amoxil{_marker(other)}" in n for n in names), names
    finally:
        doc_ctx.close()
        nurse_ctx.close()
