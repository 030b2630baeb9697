"""Journey: the admin stocks a medicine (two lots) and registers a penicillin-allergic patient; a doctor
starts a visit and prescribes amoxicillin, sees the allergy warning and overrides it with a reason; a
nurse dispenses from the queue; the stock list shows the new on-hand and the lot used (first expiry
first). Runs once per E2E tenant; the second clinic never sees the first one's medicine."""
from datetime import date, timedelta

from playwright.sync_api import expect

from .conftest import browser_contexts
from .steps import (add_medicine, dispense_from_queue, join_staff, marker_of, prescribe, receive_stock,
                    register_patient, start_visit)


def test_prescribe_with_allergy_override_then_dispense_fefo(browser, tenant, tenant_url, mail, e2e_env, sign_in, page):
    sub = tenant.subdomain
    marker = marker_of(sub)
    drug = f"Amoxil{marker}"
    sign_in()
    # The admin adds the medicine and receives two lots; the sooner-expiring one must go first.
    medicine_url = add_medicine(page, tenant_url, drug, generic_name="amoxicillin", form="capsule", strength="500 mg",
                                dispensing_unit="capsule", pack_size="21", sale_price="0.30", reorder_level="5")
    soon, later = date.today() + timedelta(days=60), date.today() + timedelta(days=400)
    for lot, expiry, qty in ((f"LATE-{marker}", later, "50"), (f"SOON-{marker}", soon, "10")):
        receive_stock(page, medicine_url, lot, expiry, qty, unit_cost="0.10")
    # ... registers the patient with a structured allergy.
    patient_url = register_patient(page, tenant_url, "Rosa", f"Allergic{marker}",
                                   allergies="penicillin — hives — severe")
    expect(page.locator("#patient-alerts")).to_contain_text("penicillin (hives, severe)")
    with browser_contexts(browser) as new_page:
        doc = join_staff(page, tenant_url, mail, new_page, f"rxdoc@{sub}.example.com", "Doctor", f"Dr Rx {marker}")
        nurse = join_staff(page, tenant_url, mail, new_page, f"rxnurse@{sub}.example.com", "Nurse",
                           f"Nurse Rx {marker}")
        # The doctor starts a visit and prescribes; the allergy check blocks until overridden.
        doc.goto(patient_url)
        doc.goto(start_visit(doc))
        prescribe(doc, f"{drug} 500 mg capsule", dose="1", dose_unit="capsule", route="by mouth", frequency="TDS",
                  days="5")
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
        dispense_from_queue(nurse, tenant_url, f"Allergic{marker}")
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
                assert not any(f"Amoxil{marker_of(other.subdomain)}" in n for n in names), names
