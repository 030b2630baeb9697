"""Passwords built from the clinic's name, address or the person's own name and email are refused
wherever a password is chosen; the new clinic's first sign-in greets its admin."""
import re
from datetime import timedelta
from html import unescape

import pytest

from clinic_app.models import AuthToken
from clinic_app.services.passwords import context_words, password_problem
from tests.support import TEST_PASSWORD, login, make_user

SUNRISE = ("maria@sunrise-family.example", "Sunrise Family Clinic", "sunrise-family", "María López")


def _errors(response, field="password"):
    html = response.get_data(as_text=True)
    return [unescape(m) for m in re.findall(rf'<p class="error" id="{field}-error">(.*?)</p>', html, re.S)]


@pytest.mark.parametrize("password", [
    "sunrisefamily2024",  # the subdomain run together
    "sunrise-family-2024!",  # the subdomain as typed
    "SunriseFamily!2025",
    "Sunrise-Family-Clinic-2024",  # the clinic's name
    "sunrise-family.localhost",  # the clinic's address
    "marialopez-1990!",  # the admin's name without its accents
    "maria@sunrise-family.example",  # the email
])
def test_a_password_built_from_context_words_is_refused(app, password):
    with app.app_context():
        assert password_problem(password, SUNRISE).startswith("This password is too easy to guess.")


@pytest.mark.parametrize("password", [
    "amber kettles drift past seven quiet lanterns",
    "river lantern sunrise meadow",  # one of the clinic's words among unrelated ones is fine
    "sunrise family copper lantern meadow",  # even the whole name, when the rest is strong on its own
])
def test_strong_passwords_that_merely_share_a_word_are_accepted(app, password):
    with app.app_context():
        assert password_problem(password, SUNRISE) is None


def test_context_words_of_a_clinic_are_its_name_and_subdomain(clinic_a):
    assert context_words(email="ada@x.test", name="Ada", tenant=clinic_a) == ("ada@x.test", "Ada", "Clinic A",
                                                                              "clinica")


def test_onboarding_refuses_a_password_containing_the_subdomain(client):
    from tests.test_onboarding import fill_admin, fill_clinic

    assert fill_clinic(client).status_code == 303
    weak = "sunrise-family-2024!"
    response = fill_admin(client, password=weak, confirm=weak)
    assert response.status_code == 422
    assert _errors(response)[0].startswith("This password is too easy to guess.")


@pytest.fixture
def zephyr(app):
    """A clinic whose address is not its name run together (so only the subdomain gives it away)."""
    from tests.support import make_clinic

    with app.app_context():
        return make_clinic("zephyrcare", "Harbour Health")


WEAK = "zephyrcare-2024!"  # fine for zxcvbn unless it knows the subdomain


def test_accepting_an_invitation_refuses_the_clinic_subdomain(app, client, zephyr, in_tenant):
    with in_tenant(zephyr):
        user = make_user("Nurse", email="nina@example.test", name="Nina Nurse", status="invited", password=None)
        token = AuthToken.issue(user, "invite", timedelta(days=1))
    response = client.post(f"/invite/{token}", data={"name": "Nina Nurse", "password": WEAK, "confirm": WEAK},
                           tenant=zephyr)
    assert response.status_code == 422 and _errors(response)[0].startswith("This password is too easy to guess.")
    # the name typed on the form counts too
    weak = "bartholomewquince-77"
    response = client.post(f"/invite/{token}", data={"name": "Bartholomew Quince", "password": weak,
                                                     "confirm": weak}, tenant=zephyr)
    assert response.status_code == 422


def test_a_reset_refuses_the_clinic_subdomain(app, client, zephyr, in_tenant):
    with in_tenant(zephyr):
        user = make_user("Nurse", email="nina@example.test", name="Nina Nurse")
        token = AuthToken.issue(user, "reset", timedelta(minutes=30))
    response = client.post(f"/password/reset/{token}", data={"password": WEAK, "confirm": WEAK}, tenant=zephyr)
    assert response.status_code == 422 and _errors(response)[0].startswith("This password is too easy to guess.")


def test_the_account_page_refuses_the_clinic_subdomain(client, zephyr, in_tenant):
    with in_tenant(zephyr):
        make_user("Nurse", email="nina@example.test", name="Nina Nurse")
    login(client, zephyr, "nina@example.test")
    response = client.post("/account/password", tenant=zephyr,
                           data={"current_password": TEST_PASSWORD, "password": WEAK, "confirm": WEAK})
    assert response.status_code == 422 and _errors(response)[0].startswith("This password is too easy to guess.")


# -- after the wizard ---------------------------------------------------------------------------------


def _sign_up(client):
    from tests.test_onboarding import sign_up

    response = sign_up(client)
    assert response.status_code == 303
    return response.headers["Location"]


def test_after_the_wizard_the_login_page_says_the_clinic_is_ready_with_the_email_filled_in(app, client):
    location = _sign_up(client)
    assert location.startswith("http://sunrise-family.localhost:5000/login?welcome=")
    assert "maria" not in location.lower() and "%40" not in location  # the email is not in the URL
    host = {"base_url": "http://sunrise-family.localhost"}
    landing = client.get(location.split(":5000", 1)[1], **host)
    assert landing.status_code == 302 and landing.headers["Location"] == "/login"  # a clean URL for history
    page = client.get("/login", **host).get_data(as_text=True)
    assert "Your clinic is ready — sign in" in page
    field = re.search(r'<input[^>]*id="email"[^>]*>', page).group(0)
    assert 'value="maria@sunrise-family.example"' in field and "autofocus" not in field
    assert "autofocus" in re.search(r'<input[^>]*id="password"[^>]*>', page).group(0)
    # only once: a reload, or the link replayed, shows the plain page
    again = client.get("/login", **host).get_data(as_text=True)
    assert "Your clinic is ready" not in again and "maria@" not in again
    replay = app.test_client()
    replay.get(location.split(":5000", 1)[1], **host)
    assert "maria@" not in replay.get("/login", **host).get_data(as_text=True)


def test_a_welcome_key_of_one_clinic_does_nothing_on_another(app, client, clinic_a):
    location = _sign_up(client)
    key_path = location.split(":5000", 1)[1]
    other = app.test_client()
    other.get(key_path, tenant=clinic_a)
    assert "sunrise-family.example" not in other.get("/login", tenant=clinic_a).get_data(as_text=True)
