"""Sign-in on a clinic subdomain: sessions, cookies, throttling, reset links."""
import re
from datetime import timedelta

import pytest

from clinic_app.models import AuthToken, User, UserSession
from tests.support import TEST_PASSWORD, login, run_jobs, signed_in_client


def _post_login(client, tenant, email, password=TEST_PASSWORD, **kw):
    return client.post("/login", data={"email": email, "password": password}, tenant=tenant, **kw)


def test_admin_signs_in_and_reaches_the_dashboard(client, clinic_a):
    response = _post_login(client, clinic_a, "ADMIN@clinica.test ")  # case and spaces ignored
    assert response.status_code == 303 and response.headers["Location"] == "/"
    page = client.get("/", tenant=clinic_a)
    assert page.status_code == 200 and b"Ada Admin" in page.data


def test_unknown_user_and_wrong_password_get_the_same_message(client, clinic_a):
    unknown = _post_login(client, clinic_a, "nobody@clinica.test")
    wrong = _post_login(client, clinic_a, "admin@clinica.test", "wrong password here")
    assert unknown.status_code == wrong.status_code == 422
    assert b"Email or password is incorrect." in unknown.data
    assert b"Email or password is incorrect." in wrong.data


def test_a_user_of_another_clinic_cannot_sign_in_here(client, clinic_a, clinic_b):
    response = _post_login(client, clinic_b, "admin@clinica.test")
    assert response.status_code == 422
    assert client.get("/", tenant=clinic_b).status_code == 302


def test_deactivated_and_invited_users_cannot_sign_in(client, clinic_a, in_tenant):
    from tests.support import make_user

    with in_tenant(clinic_a):
        make_user("Nurse", email="gone@clinica.test", status="deactivated")
        make_user("Nurse", email="new@clinica.test", status="invited")
    assert _post_login(client, clinic_a, "gone@clinica.test").status_code == 422
    assert _post_login(client, clinic_a, "new@clinica.test").status_code == 422


