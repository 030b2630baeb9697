"""Sign-in hardening: equal-cost login failures, reset links that die with a newer one, API auth by
the Authorization header alone, no-store on signed-in answers, one cookie lifetime."""
import re
import statistics
import time
from datetime import timedelta

import pytest

from clinic_app import create_app
from clinic_app.models import AuthToken, Patient
from clinic_app.services import platform as platform_svc
from clinic_app.tenancy import tenant_context
from tests.conftest import app_config
from tests.support import TEST_PASSWORD, TenantClient, api_secret, login, make_user, run_jobs

PATIENT = {"first_name": "Ana", "last_name": "Silva", "date_of_birth": "1990-05-01", "allergies": []}


def _app(services, **config):
    app = create_app(app_config(services, **config))
    app.test_client_class = TenantClient
    return app


# -- 8.12: every failure costs one bcrypt check at the configured rounds ------------------------------


def _median_ms(attempts, rounds=7):
    """{name: median milliseconds} of each attempt, taken in turns so a busy machine slows all alike."""
    for attempt in attempts.values():
        attempt()  # warm-up (connections, the dummy hash made once per rounds value)
    samples = {name: [] for name in attempts}
    for _ in range(rounds):
        for name, attempt in attempts.items():
            start = time.perf_counter()
            attempt()
            samples[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(values) for name, values in samples.items()}


@pytest.fixture
def slow_hashing(services):
    """An app with a real bcrypt cost (10 rounds) and no throttling, so attempts can repeat."""
    return _app(services, BCRYPT_ROUNDS=10, RATELIMIT_ENABLED=False)


def test_clinic_login_takes_as_long_for_unknown_invited_and_deactivated_as_for_a_wrong_password(
        slow_hashing, clinic_a):
    with slow_hashing.app_context(), tenant_context(clinic_a):
        make_user("Nurse", email="known@clinica.test")  # hashed with 10 rounds
        make_user("Nurse", email="gone@clinica.test", status="deactivated")
        make_user("Nurse", email="invited@clinica.test", status="invited", password=None)
    client = slow_hashing.test_client()

    def attempt(email):
        def post():
            response = client.post("/login", data={"email": email, "password": "not the password at all"},
                                   tenant=clinic_a)
            assert response.status_code == 422 and b"Email or password is incorrect." in response.data
        return post

    timings = _median_ms({email: attempt(email) for email in
                          ("known@clinica.test", "nobody@clinica.test", "invited@clinica.test", "gone@clinica.test")})
    # Before: ~60 ms for a known address against ~3 ms for the others (a dummy hash of 4 rounds).
    assert max(timings.values()) < 3 * min(timings.values()), timings


def test_operator_login_takes_as_long_for_an_unknown_or_disabled_operator(slow_hashing):
    with slow_hashing.app_context():
        platform_svc.create_operator("olga@ops.test", "Olga Ops", "violet tractor mango sunrise")
        platform_svc.create_operator("old@ops.test", "Old Ops", "violet tractor mango sunrise")
        platform_svc.set_operator_active("old@ops.test", False)
    client = slow_hashing.test_client()

    def attempt(email):
        def post():
            response = client.post("/platform/login", data={"email": email, "password": "not the password"})
            assert response.status_code == 422 and b"Email or password is incorrect." in response.data
        return post

    timings = _median_ms({email: attempt(email) for email in ("olga@ops.test", "nobody@ops.test", "old@ops.test")})
    assert max(timings.values()) < 3 * min(timings.values()), timings


def test_the_dummy_hash_uses_the_configured_rounds(slow_hashing):
    from clinic_app.services.passwords import _dummy_hash

    with slow_hashing.app_context():
        assert _dummy_hash(10).startswith(b"$2b$10$")
        assert _dummy_hash(10) is _dummy_hash(10)  # made once per rounds value


# -- 8.13: a password change or a newer reset link ends every older link ------------------------------


def _links(mail):
    return {re.search(r"http://\S+(/password/reset/\S+)", m.get_body(("plain",)).get_content()).group(1)
            for m in mail()}


