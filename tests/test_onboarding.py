"""The signup wizard at the apex /tenant-onboard: steps, rules, creation, welcome email, races, limits."""
import re
import threading
from datetime import timedelta
from html import unescape
from zoneinfo import available_timezones

import mongoengine
import pytest

from clinic_app import create_app
from clinic_app.extensions import redis_conn
from clinic_app.hosts import RESERVED_SUBDOMAINS
from clinic_app.models import Role, Settings, Tenant, User
from clinic_app.services import onboarding
from clinic_app.services.passwords import check_password
from clinic_app.services.tenants import new_tenant
from clinic_app.tenancy import tenant_context

from .conftest import T0, app_config
from .support import TenantClient, login, make_clinic, run_jobs

PASSWORD = "amber kettles drift past seven quiet lanterns"
PASSPHRASE_64 = "amber kettles drift past seven quiet lanterns at the old harbors"
PASSPHRASE_128 = PASSPHRASE_64 + " while marmalade clocks hum beneath crooked violet stair at dusk"
CLINIC = {"name": "Sunrise Family Clinic", "subdomain": "sunrise-family"}
ADMIN = {"admin_name": "Maria Lopez", "admin_email": "Maria@Sunrise-Family.example",
         "password": PASSWORD, "confirm": PASSWORD}
SETTINGS = {"timezone": "Europe/Paris", "currency": "EUR", "date_format": "DD/MM/YYYY"}
LOGIN_URL = "http://sunrise-family.localhost:5000/login"
WELCOME_URL = LOGIN_URL + "?welcome="  # a single-use key: the login page greets the new admin
HX = {"HX-Request": "true"}


# -- helpers -------------------------------------------------------------------


def fill_clinic(client, **changes):
    return client.post("/tenant-onboard", data={**CLINIC, **changes})


def fill_admin(client, **changes):
    return client.post("/tenant-onboard/admin", data={**ADMIN, **changes})


def fill_settings(client, **changes):
    return client.post("/tenant-onboard/settings", data={**SETTINGS, **changes})


def reach_review(client, clinic=None, admin=None, settings=None):
    """Answer steps 1-3 as a browser without JavaScript would."""
    for fill, changes, then in ((fill_clinic, clinic, "/tenant-onboard/admin"),
                                (fill_admin, admin, "/tenant-onboard/settings"),
                                (fill_settings, settings, "/tenant-onboard/review")):
        response = fill(client, **(changes or {}))
        assert response.status_code == 303, errors_on_page(response)
        assert response.headers["Location"] == then


def create(client, **headers):
    return client.post("/tenant-onboard/review", headers=headers)


def sign_up(client, **answers):
    reach_review(client, **answers)
    return create(client)


def errors_beside(response, field):
    """The messages render_field shows beside `field` (<p class="error" id="<field>-error">)."""
    html = response.get_data(as_text=True)
    return [unescape(m) for m in re.findall(rf'<p class="error" id="{field}-error">(.*?)</p>', html, re.S)]


def errors_on_page(response):
    return re.findall(r'class="error"[^>]*>(.*?)<', response.get_data(as_text=True), re.S)


def wizard_key(client):
    with client.session_transaction() as session:
        return onboarding.Wizard.key(session["onboard_wizard"])


def clinics_at(app, subdomain):
    with app.app_context():
        return Tenant.objects(subdomain=subdomain).count()


def no_clinic_created(app):
    with app.app_context():
        return Tenant.objects.count() == 0


# -- the pages -------------------------------------------------------------------


def test_landing_page_offers_the_free_trial(client):
    html = client.get("/").get_data(as_text=True)
    assert 'href="/tenant-onboard"' in html and "Start your free trial" in html


def test_first_step_is_a_plain_form_with_a_progress_indicator(client):
    response = client.get("/tenant-onboard")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" in html
    assert '<form method="post" action="/tenant-onboard"' in html
    assert '<li class="current" aria-current="step">1. Clinic</li>' in html
    assert all(f"{n}. {title}" in html for n, title in ((2, "Admin account"), (3, "Settings"), (4, "Review")))