def test_session_cookie_is_host_only_httponly_lax(client, clinic_a):
    response = _post_login(client, clinic_a, "admin@clinica.test")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("clinic_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Domain=" not in cookie
    assert "Secure" not in cookie  # development; production sets it
    expires = re.search(r"Expires=([^;]+)", cookie)
    assert expires  # a persistent 7-day cookie


def test_secure_cookie_in_production(services, clinic_a):
    from clinic_app import create_app
    from tests.conftest import app_config
    from tests.support import TenantClient

    prod = create_app(app_config(services, CLINIC_ENV="production", SESSION_COOKIE_SECURE=True))
    prod.test_client_class = TenantClient
    response = prod.test_client().post("/login", data={"email": "admin@clinica.test", "password": TEST_PASSWORD},
                                       tenant=clinic_a)
    assert "Secure" in response.headers["Set-Cookie"]


def test_login_starts_a_new_session(client, clinic_a):
    client.get("/login", tenant=clinic_a)
    with client.session_transaction(base_url="http://clinica.localhost") as sess:
        sess["planted"] = "by an attacker"
    _post_login(client, clinic_a, "admin@clinica.test")
    with client.session_transaction(base_url="http://clinica.localhost") as sess:
        assert "planted" not in sess
        assert sess["tenant_id"] == str(clinic_a.pk)


def test_a_cookie_from_clinic_a_replayed_on_clinic_b_is_signed_out(app, clinic_a, clinic_b):
    a = signed_in_client(app, clinic_a, "admin@clinica.test")
    cookie = a.get_cookie("clinic_session", domain="clinica.localhost")
    b = app.test_client()
    b.set_cookie("clinic_session", cookie.value, domain="clinicb.localhost")
    response = b.get("/", tenant=clinic_b)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    # and the replay did not hurt the original session
    assert a.get("/", tenant=clinic_a).status_code == 200


def test_logout_revokes_the_session_server_side(app, client, clinic_a, in_tenant):
    login(client, clinic_a, "admin@clinica.test")
    stolen = client.get_cookie("clinic_session", domain="clinica.localhost").value
    response = client.post("/logout", tenant=clinic_a)
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    thief = app.test_client()
    thief.set_cookie("clinic_session", stolen, domain="clinica.localhost")
    assert thief.get("/", tenant=clinic_a).status_code == 302
    with in_tenant(clinic_a):
        assert UserSession.objects(revoked_at=None).count() == 0


def test_idle_timeout_from_settings_signs_out(client, clinic_a, frozen_clock, in_tenant):
    from clinic_app.models import Settings

    with in_tenant(clinic_a):
        s = Settings.current()
        s.idle_timeout_minutes = 30
        s.save()
    login(client, clinic_a, "admin@clinica.test")
    frozen_clock.advance(minutes=29)
    assert client.get("/", tenant=clinic_a).status_code == 200
    frozen_clock.advance(minutes=29)  # 29 minutes since the last request
    assert client.get("/", tenant=clinic_a).status_code == 200
    frozen_clock.advance(minutes=31)
    assert client.get("/", tenant=clinic_a).status_code == 302


def test_sessions_end_after_seven_days_however_active(client, clinic_a, frozen_clock):
    start = frozen_clock.now()
    login(client, clinic_a, "admin@clinica.test")
    while frozen_clock.now() + timedelta(minutes=50) < start + timedelta(days=7):
        frozen_clock.advance(minutes=50)  # inside the idle timeout every time
        assert client.get("/", tenant=clinic_a).status_code == 200
    frozen_clock.set(start + timedelta(days=7))
    assert client.get("/", tenant=clinic_a).status_code == 302


def test_next_parameter_only_redirects_within_the_site(client, clinic_a):
    ok = client.post("/login?next=/subscription", data={"email": "admin@clinica.test", "password": TEST_PASSWORD},
                     tenant=clinic_a)
    assert ok.headers["Location"] == "/subscription"
    client.post("/logout", tenant=clinic_a)
    for evil in ("https://evil.com/", "//evil.com/", "/\\evil.com"):
        response = client.post(f"/login?next={evil}",
                               data={"email": "admin@clinica.test", "password": TEST_PASSWORD}, tenant=clinic_a)
        assert response.headers["Location"] == "/"
        client.post("/logout", tenant=clinic_a)


def test_htmx_login_answers_with_hx_redirect(client, clinic_a):
    response = _post_login(client, clinic_a, "admin@clinica.test", headers={"HX-Request": "true"})
    assert response.status_code == 200 and response.headers["HX-Redirect"] == "/"
    bad = _post_login(client, clinic_a, "admin@clinica.test", "nope nope nope", headers={"HX-Request": "true"})
    assert bad.status_code == 422 and b"<html" not in bad.data and b"incorrect" in bad.data


# -- throttling -------------------------------------------------------------------


@pytest.fixture
def tight_limits(app):
    saved = app.config["LOGIN_LIMIT_ACCOUNT"], app.config["LOGIN_LIMIT_IP"]
    app.config["LOGIN_LIMIT_ACCOUNT"], app.config["LOGIN_LIMIT_IP"] = "3 per 15 minutes", "6 per 15 minutes"
    yield
    app.config["LOGIN_LIMIT_ACCOUNT"], app.config["LOGIN_LIMIT_IP"] = saved


def test_failed_logins_are_throttled_per_account(client, clinic_a, tight_limits):
    for _ in range(3):
        assert _post_login(client, clinic_a, "admin@clinica.test", "wrong wrong wrong").status_code == 422
    blocked = _post_login(client, clinic_a, "admin@clinica.test")  # even the right password
    assert blocked.status_code == 429
    assert b"Too many failed sign-in attempts" in blocked.data
    # another account from the same address is not blocked yet
    assert _post_login(client, clinic_a, "someone@clinica.test", "x").status_code == 422


def test_successful_logins_do_not_count(client, clinic_a, tight_limits):
    for _ in range(5):
        login(client, clinic_a, "admin@clinica.test")
        client.post("/logout", tenant=clinic_a)


def test_the_address_throttle_spans_clinics(client, clinic_a, clinic_b, tight_limits):
    for i in range(3):
        _post_login(client, clinic_a, f"guess{i}@clinica.test", "wrong wrong wrong")
    for i in range(3):
        _post_login(client, clinic_b, f"guess{i}@clinicb.test", "wrong wrong wrong")
    # six failures from this address, spread over two subdomains
    assert _post_login(client, clinic_b, "admin@clinicb.test").status_code == 429


def test_account_throttle_is_keyed_by_tenant_not_host_spelling(client, clinic_a, tight_limits):
    for host in ("clinica.localhost", "CLINICA.localhost:5000", "clinica.localhost:80"):
        client.post("/login", data={"email": "admin@clinica.test", "password": "wrong wrong wrong"},
                    headers={"Host": host})
    assert _post_login(client, clinic_a, "admin@clinica.test").status_code == 429


# -- password reset ---------------------------------------------------------------


def _request_reset(app, client, tenant, email, mail):
    response = client.post("/password/forgot", data={"email": email}, tenant=tenant,
                           headers={"Host": f"{tenant.subdomain.upper()}.localhost:9999"})
    assert response.status_code == 303
    run_jobs(app)
    for message in reversed(mail()):
        if message["To"] == email:
            body = message.get_body(("plain",)).get_content()
            return re.search(r"(http://\S+/password/reset/\S+)", body).group(1)
    return None


def test_reset_link_is_emailed_on_the_canonical_host_and_works_once(app, client, clinic_a, mail, in_tenant):
    link = _request_reset(app, client, clinic_a, "admin@clinica.test", mail)
    assert link.startswith("http://clinica.localhost:5000/password/reset/")
    path = link.split(":5000", 1)[1]
    login(client, clinic_a, "admin@clinica.test")  # an existing session, to be revoked
    other = app.test_client()
    assert other.get(path, tenant=clinic_a).status_code == 200
    new = "a brand new passphrase for ada"
    done = other.post(path, data={"password": new, "confirm": new}, tenant=clinic_a)
    assert done.status_code == 303
    assert client.get("/", tenant=clinic_a).status_code == 302  # all sessions revoked
    login(other, clinic_a, "admin@clinica.test", new)
    again = app.test_client().post(path, data={"password": "another fresh passphrase", "confirm":
                                               "another fresh passphrase"}, tenant=clinic_a)
    assert again.status_code == 404 and b"no longer works" in again.data


def test_reset_link_expires(app, client, clinic_a, mail, frozen_clock):
    link = _request_reset(app, client, clinic_a, "admin@clinica.test", mail)
    frozen_clock.advance(minutes=31)
    path = link.split(":5000", 1)[1]
    assert client.get(path, tenant=clinic_a).status_code == 404


def test_reset_link_of_clinic_a_does_not_work_on_clinic_b(app, client, clinic_a, clinic_b, mail):
    link = _request_reset(app, client, clinic_a, "admin@clinica.test", mail)
    path = link.split(":5000", 1)[1]
    new = "a brand new passphrase for ada"
    response = client.post(path, data={"password": new, "confirm": new}, tenant=clinic_b)
    assert response.status_code == 404
    login(client, clinic_a, "admin@clinica.test")  # old password still works on A


def test_forgot_password_does_not_reveal_accounts(app, client, clinic_a, mail):
    known = client.post("/password/forgot", data={"email": "admin@clinica.test"}, tenant=clinic_a)
    unknown = client.post("/password/forgot", data={"email": "nobody@clinica.test"}, tenant=clinic_a)
    assert known.status_code == unknown.status_code == 303
    run_jobs(app)
    assert [m["To"] for m in mail()] == ["admin@clinica.test"]


def test_reset_refuses_a_weak_password_and_keeps_the_token(app, client, clinic_a, mail, in_tenant):
    link = _request_reset(app, client, clinic_a, "admin@clinica.test", mail)
    path = link.split(":5000", 1)[1]
    weak = client.post(path, data={"password": "password1234", "confirm": "password1234"}, tenant=clinic_a)
    assert weak.status_code == 422 and b"common" in weak.data
    with in_tenant(clinic_a):
        assert AuthToken.objects(used_at=None).count() == 1
    login(client, clinic_a, "admin@clinica.test")


def test_passwords_longer_than_72_bytes_are_fully_significant(app, clinic_a, in_tenant):
    from clinic_app.services.passwords import check_password, hash_password

    with app.app_context():
        long = "é" * 40 + "tail-one"
        hashed = hash_password(long)
        assert check_password(long, hashed)
        assert not check_password("é" * 40 + "tail-two", hashed)


def test_login_form_values_must_be_strings(client, clinic_a):
    response = client.post("/login", json={"email": {"$ne": None}, "password": {"$ne": None}}, tenant=clinic_a)
    assert response.status_code in (400, 415, 422)  # 415: a form endpoint refuses a JSON body (clinic_app/forms.py)
    assert client.get("/", tenant=clinic_a).status_code == 302


def test_user_lookup_is_per_clinic(app, clinic_a, clinic_b, in_tenant):
    with in_tenant(clinic_b):
        assert User.objects(email="admin@clinica.test").first() is None


def test_reset_accepts_a_128_character_passphrase(app, client, clinic_a, mail):
    link = _request_reset(app, client, clinic_a, "admin@clinica.test", mail)
    path = link.split(":5000", 1)[1]
    long = ("river lantern copper meadow " * 5)[:128]
    done = client.post(path, data={"password": long, "confirm": long}, tenant=clinic_a)
    assert done.status_code == 303
    login(client, clinic_a, "admin@clinica.test", long)


def test_loading_static_files_and_healthz_keeps_the_user_signed_in(client, clinic_a):
    """A browser fetches CSS/JS after every page; those requests bind no clinic."""
    login(client, clinic_a, "admin@clinica.test")
    assert client.get("/static/css/app.css", tenant=clinic_a).status_code == 200
    assert client.get("/healthz", tenant=clinic_a).status_code == 200
    assert client.get("/", tenant=clinic_a).status_code == 200
