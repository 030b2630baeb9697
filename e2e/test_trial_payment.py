"""Journey: a clinic's trial runs out (the server's clock is moved), the admin sees the
read-only banner, cannot save, pays in the sandbox, and can save again.

Time travel moves the clock of the whole server, so the journey uses a clinic of
its own (created with the CLI, like the harness's clinics), runs once, and puts
the clock back in a `finally`. It needs the stack's web server and worker to run
with TIME_TRAVEL=1.
"""
import re
import secrets
import time

import pytest
from playwright.sync_api import expect

from .steps import sign_in

PASSWORD = "lapsed quartz meadow ferry 42"
PRICE = "$49.00"
OFFSET_CACHE_SECONDS = 0.6  # OffsetClock re-reads the shared offset every 0.5 s in each process


def time_travel(stack, *args):
    stack.cli("time-travel", *args)
    time.sleep(OFFSET_CACHE_SECONDS)


@pytest.fixture
def stack(e2e_env):
    stack = e2e_env["stack"]
    if stack is None:
        pytest.skip("moves the server's clock: needs the harness's own stack, not E2E_BASE_URL")
    # The harness's own stack always runs with time travel; a stack without it is a harness bug.
    assert stack.env.get("TIME_TRAVEL") == "1", "the e2e stack must run with TIME_TRAVEL=1"
    return stack


def test_a_lapsed_trial_is_read_only_until_the_admin_pays_in_the_sandbox(page, stack, subdomain_url, mail):
    sub = f"lapsed-{secrets.token_hex(3)}"
    email = f"owner@{sub}.example.com"
    url = lambda path="/": subdomain_url(sub, path)  # noqa: E731
    stack.cli("create-tenant", sub, "--name", "Lapsed Trial Clinic",
              "--admin-email", email, "--admin-password", PASSWORD)
    try:
        time_travel(stack, "--days", "9")  # day 9: trial over, read-only grace

        sign_in(page, url, email, PASSWORD)
        expect(page).to_have_url(url("/"))
        expect(page.locator("#grace-banner")).to_contain_text("read-only")

        page.goto(url("/settings"))
        page.get_by_label("Clinic name").fill("Renamed While Lapsed")
        page.get_by_role("button", name="Save the settings").click()
        expect(page).to_have_url(url("/subscription"))
        expect(page.locator("#messages")).to_contain_text("Nothing was saved")
        expect(page.locator("#subscription-facts [data-state]")).to_have_text("Grace")
        page.goto(url("/settings"))
        expect(page.get_by_label("Clinic name")).to_have_value("Lapsed Trial Clinic")

        page.goto(url("/subscription"))
        page.get_by_role("button", name=f"Pay {PRICE}").click()
        expect(page).to_have_url(re.compile(re.escape(url("/sandbox-pay/checkout?"))))
        expect(page.locator("#checkout-clinic")).to_contain_text("Lapsed Trial Clinic")
        expect(page.locator("#checkout-amount")).to_have_text(PRICE)
        page.get_by_role("button", name=f"Pay {PRICE}").click()

        expect(page).to_have_url(url("/subscription"))
        expect(page.locator("#messages")).to_contain_text(f"Payment received: {PRICE}")
        expect(page.locator("#subscription-facts [data-state]")).to_have_text("Active")
        expect(page.locator("#subscription-facts [data-plan]")).to_have_text("Monthly")
        expect(page.locator("#grace-banner")).to_have_count(0)
        expect(page.locator("#payment-history tbody tr")).to_have_count(1)

        page.goto(url("/settings"))
        page.get_by_label("Clinic name").fill("Paid Up Clinic")
        page.get_by_role("button", name="Save the settings").click()
        expect(page.locator("#messages")).to_contain_text("Settings saved.")
        page.reload()
        expect(page.get_by_label("Clinic name")).to_have_value("Paid Up Clinic")

        receipt = mail.wait_for(to=email, subject="Receipt")
        assert PRICE in receipt.get_body(("plain",)).get_content()
    finally:
        time_travel(stack, "--reset")
