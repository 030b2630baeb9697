"""My account: name, password change with re-authentication, and my sessions."""
import re

import pytest

from clinic_app.models import AuditEvent, User, UserSession
from tests.support import TEST_PASSWORD, login, signed_in_client, signed_in_user, stored, unchanged

HX = {"HX-Request": "true"}
NEW_PASSWORD = "plum tractor oboe lantern 91"


def snapshot(in_tenant, clinic):
    return stored(in_tenant, clinic, User, UserSession, AuditEvent)


def sessions(in_tenant, clinic, email):
    with in_tenant(clinic):
        return list(UserSession.objects(user=User.objects.get(email=email), revoked_at=None))


def events(in_tenant, clinic, action):
    with in_tenant(clinic):
        return list(AuditEvent.objects(action=action))


@pytest.fixture
def doctor(app, client, clinic_a, login_as):
    """The client signed in as a doctor, plus a second browser of the same doctor."""
    me = login_as(clinic_a, "Doctor")
    return me, signed_in_client(app, clinic_a, me.email)


def test_the_page_lists_my_sessions_and_marks_this_device(client, clinic_a, doctor, in_tenant):
    me, _ = doctor
    html = client.get("/account", tenant=clinic_a).get_data(as_text=True)
    assert len(re.findall(r"<tr data-session-id=", html)) == 2
    assert html.count('data-this-device="true"') == 1 and "(this device)" in html
    assert 'id="revoke-others"' in html and "127.0.0.1" in html


def test_i_can_change_my_name(client, clinic_a, doctor, in_tenant):
    response = client.post("/account/name", data={"name": "  Dr. Who  "}, tenant=clinic_a)
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    with in_tenant(clinic_a):
        assert User.objects.get(email="doctor@example.test").name == "Dr. Who"
    [event] = events(in_tenant, clinic_a, "account.name_change")
    assert event.changes == {"name": {"from": "Doctor User", "to": "Dr. Who"}}


def test_an_empty_name_is_422_beside_the_field(client, clinic_a, doctor, in_tenant):
    with unchanged(snapshot, in_tenant, clinic_a):
        response = client.post("/account/name", data={"name": " "}, headers=HX, tenant=clinic_a)
        html = response.get_data(as_text=True)
        assert response.status_code == 422 and "<html" not in html and 'id="name-form"' in html
        assert "HX-Request" in response.headers["Vary"]
        assert re.search(r'id="name-error">Enter your name.', html)


def _change(client, clinic, current=TEST_PASSWORD, new=NEW_PASSWORD, confirm=None, **kw):
    return client.post("/account/password", tenant=clinic, data={
        "current_password": current, "password": new, "confirm": confirm or new}, **kw)


def test_changing_my_password_keeps_this_session_and_ends_the_others(app, client, clinic_a, doctor, in_tenant):
    me, other = doctor
    response = _change(client, clinic_a)
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    assert client.get("/account", tenant=clinic_a).status_code == 200  # still signed in here
    gone = other.get("/account", tenant=clinic_a)
    assert gone.status_code == 302 and "/login" in gone.headers["Location"]
    assert len(sessions(in_tenant, clinic_a, me.email)) == 1
    login(app.test_client(), clinic_a, me.email, NEW_PASSWORD)
    refused = app.test_client().post("/login", data={"email": me.email, "password": TEST_PASSWORD},
                                     tenant=clinic_a)
    assert refused.status_code == 422
    [event] = events(in_tenant, clinic_a, "account.password_change")
    assert event.changes == {"sessions_revoked": 1} and event.target_id == me.pk


@pytest.mark.parametrize("data,field,message", [
    ({"current": "wrong password here"}, "current_password", "not your current password"),
    ({"current": ""}, "current_password", "Enter your current password"),
    ({"new": "short"}, "password", "at least 12"),
    ({"new": "password1234"}, "password", "common|easy to guess"),
    ({"confirm": "something else entirely"}, "confirm", "do not match"),
])
def test_bad_password_changes_are_422_beside_the_field_and_change_nothing(
        client, clinic_a, doctor, in_tenant, data, field, message):
    with unchanged(snapshot, in_tenant, clinic_a):
        response = _change(client, clinic_a, headers=HX, **data)
        html = response.get_data(as_text=True)
        assert response.status_code == 422 and "<html" not in html and 'id="password-form"' in html
        assert re.search(rf'id="{field}-error">[^<]*({message})', html), html


def test_guessing_the_current_password_is_throttled(app, client, clinic_a, doctor):
    assert app.extensions["throttle"].enabled
    for _ in range(5):
        assert _change(client, clinic_a, current="not my password at all").status_code == 422
    assert _change(client, clinic_a).status_code == 429  # even the right one, until the window passes


