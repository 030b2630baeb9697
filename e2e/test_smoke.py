"""Smoke journeys: each clinic's front door, its Admin's dashboard, the apex, an unknown clinic."""
import re

from playwright.sync_api import expect


def open_clinic(page, tenant_url):
    """Where a clinic's journey starts: its home page, which sends a visitor to sign in."""
    response = page.goto(tenant_url("/"))
    assert response.status == 200, f"{response.url} answered {response.status}"
    return response


def test_clinic_home_asks_a_visitor_to_sign_in(page, tenant, tenant_url):
    open_clinic(page, tenant_url)

    expect(page).to_have_url(re.compile(r"/login\?next=(/|%2F)$"))
    expect(page.locator("header a.brand")).to_have_text(tenant.name)
    expect(page.locator("main h1")).to_have_text(f"Sign in to {tenant.name}")
    assert page.evaluate("typeof htmx") == "object"


def test_admin_signs_in_to_the_clinic_dashboard(page, tenant, tenant_url, sign_in):
    sign_in()

    expect(page).to_have_url(tenant_url("/"))
    expect(page.locator("main h1")).to_have_text(tenant.name)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_password_reset_email_links_to_the_clinic(page, tenant, tenant_url, mail):
    page.goto("/password/forgot")
    page.get_by_label("Email", exact=True).fill(tenant.admin_email)
    page.get_by_role("button").filter(has_text=re.compile("send|reset", re.I)).click()
    expect(page.locator("#messages")).to_contain_text("If an account uses that address")

    message = mail.wait_for(to=tenant.admin_email, subject=f"Reset your {tenant.name} password")
    body = message.get_body(("plain",)).get_content()
    assert tenant_url("/password/reset/") in body


def test_apex_shows_the_landing_page(page, apex_url):
    response = page.goto(apex_url("/"))

    assert response.status == 200
    expect(page.locator("header a.brand")).to_have_text("clinic_app")
    expect(page.locator("main h1")).not_to_be_empty()
    assert page.evaluate("typeof htmx") == "object"


def test_unknown_clinic_is_not_found(page, subdomain_url):
    response = page.goto(subdomain_url("nosuch", "/"))

    assert response.status == 404
    expect(page.locator("main")).to_contain_text("Not found")
