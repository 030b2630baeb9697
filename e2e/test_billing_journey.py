"""Journey: after a visit with a dispensed medicine and a lab test, the receptionist creates the invoice
from the visit, finalises it, takes a partial then a full payment, prints and emails the receipt; the
accountant's day-end shows the money. Runs once per E2E tenant; no clinic sees another's invoices."""
import re
from datetime import date, timedelta

from playwright.sync_api import expect

from .conftest import browser_contexts
from .steps import (add_medicine, dispense_from_queue, join_staff, marker_of, order_lab_test, prescribe,
                    receive_stock, register_patient, start_visit)


def _clinical_part(page, tenant_url, marker):
    """The Admin prices a consultation, stocks a medicine, and sees a patient: visit, prescription
    dispensed (15 x 0.30), potassium ordered (6.00 in the starter catalogue)."""
    page.goto(tenant_url("/invoices/price-list/new"))
    page.get_by_label("Code").fill("CONS")
    page.get_by_label("Name").fill("Consultation")
    page.get_by_label("Kind").select_option("consultation")
    page.get_by_label("Price").fill("40.00")
    page.get_by_label("Bill visits with this consultation unless another is chosen").check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator("tr[data-code=CONS]")).to_contain_text("$40.00")
    drug = f"Billamox{marker}"  # not the pharmacy journey's name: both run against the same clinics
    medicine_url = add_medicine(page, tenant_url, drug, generic_name="amoxicillin", form="capsule", strength="500 mg",
                                dispensing_unit="capsule", pack_size="21", sale_price="0.30", reorder_level="5")
    receive_stock(page, medicine_url, f"LOT-{marker}", date.today() + timedelta(days=700), "50", unit_cost="0.10")
    register_patient(page, tenant_url, "Rosa", f"Billing{marker}", email=f"rosa.{marker.lower()}@example.com")
    visit_url = start_visit(page)
    page.goto(visit_url)
    prescribe(page, f"{drug} 500 mg capsule", dose="1", dose_unit="capsule", route="by mouth", frequency="TDS",
              days="5")
    expect(page.locator("#rx-status")).to_have_attribute("data-status", "issued")
    dispense_from_queue(page, tenant_url, f"Billing{marker}")
    expect(page.locator("#dispense-panel")).to_have_attribute("data-status", "dispensed")
    page.goto(visit_url)
    order_lab_test(page, "K")