def test_a_step_asked_for_by_htmx_is_a_fragment_that_varies_on_hx_request(client):
    response = client.get("/tenant-onboard", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html and 'id="wizard"' in html
    assert "HX-Request" in response.headers["Vary"]


def test_an_invalid_step_from_htmx_is_a_422_fragment_with_the_error_beside_the_field(client, app):
    response = client.post("/tenant-onboard", data={**CLINIC, "subdomain": "ab"}, headers=HX)
    assert response.status_code == 422
    assert b"<html" not in response.data and "HX-Request" in response.headers["Vary"]
    assert errors_beside(response, "subdomain") == ["Use at least 3 characters."]
    assert no_clinic_created(app)


def test_a_valid_step_from_htmx_swaps_in_the_next_step_and_pushes_its_url(client):
    response = client.post("/tenant-onboard", data=CLINIC, headers=HX)
    assert response.status_code == 200
    assert response.headers["HX-Location"] == (
        '{"path": "/tenant-onboard/admin", "target": "#wizard", "swap": "outerHTML"}')
    fragment = client.get("/tenant-onboard/admin", headers=HX)
    assert b"<html" not in fragment.data and b'aria-current="step">2. Admin account' in fragment.data


def test_steps_cannot_be_skipped(client):
    assert client.get("/tenant-onboard/review").headers["Location"] == "/tenant-onboard"
    assert client.post("/tenant-onboard/settings", data=SETTINGS).headers["Location"] == "/tenant-onboard"
    fill_clinic(client)
    assert client.get("/tenant-onboard/settings").headers["Location"] == "/tenant-onboard/admin"


def test_back_links_lead_to_the_previous_step_with_its_answers_kept(client):
    reach_review(client)
    review = client.get("/tenant-onboard/review").get_data(as_text=True)
    review_fragment = client.get("/tenant-onboard/review", headers=HX).get_data(as_text=True)
    assert "<html" not in review_fragment and "← Back" in review_fragment
    assert ('href="/tenant-onboard/settings" hx-get="/tenant-onboard/settings" hx-push-url="true" '
            'class="button secondary">← Back') in review
    admin = client.get("/tenant-onboard/admin").get_data(as_text=True)
    assert 'hx-get="/tenant-onboard" hx-push-url="true" class="button secondary">← Back' in admin
    assert 'value="Maria Lopez"' in admin and 'value="maria@sunrise-family.example"' in admin
    assert PASSWORD not in admin and "Leave both blank to keep the password you chose." in admin
    clinic = client.get("/tenant-onboard").get_data(as_text=True)
    assert 'value="Sunrise Family Clinic"' in clinic and 'value="sunrise-family"' in clinic


def test_going_back_and_leaving_the_password_blank_keeps_it(client):
    reach_review(client)
    response = fill_admin(client, password="", confirm="")
    assert response.headers["Location"] == "/tenant-onboard/settings"
    assert create(client).status_code == 303


def test_changing_your_name_means_typing_the_password_again(client):
    # The password was checked against the old details; it cannot be re-checked from its hash.
    reach_review(client)
    response = fill_admin(client, admin_name="María López", password="", confirm="")
    assert response.status_code == 422
    assert errors_beside(response, "password")[0].startswith("Your details changed since you chose the password")
    assert fill_admin(client, admin_name="María López").status_code == 303


def test_the_review_shows_every_answer_but_the_password(client):
    reach_review(client)
    html = unescape(client.get("/tenant-onboard/review").get_data(as_text=True))
    for shown in ("Sunrise Family Clinic", "sunrise-family.localhost", "Maria Lopez", "maria@sunrise-family.example",
                  "Europe/Paris", "EUR", "DD/MM/YYYY", "Create my clinic"):
        assert shown in html
    assert PASSWORD not in html and "$2b$" not in html


def test_password_fields_allow_pasting_and_ask_for_a_new_password(client):
    fill_clinic(client)
    html = client.get("/tenant-onboard/admin").get_data(as_text=True)
    assert html.count('autocomplete="new-password"') == 2
    assert "paste" not in html.replace("Pasting from a password manager is fine.", "").lower()
    assert 'maxlength' not in re.search(r'<input[^>]*id="password"[^>]*>', html).group(0)


def test_time_zones_are_canonical_grouped_by_region_and_left_for_the_browser_to_preselect(client):
    fill_clinic(client)
    fill_admin(client)
    html = client.get("/tenant-onboard/settings").get_data(as_text=True)
    select = re.search(r'<select[^>]*name="timezone".*?</select>', html, re.S).group(0)
    offered = re.findall(r'<option[^>]*value="([^"]+)"', select)
    assert "Europe/Paris" in offered and "America/New_York" in offered and "UTC" in offered
    assert set(offered) <= available_timezones()
    assert not {"Factory", "EST5EDT", "US/Eastern", "Etc/GMT+5", "posixrules"} & set(offered)
    assert len(offered) < 450 and '<optgroup label="Europe">' in select
    # Nothing chosen yet: UTC stands in (without JavaScript) and static/js/app.js puts the browser's zone there.
    assert 'data-browser-zone="unset"' in select and '<option selected value="UTC">' in select


# -- the rules, each with its message beside the field ------------------------------

BAD_SUBDOMAINS = [
    ("", "Choose an address for your clinic."),
    ("ab", "Use at least 3 characters."),
    ("a" * 64, "Use at most 63 characters (this one has 64)."),
    ("SunRise", "Use lower-case letters only: “sunrise”."),
    ("Sun_Rise", "Use lower-case letters only."),
    ("-sunrise", "Start and end with a letter or a digit, not a hyphen."),
    ("sunrise-", "Start and end with a letter or a digit, not a hyphen."),
    ("sun_rise", "Remove the underscore (_): use only letters a–z, digits 0–9 and hyphens (-)."),
    ("sun.rise", "Remove the dot (.): use only letters a–z, digits 0–9 and hyphens (-)."),
    ("sun rise", "Remove the space: use only letters a–z, digits 0–9 and hyphens (-)."),
    ("sünrise", "Remove “ü”: use only letters a–z, digits 0–9 and hyphens (-)."),
    ("xn--sunrise", "Addresses starting with “xn--” are not allowed: they encode other alphabets and can "
                    "imitate other names."),
    ("ab--sunrise", "Two hyphens in the 3rd and 4th places are reserved in web addresses. Move or remove one."),
    ("www", "“www” is reserved. Choose another address."),
    ("admin", "“admin” is reserved. Choose another address."),
    ("platform", "“platform” is reserved. Choose another address."),
]


@pytest.mark.parametrize("subdomain, message", BAD_SUBDOMAINS, ids=[v or "empty" for v, _ in BAD_SUBDOMAINS])
def test_a_bad_subdomain_is_refused_with_the_reason_beside_it(client, app, subdomain, message):
    response = fill_clinic(client, subdomain=subdomain)
    assert response.status_code == 422
    assert errors_beside(response, "subdomain") == [message]
    assert no_clinic_created(app)


def test_a_subdomain_in_use_is_taken_whatever_the_clinics_status(client, app, clinic_a):
    with app.app_context():
        half_created = new_tenant("Half", "halfway")
        half_created.status = "provisioning"
        half_created.save()
        Tenant.objects(subdomain="clinica").update(set__status="suspended")
    for taken in ("clinica", "halfway"):
        response = fill_clinic(client, subdomain=taken)
        assert response.status_code == 422
        assert errors_beside(response, "subdomain") == [f"“{taken}” is already taken. Choose another address."]
        assert clinics_at(app, taken) == 1


def test_an_address_abandoned_mid_creation_long_ago_is_free_again(client, app, frozen_clock):
    with app.app_context():
        crashed = new_tenant("Crashed", "sunrise-family", now=T0 - timedelta(minutes=11))
        crashed.status = "provisioning"
        crashed.save()
    assert sign_up(client).headers["Location"].startswith(WELCOME_URL)
    with app.app_context():
        assert Tenant.objects.get(subdomain="sunrise-family").status == "active"


def test_spaces_around_the_subdomain_are_ignored_but_case_is_not_folded(client):
    assert fill_clinic(client, subdomain="  sunrise-family ").status_code == 303
    assert fill_clinic(client, subdomain="Sunrise-Family").status_code == 422


@pytest.mark.parametrize("name, message", [
    ("", "Enter your clinic's name."),
    ("   ", "Enter your clinic's name."),
    ("x" * 121, "Use at most 120 characters."),
])
def test_the_clinic_needs_a_name_of_at_most_120_characters(client, app, name, message):
    response = fill_clinic(client, name=name)
    assert response.status_code == 422
    assert errors_beside(response, "name") == [message]
    assert no_clinic_created(app)


def test_a_120_character_clinic_name_is_fine(client):
    assert fill_clinic(client, name="x" * 120).status_code == 303


@pytest.mark.parametrize("password, message", [
    ("short pass", "Use at least 12 characters. A few unrelated words make a strong password."),
    ("password1234", "This password is on a list of common or breached passwords. Choose another."),
    ("maria@sunrise-family.example", "This password is too easy to guess."),  # the admin's email
    ("Sunrise Family Clinic", "This password is too easy to guess."),  # the clinic's name
    ("sunrise-family1234", "This password is too easy to guess."),  # the subdomain
    (PASSPHRASE_128 + "!", "Use at most 128 characters."),
], ids=["short", "common", "email", "clinic-name", "subdomain", "129-chars"])
def test_a_weak_password_is_refused_with_the_reason_beside_it(client, app, password, message):
    fill_clinic(client)
    response = fill_admin(client, password=password, confirm=password)
    assert response.status_code == 422
    assert errors_beside(response, "password")[0].startswith(message)
    for typed in re.findall(r'<input[^>]*type="password"[^>]*>', response.get_data(as_text=True)):
        assert 'value=""' in typed  # never sent back to the browser
    assert no_clinic_created(app)


def test_the_cursor_goes_to_the_first_field_with_an_error_when_the_form_comes_back(client):
    """htmx focuses the autofocus field after the swap: on the field at fault, not on the first field."""
    def autofocused(response):
        return re.findall(r'<input[^>]*\bautofocus\b[^>]*\bname="(\w+)"|<input[^>]*\bname="(\w+)"[^>]*\bautofocus\b',
                          response.get_data(as_text=True))

    assert [a or b for a, b in autofocused(client.get("/tenant-onboard"))] == ["name"]
    assert [a or b for a, b in autofocused(fill_clinic(client, subdomain="admin"))] == ["subdomain"]
    fill_clinic(client)
    assert [a or b for a, b in autofocused(client.get("/tenant-onboard/admin"))] == ["admin_name"]
    refused = fill_admin(client, password="password1234", confirm="password1234")
    assert refused.status_code == 422 and [a or b for a, b in autofocused(refused)] == ["password"]


@pytest.mark.parametrize("password", [PASSPHRASE_64, PASSPHRASE_128], ids=["64-chars", "128-chars"])
def test_a_long_passphrase_is_accepted(client, password):
    assert (len(PASSPHRASE_64), len(PASSPHRASE_128)) == (64, 128)
    fill_clinic(client)
    response = fill_admin(client, password=password, confirm=password)
    assert response.status_code == 303, errors_on_page(response)


def test_the_password_must_be_typed_twice_alike(client):
    fill_clinic(client)
    response = fill_admin(client, confirm=PASSWORD + "x")
    assert response.status_code == 422
    assert errors_beside(response, "confirm") == ["The passwords do not match."]


def test_a_password_is_required(client):
    fill_clinic(client)
    response = fill_admin(client, password="", confirm="")
    assert errors_beside(response, "password") == ["Choose a password."]


@pytest.mark.parametrize("email", ["not-an-email", "maria@", "@sunrise.example", "maria@@sunrise.example",
                                   "maria sunrise@example.com"])
def test_the_admin_email_must_look_like_an_email_address(client, app, email):
    fill_clinic(client)
    response = fill_admin(client, admin_email=email)
    assert response.status_code == 422
    assert errors_beside(response, "admin_email") == ["Enter a valid email address, like name@example.com."]
    assert no_clinic_created(app)


def test_the_admin_needs_a_name(client):
    fill_clinic(client)
    response = fill_admin(client, admin_name=" ")
    assert errors_beside(response, "admin_name") == ["Enter your name."]


@pytest.mark.parametrize("field, value, message", [
    ("timezone", "Mars/Olympus_Mons", "Choose a time zone from the list (IANA names, like Europe/Paris)."),
    ("timezone", "", "Choose a time zone from the list (IANA names, like Europe/Paris)."),
    ("currency", "XXX", "Choose a currency from the list."),
    ("date_format", "YY/MM/DD", "Choose a date format from the list."),
])
def test_settings_must_come_from_their_lists(client, app, field, value, message):
    fill_clinic(client)
    fill_admin(client)
    response = fill_settings(client, **{field: value})
    assert response.status_code == 422
    assert errors_beside(response, field) == [message]
    assert no_clinic_created(app)


# -- the live availability check ---------------------------------------------------------


@pytest.mark.parametrize("subdomain, css, message", [
    ("sunrise-family", "ok", "“sunrise-family” is available."),
    ("clinica", "error", "“clinica” is already taken. Choose another address."),
    ("admin", "error", "“admin” is reserved. Choose another address."),
    ("Sun_Rise", "error", "Use lower-case letters only."),
    ("sun_rise", "error", "Remove the underscore (_): use only letters a–z, digits 0–9 and hyphens (-)."),
])
def test_the_availability_check_answers_with_a_small_fragment(client, clinic_a, subdomain, css, message):
    response = client.get("/tenant-onboard/subdomain-check", query_string={"subdomain": subdomain}, headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert "HX-Request" in response.headers["Vary"]
    assert html.lstrip().startswith('<div id="subdomain-status"')
    assert f'class="{css}">{message}</span>' in unescape(html)
    assert f'<strong id="subdomain-preview">{subdomain}.localhost</strong>' in unescape(html)  # the preview too


def test_the_subdomain_field_checks_as_you_type(client):
    html = client.get("/tenant-onboard").get_data(as_text=True)
    field = re.search(r'<input[^>]*id="subdomain"[^>]*>', html).group(0)
    assert 'hx-get="/tenant-onboard/subdomain-check"' in field
    assert 'hx-trigger="input changed delay:300ms"' in field and 'hx-target="#subdomain-status"' in field


def test_the_availability_check_of_an_empty_field_says_nothing(client):
    response = client.get("/tenant-onboard/subdomain-check?subdomain=", headers=HX)
    html = response.get_data(as_text=True)
    assert 'id="subdomain-check"' not in html and "error" not in html and ">yourclinic.localhost<" in html


def test_the_availability_check_replaces_the_errors_and_preview_of_the_last_submit(client, clinic_a):
    """After "clinica is already taken" on Continue, typing another address must not leave that beside it."""
    page = client.post("/tenant-onboard", data={"name": "Sunrise", "subdomain": "clinica"})
    assert page.status_code == 422 and 'id="subdomain-error"' in page.get_data(as_text=True)
    status = re.search(r'<div id="subdomain-status".*?</div>', page.get_data(as_text=True), re.S).group(0)
    assert "clinica.localhost" in status and "already taken" in unescape(status)  # all inside what is swapped
    html = unescape(client.get("/tenant-onboard/subdomain-check?subdomain=sunrise", headers=HX).get_data(as_text=True))
    assert "“sunrise” is available." in html and ">sunrise.localhost<" in html
    assert "already taken" not in html and "clinica" not in html


def test_the_availability_check_without_javascript_shows_the_clinic_step(client):
    response = client.get("/tenant-onboard/subdomain-check?subdomain=admin")
    html = unescape(response.get_data(as_text=True))
    assert response.status_code == 200 and "<html" in html and 'value="admin"' in html
    assert "“admin” is reserved." in html


def test_the_availability_check_escapes_what_was_typed(client):
    response = client.get("/tenant-onboard/subdomain-check", query_string={"subdomain": "<script>"}, headers=HX)
    assert b"<script>" not in response.data and b"&lt;" in response.data


def test_every_reserved_name_is_refused(client):
    for name in sorted(RESERVED_SUBDOMAINS):
        response = client.get("/tenant-onboard/subdomain-check", query_string={"subdomain": name}, headers=HX)
        html = unescape(response.get_data(as_text=True))
        # Two-letter ones (mx, ns) already fail the length rule.
        assert f"“{name}” is reserved" in html or (len(name) < 3 and "at least 3" in html), name


# -- creating the clinic --------------------------------------------------------------------


def test_signing_up_creates_a_clinic_on_a_seven_day_trial_and_sends_you_to_its_login(client, app, frozen_clock):
    response = sign_up(client)
    assert response.status_code == 303
    assert response.headers["Location"].startswith(WELCOME_URL)
    with app.app_context():
        tenant = Tenant.objects.get(subdomain="sunrise-family")
        assert (tenant.name, tenant.status, tenant.subscription.plan) == ("Sunrise Family Clinic", "active", "trial")
        assert tenant.subscription.expires_at.replace(tzinfo=T0.tzinfo) == T0 + timedelta(days=7)
        with tenant_context(tenant):
            assert Role.objects.count() == 6
            admin = User.objects.get(email="maria@sunrise-family.example")
            assert admin.name == "Maria Lopez" and admin.role.name == "Admin" and admin.status == "active"
            assert admin.password_hash.startswith("$2b$") and check_password(PASSWORD, admin.password_hash)
            settings = Settings.objects.get()
            assert (settings.clinic_name, settings.timezone, settings.currency, settings.date_format) == (
                "Sunrise Family Clinic", "Europe/Paris", "EUR", "DD/MM/YYYY")
    login(client, tenant, "maria@sunrise-family.example", PASSWORD)


def test_signing_up_with_htmx_redirects_the_browser_to_the_clinics_login(client):
    reach_review(client)
    response = create(client, **HX)
    assert response.status_code == 200 and response.headers["HX-Redirect"].startswith(WELCOME_URL)


def test_the_admin_gets_one_welcome_email_with_the_login_link(client, app, mail, frozen_clock):
    sign_up(client)
    run_jobs(app)
    messages = mail()
    assert len(messages) == 1
    welcome = messages[0]
    assert welcome["To"] == "maria@sunrise-family.example"
    assert "Sunrise Family Clinic" in welcome["Subject"]
    body = welcome.get_body(preferencelist=("plain",)).get_content()
    assert LOGIN_URL in body
    assert "09/03/2026" in body  # trial end, in the clinic's date format and time zone


def test_the_wizard_is_forgotten_once_the_clinic_exists(client, app):
    reach_review(client)
    key = wizard_key(client)
    sign_up_response = create(client)
    assert sign_up_response.status_code == 303
    with app.app_context():
        assert not redis_conn().exists(key)
    with client.session_transaction() as session:
        assert "onboard_wizard" not in session
    assert client.get("/tenant-onboard/review").headers["Location"] == "/tenant-onboard"


def test_the_wizard_keeps_a_password_hash_never_the_password(client, app):
    fill_clinic(client)
    fill_admin(client)
    with app.app_context():
        key = wizard_key(client)
        raw = redis_conn().get(key).decode()
        assert PASSWORD not in raw and '"password_hash": "$2b$' in raw
        assert 0 < redis_conn().ttl(key) <= 3600
    with client.session_transaction() as session:
        assert set(session) <= {"onboard_wizard", "csrf_token"}


def test_expired_answers_send_you_back_to_the_start_with_a_note(client, app):
    fill_clinic(client)
    with app.app_context():
        redis_conn().delete(wizard_key(client))
    assert client.get("/tenant-onboard/admin").headers["Location"] == "/tenant-onboard"
    assert b"cleared after an hour" in client.get("/tenant-onboard").data


def test_create_rechecks_the_password_when_the_details_it_was_checked_against_changed(client, app):
    reach_review(client)
    fill_clinic(client, name="Amber Kettles Clinic")
    response = create(client)
    assert response.status_code == 422
    assert errors_beside(response, "password") == [
        "Your details changed since you chose the password, so it must be checked again: "
        "type it (or a new one) once more."]
    assert no_clinic_created(app)


def test_create_rechecks_every_answer(client, app):
    reach_review(client)
    with app.app_context():
        key = wizard_key(client)
        raw = redis_conn().get(key).decode().replace('"Europe/Paris"', '"Mars/Olympus_Mons"')
        redis_conn().set(key, raw)
    response = create(client)
    assert response.status_code == 422
    assert errors_beside(response, "timezone") == ["Choose a time zone from the list (IANA names, like Europe/Paris)."]
    assert no_clinic_created(app)


# -- races and failures --------------------------------------------------------------------------


def test_when_two_signups_want_the_same_subdomain_the_second_is_told_it_was_just_taken(app):
    first, second = app.test_client(), app.test_client()
    reach_review(first)
    reach_review(second, admin={"admin_email": "other@example.org"})
    assert create(first).status_code == 303
    response = create(second)
    assert response.status_code == 422
    assert errors_beside(response, "subdomain") == [
        "“sunrise-family” was just taken by another clinic. Choose another address."]
    assert clinics_at(app, "sunrise-family") == 1
    assert fill_clinic(second, subdomain="sunrise-family-2").status_code == 303
    # The password was checked against the old address, so it is typed again.
    assert b"Type your password again" in second.get("/tenant-onboard/admin").data
    assert fill_admin(second, admin_email="other@example.org").status_code == 303
    assert create(second).headers["Location"].startswith("http://sunrise-family-2.localhost:5000/login?welcome=")


def test_losing_the_race_after_the_final_check_still_says_just_taken(app, monkeypatch):
    first, second = app.test_client(), app.test_client()
    reach_review(first)
    reach_review(second, admin={"admin_email": "other@example.org"})
    assert create(first).status_code == 303
    # The second's final check ran before the first's insert: only the unique index stops it.
    monkeypatch.setattr(onboarding, "subdomain_taken", lambda value: False)
    response = create(second)
    assert response.status_code == 422
    assert errors_beside(response, "subdomain") == [
        "“sunrise-family” was just taken by another clinic. Choose another address."]
    assert clinics_at(app, "sunrise-family") == 1


def test_two_simultaneous_creates_make_one_clinic(app):
    clients = [app.test_client(), app.test_client()]
    for n, c in enumerate(clients):
        reach_review(c, admin={"admin_email": f"admin{n}@example.org"})
    start, results = threading.Barrier(2), []

    def go(c):
        start.wait()
        results.append(create(c))

    threads = [threading.Thread(target=go, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(r.status_code for r in results) == [303, 422]
    loser = next(r for r in results if r.status_code == 422)
    assert "was just taken" in errors_beside(loser, "subdomain")[0]
    assert clinics_at(app, "sunrise-family") == 1


def test_a_failure_midway_leaves_nothing_behind_and_says_so_kindly(client, app, monkeypatch):
    reach_review(client)
    written = []

    def fail(settings, *args, **kwargs):
        written.append(settings.tenant_id)
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(onboarding.Settings, "save", fail)
    response = create(client)
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "We could not create your clinic just now. Nothing was saved" in html
    assert "disk on fire" not in html and "Traceback" not in html
    (tenant_id,) = written
    with app.app_context():
        db = mongoengine.get_db()
        assert db.tenants.count_documents({}) == 0
        for name in db.list_collection_names():
            assert db[name].count_documents({"tenantId": tenant_id}) == 0, name
    monkeypatch.undo()
    assert create(client).headers["Location"].startswith(WELCOME_URL)  # the answers were kept: try again


# -- limits and hosts ----------------------------------------------------------------------------------


def test_too_many_signups_from_one_address_are_refused_kindly(app, monkeypatch):
    monkeypatch.setitem(app.config, "ONBOARD_LIMIT_IP", "2 per hour")
    for n in (1, 2):
        response = sign_up(app.test_client(), clinic={"subdomain": f"clinic-{n}"})
        assert response.status_code == 303
    third = sign_up(app.test_client(), clinic={"subdomain": "clinic-3"})
    assert third.status_code == 429
    assert b"Too many clinics were started from your network recently" in third.data
    assert clinics_at(app, "clinic-3") == 0


def test_the_availability_check_is_rate_limited_too(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "ONBOARD_CHECK_LIMIT_IP", "3 per minute")
    codes = [client.get("/tenant-onboard/subdomain-check?subdomain=abc", headers=HX).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


@pytest.mark.parametrize("path", ["/tenant-onboard", "/tenant-onboard/admin", "/tenant-onboard/settings",
                                  "/tenant-onboard/review", "/tenant-onboard/subdomain-check?subdomain=abc"])
def test_onboarding_is_not_served_on_a_clinic_subdomain(client, clinic_a, path):
    assert client.get(path, tenant=clinic_a).status_code == 404
    if "check" not in path:
        assert client.post(path, data=CLINIC, tenant=clinic_a).status_code == 404


def test_every_form_carries_its_csrf_token_and_create_refuses_a_post_without_one(services, app):
    # `app` too: its clean-up empties the database and queue this second app writes to.
    csrf_app = create_app(app_config(services, WTF_CSRF_ENABLED=True))
    csrf_app.test_client_class = TenantClient
    client = csrf_app.test_client()

    def token(path):
        html = client.get(path).get_data(as_text=True)
        return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)

    for path, answers in (("/tenant-onboard", CLINIC), ("/tenant-onboard/admin", ADMIN),
                          ("/tenant-onboard/settings", SETTINGS)):
        assert client.post(path, data={**answers, "csrf_token": token(path)}).status_code == 303
    assert client.post("/tenant-onboard/review").status_code == 400
    assert clinics_at(app, "sunrise-family") == 0
    with app.app_context():
        make_clinic("sunrise-family")  # someone else got there first
    lost = client.post("/tenant-onboard/review", data={"csrf_token": token("/tenant-onboard/review")})
    assert lost.status_code == 422
    # The re-shown clinic step carries a token, so a browser without JavaScript can go on from it.
    again = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', lost.get_data(as_text=True)).group(1)
    assert client.post("/tenant-onboard", data={**CLINIC, "subdomain": "sunrise-two", "csrf_token": again}
                       ).status_code == 303
    assert client.post("/tenant-onboard/admin", data={**ADMIN, "csrf_token": again}).status_code == 303
    response = client.post("/tenant-onboard/review", data={"csrf_token": again})
    assert response.headers["Location"].startswith("http://sunrise-two.localhost:5000/login?welcome=")