def test_i_can_sign_out_one_other_session(client, clinic_a, doctor, in_tenant):
    me, other = doctor
    html = client.get("/account", tenant=clinic_a).get_data(as_text=True)
    mine = re.search(r'data-session-id="(\w+)" data-this-device', html).group(1)
    [theirs] = [s for s in sessions(in_tenant, clinic_a, me.email) if str(s.pk) != mine]
    response = client.post(f"/account/sessions/{theirs.pk}/revoke", tenant=clinic_a)
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    assert other.get("/account", tenant=clinic_a).status_code == 302
    assert client.get("/account", tenant=clinic_a).status_code == 200
    [event] = events(in_tenant, clinic_a, "account.session_revoke")
    assert event.changes["session"] == str(theirs.pk)


def test_signing_out_this_session_from_the_list_signs_me_out(client, clinic_a, doctor):
    html = client.get("/account", tenant=clinic_a).get_data(as_text=True)
    mine = re.search(r'data-session-id="(\w+)" data-this-device', html).group(1)
    response = client.post(f"/account/sessions/{mine}/revoke", tenant=clinic_a)
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert client.get("/account", tenant=clinic_a).status_code == 302


def test_i_can_sign_out_all_my_other_sessions(app, client, clinic_a, doctor, in_tenant):
    me, other = doctor
    third = signed_in_client(app, clinic_a, me.email)
    response = client.post("/account/sessions/revoke-others", tenant=clinic_a, follow_redirects=True)
    assert b"Signed out 2 other sessions." in response.data
    assert other.get("/account", tenant=clinic_a).status_code == 302
    assert third.get("/account", tenant=clinic_a).status_code == 302
    assert len(sessions(in_tenant, clinic_a, me.email)) == 1
    [event] = events(in_tenant, clinic_a, "account.session_revoke")
    assert event.changes == {"sessions_revoked": 2, "others": True}


@pytest.mark.parametrize("theirs_in", ["my clinic", "another clinic"])
def test_someone_elses_session_is_not_found(app, client, clinic_a, clinic_b, doctor, in_tenant, theirs_in):
    """A nurse of my clinic, or another clinic's Admin: 404, nothing changed, their session still works."""
    if theirs_in == "my clinic":
        clinic = clinic_a
        user, theirs_client = signed_in_user(app, in_tenant, clinic, "Nurse")
        email = user.email
    else:
        clinic, email = clinic_b, "admin@clinicb.test"
        theirs_client = signed_in_client(app, clinic, email)
    [theirs] = sessions(in_tenant, clinic, email)
    with unchanged(snapshot, in_tenant, clinic):
        assert client.post(f"/account/sessions/{theirs.pk}/revoke", tenant=clinic_a).status_code == 404
    assert theirs_client.get("/account", tenant=clinic).status_code == 200


@pytest.mark.parametrize("bad_id", ["nope", "0" * 24])
def test_unknown_sessions_are_404(client, clinic_a, doctor, bad_id):
    assert client.post(f"/account/sessions/{bad_id}/revoke", tenant=clinic_a).status_code == 404


ROUTES = [
    ("GET", "/account"),
    ("POST", "/account/name"),
    ("POST", "/account/password"),
    ("POST", "/account/sessions/{id}/revoke"),
    ("POST", "/account/sessions/revoke-others"),
]


@pytest.mark.parametrize("method,path", ROUTES)
def test_every_role_has_an_account_page(client, clinic_a, login_as, in_tenant, method, path):
    """No permission is needed: even a role with no permissions at all manages its own account."""
    from clinic_app.models import Role

    with in_tenant(clinic_a):
        Role(name="Visitor", permissions={}).save()
    login_as(clinic_a, "Visitor")
    html = client.get("/account", tenant=clinic_a).get_data(as_text=True)
    mine = re.search(r'data-session-id="(\w+)"', html).group(1)
    response = client.open(path.format(id=mine), method=method, data={"name": "Vera Visitor"}, tenant=clinic_a)
    assert response.status_code in (200, 303, 422)


@pytest.mark.parametrize("method,path", ROUTES)
def test_signed_out_visitors_are_sent_to_sign_in(app, client, clinic_a, in_tenant, method, path):
    login(app.test_client(), clinic_a, "admin@clinica.test")
    [session] = sessions(in_tenant, clinic_a, "admin@clinica.test")
    with unchanged(snapshot, in_tenant, clinic_a):
        url = path.format(id=session.pk)
        page = client.open(url, method=method, data={"name": "X"}, tenant=clinic_a)
        assert page.status_code == 302 and page.headers["Location"].startswith("/login?next=")
        fragment = client.open(url, method=method, data={"name": "X"}, headers=HX, tenant=clinic_a)
        assert fragment.status_code == 401 and fragment.headers["HX-Redirect"].startswith("/login?next=")
