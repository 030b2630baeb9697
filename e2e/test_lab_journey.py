"""Journey: a doctor orders a panel from a visit; a nurse records the specimen and the results (one high,
one critical); the doctor sees the critical result on the dashboard, reviews it, orders the test again and
sees the trend chart. Once per E2E tenant, and for two clinics at the same moment (no data crossing)."""
import re

from playwright.sync_api import expect

from .steps import marker_of, order_lab_test, register_patient, start_visit


def _results(page, values):
    """Fill the results form: {test name: value}."""
    for name, value in values.items():
        page.get_by_label(name, exact=True).fill(value)
    page.get_by_role("button", name="Save results").click()
    expect(page).to_have_url(re.compile(r"/lab/orders/[0-9a-f]{24}$"))


def _collect(page, order_url, label):
    page.goto(order_url)
    page.get_by_label("Specimen id / barcode").fill(label)
    page.get_by_role("button", name="Specimen collected now").click()
    expect(page.locator("#specimen")).to_contain_text(label)
    page.locator("#enter-results").click()
    expect(page.locator("#results-form")).to_be_visible()


def run_lab_journey(run):
    """The lab journey for one clinic (`run`: a JourneyRun)."""
    sub, marker, tenant_url = run.clinic.subdomain, run.marker, run.url
    doc = run.hire("labdoc", "Doctor", "Lina")
    nurse = run.hire("labnurse", "Nurse", "Noor")
    # The doctor registers the patient, starts a visit and orders the basic metabolic panel from it.
    patient_url = register_patient(doc, tenant_url, "Rosa", f"Lab{marker}", date_of_birth="1970-02-11",
                                   sex="female")
    doc.goto(start_visit(doc))
    doc.locator("#order-labs").click()
    doc.locator("input[data-panel='Basic metabolic panel']").check()
    doc.get_by_label("Priority").select_option("urgent")
    doc.get_by_label("Clinical note").fill("Weakness, on spironolactone.")
    doc.get_by_role("button", name="Place order").click()
    expect(doc.locator("#order-card")).to_have_attribute("data-status", "ordered")
    order_url = doc.url
    number = doc.locator("h1").inner_text().split()[2]

    # The nurse finds it among the outstanding orders (this clinic's only), records specimen and results.
    nurse.goto(tenant_url("/lab/"))
    rows = nurse.locator("#lab-results tbody tr[data-order]")
    expect(rows.filter(has_text=number)).to_have_count(1)
    for other in run.others:
        expect(nurse.locator("#lab-results")).not_to_contain_text(marker_of(other))
    rows.filter(has_text=number).get_by_role("link", name=number).click()
    expect(nurse).to_have_url(order_url)
    _collect(nurse, order_url, f"BC-{marker}")
    _results(nurse, {"Glucose (fasting)": "92", "Urea nitrogen (BUN)": "14", "Creatinine": "0.80",
                     "Sodium": "150", "Potassium": "6.8", "Chloride": "101",
                     "Bicarbonate (total CO₂)": "25", "Calcium": "9.4"})
    expect(nurse.locator("tr[data-test=K] [data-flag]")).to_have_attribute("data-flag", "HH")
    expect(nurse.locator("tr[data-test=NA] [data-flag]")).to_have_attribute("data-flag", "H")
    expect(nurse.locator("tr[data-test=GLU] [data-flag]")).to_have_attribute("data-flag", "N")
    expect(nurse.locator("#review-hint")).to_be_visible()  # a nurse does not review

    # The doctor sees the critical potassium on the dashboard, reviews the order.
    doc.goto(tenant_url("/"))
    critical = doc.locator("#lab-critical")
    expect(critical).to_contain_text("Potassium")
    expect(critical).to_contain_text(f"Lab{marker}")
    expect(doc.locator("#lab-unreviewed")).to_contain_text(number)
    doc.goto(order_url)
    doc.get_by_label("Review comment").fill("Stop spironolactone, repeat potassium.")
    doc.get_by_role("button", name="Mark reviewed").click()
    expect(doc.locator("#order-card")).to_have_attribute("data-status", "reviewed")
    expect(doc.locator("#reviewed-by")).to_contain_text(f"Lina {marker}")
    doc.goto(tenant_url("/"))
    expect(doc.locator("#lab-critical")).to_have_count(0)
    expect(doc.locator("#lab-unreviewed")).to_have_count(0)

    # A repeat potassium from the patient's page; once resulted, the trend chart shows both values.
    doc.goto(patient_url)
    order_lab_test(doc, "K")
    expect(doc.locator("#order-card")).to_have_attribute("data-status", "ordered")
    repeat_url = doc.url
    _collect(nurse, repeat_url, f"BC2-{marker}")
    _results(nurse, {"Potassium": "5.4"})
    expect(nurse.locator("tr[data-test=K] [data-flag]")).to_have_attribute("data-flag", "H")
    doc.goto(repeat_url)
    doc.locator("tr[data-test=K] td.value a").click()
    trend = doc.locator("#result-trend figure")
    expect(trend).to_have_attribute("data-points", "2")
    expect(trend.locator("svg title").first).to_contain_text("Potassium")
    expect(trend.locator("rect.trend-band")).to_have_count(1)
    doc.goto(patient_url)
    expect(doc.locator("#patient-labs figure.trend")).to_have_count(1)

    # No data crossing: this clinic's session means nothing at another clinic's address.
    for other in run.others:
        nurse.goto(order_url.replace(f"//{sub}.", f"//{other}."))
        expect(nurse).to_have_url(re.compile(r"/login"))
        expect(nurse.locator("body")).not_to_contain_text(f"Lab{marker}")


def test_doctor_orders_nurse_results_doctor_reviews_and_sees_the_trend(browser, tenant, journeys):
    journeys.alone(run_lab_journey, browser, tenant)


def test_two_clinics_lab_journeys_at_the_same_moment(journeys):
    """Both clinics' lab journeys interleave on one server; neither sees the other's orders or results."""
    journeys.together(run_lab_journey, timeout=300)