def _request_reset(app, client, tenant, mail):
    """The path of the reset link this request emails (the one not seen before: Date ties in a second)."""
    before = _links(mail)
    assert client.post("/password/forgot", data={"email": "admin@clinica.test"}, tenant=tenant).status_code == 303
    run_jobs(app)
    (link,) = _links(mail) - before
    return link


NEW = "a brand new passphrase for ada"


def test_using_a_newer_reset_link_ends_the_older_one(app, client, clinic_a, mail):
    older = _request_reset(app, client, clinic_a, mail)
    newer = _request_reset(app, client, clinic_a, mail)
    assert older != newer
    assert client.post(newer, data={"password": NEW, "confirm": NEW}, tenant=clinic_a).status_code == 303
    again = "another fresh passphrase here"
    stale = client.post(older, data={"password": again, "confirm": again}, tenant=clinic_a)
    assert stale.status_code == 404 and b"no longer works" in stale.data
    login(client, clinic_a, "admin@clinica.test", NEW)


def test_asking_for_a_new_reset_link_ends_the_older_one(app, client, clinic_a, mail):
    older = _request_reset(app, client, clinic_a, mail)
    newer = _request_reset(app, client, clinic_a, mail)
    assert client.get(older, tenant=clinic_a).status_code == 404
    assert client.get(newer, tenant=clinic_a).status_code == 200


def test_changing_the_password_on_the_account_page_ends_every_reset_link(app, client, clinic_a, mail, in_tenant):
    link = _request_reset(app, client, clinic_a, mail)
    login(client, clinic_a, "admin@clinica.test")
    changed = client.post("/account/password", tenant=clinic_a,
                          data={"current_password": TEST_PASSWORD, "password": NEW, "confirm": NEW})
    assert changed.status_code == 303
    stranger = app.test_client()
    assert stranger.get(link, tenant=clinic_a).status_code == 404
    hijack = "the attacker's own passphrase"
    assert stranger.post(link, data={"password": hijack, "confirm": hijack}, tenant=clinic_a).status_code == 404
    with in_tenant(clinic_a):
        assert AuthToken.objects(purpose="reset", used_at=None).count() == 0


# -- 8.14: an Authorization header authenticates alone; CSRF follows how the request was authenticated


@pytest.fixture
def csrf_app(services):
    return _app(services, WTF_CSRF_ENABLED=True)


def _signed_in_with_csrf(app, tenant):
    """A client signed in through the real form; returns (client, the page's CSRF token)."""
    client = app.test_client()
    page = client.get("/login", tenant=tenant).get_data(as_text=True)
    token = page.split('"X-CSRFToken": "')[1].split('"')[0]
    response = client.post("/login", tenant=tenant,
                           data={"email": f"admin@{tenant.subdomain}.test", "password": TEST_PASSWORD,
                                 "csrf_token": token})
    assert response.status_code == 303
    page = client.get("/", tenant=tenant).get_data(as_text=True)
    return client, page.split('"X-CSRFToken": "')[1].split('"')[0]


def _patients(app, tenant):
    with app.app_context(), tenant_context(tenant):
        return Patient.objects.count()


@pytest.mark.parametrize("header", ["Bearer garbage", "Bearer cat_not-a-real-token", "Basic YWRtaW46eA==", "Bearer"])
def test_a_bad_authorization_header_with_a_valid_cookie_is_401_and_writes_nothing(csrf_app, clinic_a, header):
    client, csrf = _signed_in_with_csrf(csrf_app, clinic_a)
    for headers in ({"Authorization": header}, {"Authorization": header, "X-CSRFToken": csrf}):
        created = client.post("/api/v1/patients", json=PATIENT, headers=headers, tenant=clinic_a)
        assert created.status_code == 401, created.get_data(as_text=True)
        assert created.json == {"success": False,
                                "error": {"code": 401, "message": "The API token is invalid or revoked."}}
    read = client.get("/api/v1/patients", headers={"Authorization": header}, tenant=clinic_a)
    assert read.status_code == 401
    assert _patients(csrf_app, clinic_a) == 0
    # the cookie session itself still works, with its CSRF header
    ok = client.post("/api/v1/patients", json=PATIENT, headers={"X-CSRFToken": csrf}, tenant=clinic_a)
    assert ok.status_code == 201


