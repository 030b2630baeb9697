"""Steps the journeys share, each as a person does it in the browser.

`url` is a clinic's URL builder (`tenant_url`): url("/login") -> http://<clinic>.localhost:<port>/login.
Each step ends by checking the page shows what it did, so the next step starts on firm ground.
"""
import re

from playwright.sync_api import expect

STAFF_PASSWORD = "quiet harbour lamps at noon"


def marker_of(subdomain, run=""):
    """What a clinic's (and a run's) people and records carry in their names: "clinic-1", "a" -> "Clinic1A"."""
    return f"{subdomain.replace('-', '').title()}{run.upper()}"


# -- signing in and staff ---------------------------------------------------------


def submit_sign_in(page, url, email, password):
    """Fill in and send the clinic's sign-in form (the caller checks the outcome)."""
    page.goto(url("/login"))
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_in(page, url, email, password):
    """Sign `page` in to the clinic; returns the page."""
    submit_sign_in(page, url, email, password)
    expect(page).not_to_have_url(re.compile(r"/login"))
    return page


def invite(page, url, email, role):
    """A signed-in Admin on `page` invites `email` as `role` (the role's label)."""
    page.goto(url("/staff/invite"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Role").select_option(label=role)
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.locator("#staff-table")).to_contain_text(email)


def accept_invitation(page, mail, email, name, password=STAFF_PASSWORD):
    """The invitee follows the emailed link on `page` (a fresh context's) and joins as `name`."""
    message = mail.wait_for(to=email, subject="invited")
    link = re.search(r"(http://\S+/invite/\S+)", message.get_body(("plain",)).get_content()).group(1)
    page.goto(link)
    page.get_by_label("Your name").fill(name)
    page.get_by_label("New password").fill(password)
    page.get_by_label("Repeat the password").fill(password)
    page.get_by_role("button", name="Join the clinic").click()
    expect(page.locator("[data-nav=account]")).to_contain_text(name)
    return page


def join_staff(admin, url, mail, new_page, email, role, name):
    """The Admin invites `email` as `role`; they join as `name` in `new_page()`, whose page is returned."""
    invite(admin, url, email, role)
    return accept_invitation(new_page(), mail, email, name)


# -- patients and visits ------------------------------------------------------------


def register_patient(page, url, first_name, last_name, *, date_of_birth=None, sex=None, email=None,
                     allergies=None):
    """Register a patient (the optional fields only when given); leaves `page` on the record, returns its URL."""
    page.goto(url("/patients/new"))
    page.get_by_label("First name").fill(first_name)
    page.get_by_label("Last name").fill(last_name)
    for label, value in (("Date of birth", date_of_birth), ("Email", email), ("Allergies", allergies)):
        if value is not None:
            page.get_by_label(label).fill(value)
    if sex is not None:
        page.get_by_label("Sex").select_option(sex)
    page.get_by_role("button", name="Register").click()
    expect(page.locator("h1")).to_contain_text(last_name)
    return page.url


def start_visit(page):
    """Start a visit from the patient's record or appointment on `page` (it opens the note's editor);
    returns the visit's own URL."""
    page.locator("#start-visit").click()
    expect(page).to_have_url(re.compile(r"/visits/[0-9a-f]{24}/edit"))
    return page.url.rsplit("/edit", 1)[0]


def order_lab_test(page, code):
    """Order one test (its catalogue code) from the visit or patient on `page`; leaves `page` on the order."""
    page.locator("#order-labs").click()
    page.locator(f"input[data-test={code}]").check()
    page.get_by_role("button", name="Place order").click()
    expect(page).to_have_url(re.compile(r"/lab/orders/[0-9a-f]{24}$"))


# -- medicines ------------------------------------------------------------------------


def add_medicine(page, url, name, *, generic_name, form, strength, dispensing_unit, pack_size, sale_price,
                 reorder_level):
    """Add a medicine to the clinic's catalogue; returns its page's URL."""
    page.goto(url("/inventory/medicines/new"))
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Generic name").fill(generic_name)
    page.get_by_label("Form").select_option(form)
    page.get_by_label("Strength").fill(strength)
    page.get_by_label("Dispensing unit").select_option(dispensing_unit)
    page.get_by_label("Pack size").fill(pack_size)
    page.get_by_label("Sale price per unit").fill(sale_price)
    page.get_by_label("Reorder level").fill(reorder_level)
    page.get_by_role("button", name="Add the medicine").click()
    expect(page.locator("h1")).to_contain_text(name)
    return page.url


def receive_stock(page, medicine_url, lot, expiry, quantity, unit_cost):
    """Receive a lot (`expiry` a date) of the medicine at `medicine_url`."""
    page.goto(medicine_url)
    page.locator("#receive-stock").click()
    page.get_by_label("Lot number").fill(lot)
    page.get_by_label("Expiry date").fill(expiry.isoformat())
    page.get_by_label("Quantity received").fill(quantity)
    page.get_by_label("Unit cost").fill(unit_cost)
    page.get_by_role("button", name="Receive").click()
    expect(page.locator(f"#batches tr[data-lot='{lot}']")).to_be_visible()


def prescribe(page, medicine, *, dose, dose_unit, route, frequency, days):
    """From the visit on `page`, fill a one-line prescription of `medicine` (its option's label) and
    ask to issue it (the caller checks the outcome: issued, or an allergy warning)."""
    page.locator("#prescribe").click()
    line = page.locator("fieldset[data-line='1']")
    line.get_by_label("Medicine").select_option(label=medicine)
    line.get_by_label("Dose", exact=True).fill(dose)
    line.get_by_label("Dose unit").select_option(dose_unit)
    line.get_by_label("Route").select_option(route)
    line.get_by_label("Frequency").select_option(frequency)
    line.get_by_label("Duration (days)").fill(days)
    page.get_by_role("button", name="Issue the prescription").click()


def dispense_from_queue(page, url, patient):
    """Open the patient's prescription from the dispensing queue and dispense its first line."""
    page.goto(url("/prescriptions/queue"))
    page.locator("#queue-results tr", has_text=patient).locator("a").first.click()
    page.get_by_role("button", name="Dispense line 1").click()