def test_receptionist_bills_the_visit_and_the_accountant_sees_the_day(browser, tenant, tenant_url, mail, e2e_env,
                                                                       sign_in, page):
    sub = tenant.subdomain
    marker = marker_of(sub)
    sign_in()
    _clinical_part(page, tenant_url, marker)
    with browser_contexts(browser) as new_page:
        desk = join_staff(page, tenant_url, mail, new_page, f"desk@{sub}.example.com", "Receptionist", f"Desk {marker}")
        books = join_staff(page, tenant_url, mail, new_page, f"books@{sub}.example.com", "Accountant",
                           f"Books {marker}")
        # The receptionist finds the patient and bills the visit: consultation, medicine and lab test.
        desk.goto(tenant_url("/invoices/new"))
        desk.locator("#patient-q").fill(f"Billing{marker}")
        desk.locator("#patient-results a", has_text=f"Billing{marker}").click()
        desk.get_by_role("link", name="Invoice this visit").first.click()
        rows = desk.locator("#visit-items tr[data-available=yes]")
        expect(rows).to_have_count(3)
        desk.get_by_role("button", name="Create the draft invoice").click()
        expect(desk.locator("#invoice-title")).to_contain_text("Draft invoice")
        expect(desk.locator("[data-total=total]")).to_have_text("$50.50")  # 40.00 + 15 x 0.30 + 6.00
        # 10% off the medicine: its line from the visit keeps quantity and price (disabled, not sent).
        desk.get_by_role("link", name="Edit line 2").click()
        expect(desk.get_by_label("Quantity")).to_be_disabled()
        desk.get_by_label("Discount", exact=True).select_option("percent")
        desk.get_by_label("Discount amount or %").fill("10")
        desk.get_by_role("button", name="Save the line").click()
        expect(desk.locator("[data-total=total]")).to_have_text("$50.05")
        # A line by hand, added on the invoice page itself: the page shows it without a manual reload.
        desk.get_by_label("Description").fill("Arm sling")
        desk.get_by_label("Unit price").fill("1.50")
        desk.get_by_role("button", name="Add line").click()
        expect(desk.locator("#invoice-lines tbody tr")).to_have_count(4)
        expect(desk.locator("[data-total=total]")).to_have_text("$51.55")
        desk.once("dialog", lambda dialog: dialog.accept())  # "Finalise this invoice? ..."
        desk.locator("#finalise").click()
        expect(desk.locator("#invoice-title")).to_contain_text(re.compile(r"INV-\d{4}-\d{6}"))
        number = re.search(r"INV-\d{4}-\d{6}", desk.locator("#invoice-title").inner_text()).group(0)
        expect(desk.locator("#finalise")).to_have_count(0)  # immutable now
        # A partial payment, then the rest.
        desk.locator("#take-payment").click()
        desk.get_by_label("Amount").fill("20.00")
        desk.get_by_label("Method").select_option("cash")
        desk.get_by_role("button", name="Record payment").click()
        expect(desk.locator("#invoice-title [data-status]")).to_have_attribute("data-status", "partly_paid")
        expect(desk.locator("#balance")).to_have_text("$31.55")
        desk.locator("#take-payment").click()
        expect(desk.get_by_label("Amount")).to_have_value("31.55")
        desk.get_by_label("Method").select_option("card")
        desk.get_by_label("Reference").fill("slip 42")
        desk.get_by_role("button", name="Record payment").click()
        expect(desk.locator("#invoice-title [data-status]")).to_have_attribute("data-status", "paid")
        expect(desk.locator("#balance")).to_have_text("$0.00")
        # The receipt: printable, and emailed to the patient through the outbox.
        desk.locator("#payment-list a", has_text="Receipt").last.click()
        expect(desk.locator("#receipt-amount")).to_have_text("$31.55")
        expect(desk.locator("#receipt-balance")).to_have_text("$0.00")
        expect(desk.locator("body")).to_contain_text(number)
        desk.locator("#email-receipt").click()
        message = mail.wait_for(to=f"rosa.{marker.lower()}@example.com", subject="Receipt")
        assert number in message["Subject"] and "$31.55" in message["Subject"]

        # The accountant's day-end shows the receptionist's money by method and by person.
        books.goto(tenant_url("/reports/day_end"))
        table = books.locator("#report-table")
        expect(table.locator("tr", has_text=f"Desk {marker}")).to_contain_text("$51.55")
        expect(table.locator("tr", has_text="Net cash expected in the till")).to_be_visible()
        # The filters swap the report in place (a fragment) and the CSV link follows them.
        books.locator("#from").fill((date.today() - timedelta(days=7)).isoformat())
        books.get_by_role("button", name="Show").click()
        expect(books).to_have_url(re.compile(r"from=\d{4}-\d{2}-\d{2}"))
        expect(books.locator("#csv-link")).to_have_attribute("href", re.compile(r"day_end\.csv\?from="))
        expect(books.locator("#report-table tr", has_text=f"Desk {marker}")).to_contain_text("$51.55")
        books.goto(tenant_url("/reports/by_service"))
        expect(books.locator("#report-table")).to_contain_text("Consultation")

        # No data crossing: this clinic's invoices are its own patients'.
        books.goto(tenant_url("/invoices/"))
        listed = books.locator("#invoice-results tbody").inner_text()
        assert f"Billing{marker}" in listed
        for other in e2e_env["tenants"]:
            if other.subdomain != sub:
                assert f"Billing{marker_of(other.subdomain)}" not in listed