def test_a_valid_token_needs_no_csrf_header(csrf_app, clinic_a, in_tenant):
    secret = api_secret(in_tenant, clinic_a)
    response = csrf_app.test_client().post("/api/v1/patients", json=PATIENT, tenant=clinic_a,
                                           headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 201 and response.json["success"] is True


def test_a_valid_token_beside_a_cookie_acts_as_the_token(csrf_app, clinic_a, in_tenant):
    client, _ = _signed_in_with_csrf(csrf_app, clinic_a)  # an Admin's cookie
    rep = api_secret(in_tenant, clinic_a, "Medical Representative")  # may not read patients
    response = client.get("/api/v1/patients", headers={"Authorization": f"Bearer {rep}"}, tenant=clinic_a)
    assert response.status_code == 403


def test_a_cookie_session_without_the_csrf_header_is_refused(csrf_app, clinic_a):
    client, _ = _signed_in_with_csrf(csrf_app, clinic_a)
    response = client.post("/api/v1/patients", json=PATIENT, tenant=clinic_a)
    assert response.status_code in (400, 403)
    assert _patients(csrf_app, clinic_a) == 0


def test_a_revoked_token_says_so(app, client, clinic_a, in_tenant):
    secret = api_secret(in_tenant, clinic_a)
    with in_tenant(clinic_a):
        from clinic_app.models import ApiToken
        from clinic_app.services.api_tokens import revoke_token

        revoke_token(ApiToken.objects.get())
    response = client.get("/api/v1/patients", headers={"Authorization": f"Bearer {secret}"}, tenant=clinic_a)
    assert response.status_code == 401 and response.json["error"]["message"] == "The API token is invalid or revoked."


def test_no_credentials_at_all_still_says_sign_in_first(client, clinic_a):
    response = client.get("/api/v1/patients", tenant=clinic_a)
    assert response.status_code == 401 and response.json["error"]["message"] == "Sign in first."


# -- 8.17: nothing behind sign-in is cached; the cookie lives as long as the server session -----------


def test_signed_in_pages_fragments_and_api_answers_are_no_store(app, client, clinic_a, login_as):
    login_as(clinic_a, "Admin")
    for path, headers in (("/", {}), ("/patients/", {}), ("/patients/", {"HX-Request": "true"}),
                          ("/api/v1/patients", {}), ("/account", {}), ("/no-such-page", {})):
        response = client.get(path, headers=headers, tenant=clinic_a)
        assert response.headers.get("Cache-Control") == "no-store", (path, response.status_code)


def test_token_answers_are_no_store(app, client, clinic_a, in_tenant):
    secret = api_secret(in_tenant, clinic_a)
    response = client.get("/api/v1/patients", headers={"Authorization": f"Bearer {secret}"}, tenant=clinic_a)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"


def test_operator_console_is_no_store(client, app):
    with app.app_context():
        platform_svc.create_operator("olga@ops.test", "Olga Ops", "violet tractor mango sunrise")
    client.post("/platform/login", data={"email": "olga@ops.test", "password": "violet tractor mango sunrise"})
    response = client.get("/platform/")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"


def test_public_pages_and_static_files_stay_cacheable(client, clinic_a, login_as):
    assert "no-store" not in client.get("/login", tenant=clinic_a).headers.get("Cache-Control", "")
    assert "no-store" not in client.get("/").headers.get("Cache-Control", "")  # the apex landing page
    login_as(clinic_a, "Admin")
    static = client.get("/static/css/app.css", tenant=clinic_a)
    assert static.status_code == 200 and "no-store" not in static.headers.get("Cache-Control", "")


def test_the_session_cookie_lives_as_long_as_the_server_session(app, client, clinic_a):
    from datetime import datetime, timezone
    from email.utils import parsedate_to_datetime

    response = client.post("/login", data={"email": "admin@clinica.test", "password": TEST_PASSWORD},
                           tenant=clinic_a)
    expires = parsedate_to_datetime(re.search(r"Expires=([^;]+)", response.headers["Set-Cookie"]).group(1))
    lifetime = expires - datetime.now(timezone.utc)  # Flask dates the cookie by the wall clock
    assert app.config["SESSION_LIFETIME_DAYS"] == 7
    assert timedelta(days=6, hours=23) < lifetime <= timedelta(days=7)  # was 31 days
