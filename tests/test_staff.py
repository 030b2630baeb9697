"""Staff area: list, invite (email + acceptance), role changes, deactivation, and who may do what."""
import re

import pytest

from clinic_app.models import AuditEvent, AuthToken, Role, User, UserSession
from tests.support import TEST_PASSWORD, login, make_user, run_jobs, signed_in_user, stored, unchanged

HX = {"HX-Request": "true"}
NEW_PASSWORD = "plum tractor oboe lantern 91"


def snapshot(in_tenant, clinic):
    """Everything the staff area could touch in `clinic`, as stored."""
    return stored(in_tenant, clinic, User, Role, UserSession, AuthToken, AuditEvent)


def events(in_tenant, clinic, action):
    with in_tenant(clinic):
        return list(AuditEvent.objects(action=action).order_by("at"))


def user(in_tenant, clinic, email):
    with in_tenant(clinic):
        return User.objects(email=email).first()


def role_id(in_tenant, clinic, name):
    with in_tenant(clinic):
        return str(Role.objects.get(name=name).pk)


# -- list ----------------------------------------------------------------------------


def test_staff_list_shows_name_email_role_status_and_last_sign_in(client, clinic_a, login_as, in_tenant):
    login_as(clinic_a)
    with in_tenant(clinic_a):
        make_user("Nurse", email="nina@example.test", name="Nina Nurse", status="deactivated")
    html = client.get("/staff/", tenant=clinic_a).get_data(as_text=True)
    assert 'id="staff-table"' in html
    assert "Ada Admin" in html and "admin@clinica.test" in html and 'data-role="Admin"' in html
    assert "Nina Nurse" in html and 'data-status="deactivated"' in html
    admin_row = html.split('data-email="admin@clinica.test"')[1].split("</tr>")[0]
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", admin_row)  # signed in just now
    assert "—" in html.split('data-email="nina@example.test"')[1].split("</tr>")[0]  # never signed in


def test_the_list_shows_only_this_clinics_people(client, clinic_a, clinic_b, login_as, in_tenant):
    with in_tenant(clinic_b):
        make_user("Nurse", email="only.in.b@example.test")
    login_as(clinic_a)
    html = client.get("/staff/", tenant=clinic_a).get_data(as_text=True)
    assert "admin@clinica.test" in html
    assert "only.in.b@example.test" not in html and "admin@clinicb.test" not in html


def test_doctor_may_read_the_staff_list_but_sees_no_invite_button(client, clinic_a, login_as):
    login_as(clinic_a, "Doctor")
    response = client.get("/staff/", tenant=clinic_a)
    assert response.status_code == 200 and b'id="invite-staff"' not in response.data


def test_a_doctor_sees_a_colleague_without_any_controls(client, clinic_a, login_as, in_tenant):
    login_as(clinic_a, "Doctor")
    with in_tenant(clinic_a):
        nurse = make_user("Nurse")
    html = client.get(f"/staff/{nurse.pk}", tenant=clinic_a).get_data(as_text=True)
    assert 'id="staff-member"' in html and "nurse@example.test" in html
    assert "<form" not in html.split('<main id="main">')[1]


def test_the_forms_carry_a_working_csrf_token(services, clinic_a, in_tenant):
    """With CSRF on (as in production), the token in the page's form is accepted and its absence is not."""
    from clinic_app import create_app
    from tests.conftest import app_config
    from tests.support import TenantClient

    app = create_app(app_config(services, WTF_CSRF_ENABLED=True))
    app.test_client_class = TenantClient
    client = app.test_client()
    token = lambda html: re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)  # noqa: E731
    login_page = client.get("/login", tenant=clinic_a).get_data(as_text=True)
    client.post("/login", data={"email": "admin@clinica.test", "password": TEST_PASSWORD,
                                "csrf_token": token(login_page)}, tenant=clinic_a)
    form = client.get("/staff/invite", tenant=clinic_a).get_data(as_text=True)
    data = {"email": "csrf@example.test", "role": role_id(in_tenant, clinic_a, "Nurse")}
    assert client.post("/staff/invite", data=data, tenant=clinic_a).status_code == 400
    assert client.post("/staff/invite", data={**data, "csrf_token": token(form)}, tenant=clinic_a).status_code == 303


# -- invite ----------------------------------------------------------------------------


def invite(client, clinic, role, email="new.person@example.test", name=""):
    return client.post("/staff/invite", data={"email": email, "name": name, "role": role}, tenant=clinic)


def test_invite_creates_an_invited_user_and_the_email_arrives_with_the_canonical_link(
        app, client, clinic_a, login_as, in_tenant, mail):
    login_as(clinic_a)
    nurse = role_id(in_tenant, clinic_a, "Nurse")
    # Another port and other letter case in Host: the link must still use the clinic's canonical host.
    response = client.post("/staff/invite", data={"email": "Nina@Example.TEST", "role": nurse, "name": "Nina"},
                           headers={"Host": "ClinicA.LOCALHOST:8080"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/staff/")
    invited = user(in_tenant, clinic_a, "nina@example.test")
    assert invited.status == "invited" and invited.password_hash is None and invited.name == "Nina"
    with in_tenant(clinic_a):
        assert invited.role.name == "Nurse"
    run_jobs(app)
    [message] = [m for m in mail() if m["To"] == "nina@example.test"]
    body = message.get_body(("plain",)).get_content()
    links = re.findall(r"https?://\S+", body)
    assert len(links) == 1 and re.fullmatch(r"http://clinica\.localhost:5000/invite/[\w-]+", links[0])
    assert "Clinic A" in message["Subject"] and "Nurse" in body
    [event] = events(in_tenant, clinic_a, "staff.invite")
    assert event.target_id == invited.pk and event.actor.endswith("<admin@clinica.test>")
    assert event.changes["status"] == {"from": None, "to": "invited"}
    assert event.changes["role"] == {"from": None, "to": "Nurse"}


def _invite_link(app, client, clinic, in_tenant, mail, email="new.person@example.test"):
    response = invite(client, clinic, email=email, role=role_id(in_tenant, clinic, "Doctor"))
    assert response.status_code == 303
    run_jobs(app)
    body = [m for m in mail() if m["To"] == email][-1].get_body(("plain",)).get_content()
    return re.search(r"http://\S+/invite/[\w-]+", body).group(0)


def test_an_invitation_is_accepted_end_to_end(app, client, clinic_a, login_as, in_tenant, mail):
    login_as(clinic_a)
    link = _invite_link(app, client, clinic_a, in_tenant, mail)
    path = link.split(":5000", 1)[1]
    guest = app.test_client()
    page = guest.get(path, tenant=clinic_a)
    assert page.status_code == 200 and b"Join Clinic A" in page.data
    done = guest.post(path, data={"name": "Dora Doctor", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
                      tenant=clinic_a)
    assert done.status_code == 303 and done.headers["Location"] == "/"
    assert guest.get("/", tenant=clinic_a).status_code == 200  # signed in
    joined = user(in_tenant, clinic_a, "new.person@example.test")
    assert joined.status == "active" and joined.name == "Dora Doctor" and joined.password_hash
    assert guest.get(path, tenant=clinic_a).status_code == 404  # single use


def test_an_invitation_of_clinic_a_is_404_on_clinic_b(app, client, clinic_a, clinic_b, login_as, in_tenant, mail):
    login_as(clinic_a)
    path = _invite_link(app, client, clinic_a, in_tenant, mail).split(":5000", 1)[1]
    other = app.test_client()
    assert other.get(path, tenant=clinic_b).status_code == 404
    posted = other.post(path, data={"name": "X", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
                        tenant=clinic_b)
    assert posted.status_code == 404
    assert user(in_tenant, clinic_a, "new.person@example.test").status == "invited"
    assert user(in_tenant, clinic_b, "new.person@example.test") is None


def test_inviting_a_member_again_is_a_field_error_whatever_the_case(client, clinic_a, login_as, in_tenant):
    login_as(clinic_a)
    with unchanged(snapshot, in_tenant, clinic_a):
        response = invite(client, clinic_a, email="ADMIN@clinica.test", role=role_id(in_tenant, clinic_a, "Nurse"))
        assert response.status_code == 422
        html = response.get_data(as_text=True)
        assert re.search(r'id="email-error">[^<]*already a member', html)


@pytest.mark.parametrize("data,field,message", [
    ({"email": "not-an-email", "role": "Nurse"}, "email", "valid email"),
    ({"email": "", "role": "Nurse"}, "email", "Enter their email address"),
    ({"email": "ok@example.test", "role": ""}, "role", "Choose a role"),
    ({"email": "ok@example.test", "role": "000000000000000000000000"}, "role", "from the list"),
    ({"email": "ok@example.test", "role": "Nurse", "name": "x" * 121}, "name", "120"),
])
def test_invalid_invitations_are_422_beside_the_field_and_save_nothing(
        client, clinic_a, login_as, in_tenant, data, field, message):
    login_as(clinic_a)
    if data["role"] == "Nurse":
        data = {**data, "role": role_id(in_tenant, clinic_a, "Nurse")}
    with unchanged(snapshot, in_tenant, clinic_a):
        response = client.post("/staff/invite", data=data, headers=HX, tenant=clinic_a)
        assert response.status_code == 422
        html = response.get_data(as_text=True)
        assert "<html" not in html and "HX-Request" in response.headers["Vary"]
        assert re.search(rf'id="{field}-error">[^<]*{message}', html), html


def test_a_role_of_another_clinic_cannot_be_given(client, clinic_a, clinic_b, login_as, in_tenant):
    login_as(clinic_a)
    response = invite(client, clinic_a, role=role_id(in_tenant, clinic_b, "Nurse"))
    assert response.status_code == 422 and b"from the list" in response.data
    assert user(in_tenant, clinic_a, "new.person@example.test") is None


def test_resending_an_invitation_mails_a_new_link_and_the_old_one_stops_working(
        app, client, clinic_a, login_as, in_tenant, mail):
    login_as(clinic_a)
    first = _invite_link(app, client, clinic_a, in_tenant, mail)
    invited = user(in_tenant, clinic_a, "new.person@example.test")
    response = client.post(f"/staff/{invited.pk}/resend", tenant=clinic_a)
    assert response.status_code == 303
    run_jobs(app)
    links = [re.search(r"http://\S+/invite/[\w-]+", m.get_body(("plain",)).get_content()).group(0)
             for m in mail() if m["To"] == "new.person@example.test"]
    # Two messages may carry the same Date header, so their order in the sink is not known.
    [second] = set(links) - {first}
    assert len(links) == 2 and first in links
    guest = app.test_client()
    assert guest.get(first.split(":5000", 1)[1], tenant=clinic_a).status_code == 404
    assert guest.get(second.split(":5000", 1)[1], tenant=clinic_a).status_code == 200
    assert len(events(in_tenant, clinic_a, "staff.invite_resend")) == 1


def test_resending_to_an_active_user_sends_nothing(app, client, clinic_a, login_as, in_tenant, mail):
    admin = login_as(clinic_a)
    response = client.post(f"/staff/{admin.pk}/resend", tenant=clinic_a, follow_redirects=True)
    assert b"is not waiting for an invitation" in response.data
    run_jobs(app)
    assert mail() == []


# -- roles of users --------------------------------------------------------------------


def test_changing_a_role_is_saved_and_audited_with_before_and_after(client, clinic_a, login_as, in_tenant):
    login_as(clinic_a)
    with in_tenant(clinic_a):
        nurse = make_user("Nurse")
    response = client.post(f"/staff/{nurse.pk}/role", data={"role": role_id(in_tenant, clinic_a, "Doctor")},
                           tenant=clinic_a)
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/staff/{nurse.pk}")
    with in_tenant(clinic_a):
        assert User.objects.get(pk=nurse.pk).role.name == "Doctor"
    [event] = events(in_tenant, clinic_a, "staff.role_change")
    assert event.changes == {"role": {"from": "Nurse", "to": "Doctor"}} and event.target_id == nurse.pk


def test_an_htmx_role_change_answers_with_hx_redirect(client, clinic_a, login_as, in_tenant):
    login_as(clinic_a)
    with in_tenant(clinic_a):
        nurse = make_user("Nurse")
    response = client.post(f"/staff/{nurse.pk}/role", data={"role": role_id(in_tenant, clinic_a, "Doctor")},
                           headers=HX, tenant=clinic_a)
    assert response.status_code == 200 and response.headers["HX-Redirect"] == f"/staff/{nurse.pk}"


def test_a_bad_role_change_is_422_beside_the_field_and_changes_nothing(client, clinic_a, login_as, in_tenant):
    login_as(clinic_a)
    with in_tenant(clinic_a):
        nurse = make_user("Nurse")
    with unchanged(snapshot, in_tenant, clinic_a):
        response = client.post(f"/staff/{nurse.pk}/role", data={"role": "nonsense"}, headers=HX, tenant=clinic_a)
        assert response.status_code == 422
        html = response.get_data(as_text=True)
        assert "<html" not in html and 'id="role-form"' in html and "HX-Request" in response.headers["Vary"]
        assert re.search(r'id="role-error">Choose a role from the list', html)


def test_the_last_active_admin_cannot_be_demoted(client, clinic_a, login_as, in_tenant):
    admin = login_as(clinic_a)
    with in_tenant(clinic_a):
        make_user("Admin", email="old.admin@example.test", status="deactivated")  # does not count
    with unchanged(snapshot, in_tenant, clinic_a):
        response = client.post(f"/staff/{admin.pk}/role", data={"role": role_id(in_tenant, clinic_a, "Doctor")},
                               tenant=clinic_a)
        assert response.status_code == 422
        assert re.search(r'id="role-error">Ada Admin is the last active Admin', response.get_data(as_text=True))


def test_an_admin_can_be_demoted_while_another_admin_remains(client, clinic_a, login_as, in_tenant):
    admin = login_as(clinic_a)
    with in_tenant(clinic_a):
        make_user("Admin", email="second.admin@example.test")
    response = client.post(f"/staff/{admin.pk}/role", data={"role": role_id(in_tenant, clinic_a, "Nurse")},
                           tenant=clinic_a)
    # Nurses may still read the staff list, so the demoted admin lands back on the page.
    assert response.status_code == 303
    with in_tenant(clinic_a):
        assert User.objects.get(pk=admin.pk).role.name == "Nurse"
    assert client.post(f"/staff/{admin.pk}/role", data={"role": role_id(in_tenant, clinic_a, "Admin")},
                       tenant=clinic_a).status_code == 403  # no longer allowed


# -- deactivate / reactivate -------------------------------------------------------------


def test_the_last_active_admin_cannot_deactivate_themselves(client, clinic_a, login_as, in_tenant):
    admin = login_as(clinic_a)
    with unchanged(snapshot, in_tenant, clinic_a):
        response = client.post(f"/staff/{admin.pk}/deactivate", tenant=clinic_a)
        assert response.status_code == 303
    page = client.get(response.headers["Location"], tenant=clinic_a)
    assert page.status_code == 200 and b"is the last active Admin" in page.data


def test_deactivation_signs_the_user_out_at_once_and_is_audited(app, client, clinic_a, login_as, in_tenant):
    login_as(clinic_a)
    doctor, theirs = signed_in_user(app, in_tenant, clinic_a, "Doctor")
    assert theirs.get("/", tenant=clinic_a).status_code == 200
    response = client.post(f"/staff/{doctor.pk}/deactivate", tenant=clinic_a)
    assert response.status_code == 303
    next_request = theirs.get("/staff/", tenant=clinic_a)
    assert next_request.status_code == 302 and "/login" in next_request.headers["Location"]
    with in_tenant(clinic_a):
        assert User.objects.get(pk=doctor.pk).status == "deactivated"
        assert UserSession.objects(user=doctor, revoked_at=None).count() == 0
    [event] = events(in_tenant, clinic_a, "staff.deactivate")
    assert event.changes["status"] == {"from": "active", "to": "deactivated"}
    assert event.changes["sessions_revoked"] == 1
    refused = theirs.post("/login", data={"email": doctor.email, "password": TEST_PASSWORD}, tenant=clinic_a)
    assert refused.status_code == 422


def test_a_reactivated_user_can_sign_in_again(app, client, clinic_a, login_as, in_tenant):
    login_as(clinic_a)
    with in_tenant(clinic_a):
        doctor = make_user("Doctor", status="deactivated")
    assert client.post(f"/staff/{doctor.pk}/reactivate", tenant=clinic_a).status_code == 303
    assert user(in_tenant, clinic_a, doctor.email).status == "active"
    login(app.test_client(), clinic_a, doctor.email)
    [event] = events(in_tenant, clinic_a, "staff.reactivate")
    assert event.changes == {"status": {"from": "deactivated", "to": "active"}}


def test_a_deactivated_invitee_cannot_accept_and_comes_back_as_invited(
        app, client, clinic_a, login_as, in_tenant, mail):
    login_as(clinic_a)
    link = _invite_link(app, client, clinic_a, in_tenant, mail)
    invited = user(in_tenant, clinic_a, "new.person@example.test")
    assert client.post(f"/staff/{invited.pk}/deactivate", tenant=clinic_a).status_code == 303
    assert app.test_client().get(link.split(":5000", 1)[1], tenant=clinic_a).status_code == 404
    client.post(f"/staff/{invited.pk}/reactivate", tenant=clinic_a)
    assert user(in_tenant, clinic_a, "new.person@example.test").status == "invited"


def test_an_admin_may_deactivate_another_admin(client, clinic_a, login_as, in_tenant):
    login_as(clinic_a)
    with in_tenant(clinic_a):
        other = make_user("Admin", email="second.admin@example.test")
    assert client.post(f"/staff/{other.pk}/deactivate", tenant=clinic_a).status_code == 303
    assert user(in_tenant, clinic_a, other.email).status == "deactivated"


# -- access rules, for every route ---------------------------------------------------------

ROUTES = [
    ("GET", "/staff/", "read"),
    ("GET", "/staff/invite", "create"),
    ("POST", "/staff/invite", "create"),
    ("GET", "/staff/{id}", "read"),
    ("POST", "/staff/{id}/role", "update"),
    ("POST", "/staff/{id}/deactivate", "delete"),
    ("POST", "/staff/{id}/reactivate", "update"),
    ("POST", "/staff/{id}/resend", "create"),
]
ID_ROUTES = [r for r in ROUTES if "{id}" in r[1]]
WRITE_ROUTES = [r for r in ROUTES if r[2] != "read"]


def _target(in_tenant, clinic):
    """An invited nurse of `clinic`: every staff action applies to them."""
    with in_tenant(clinic):
        return make_user("Nurse", email="target@example.test", status="invited", password=None)


def _data(in_tenant, clinic):
    return {"email": "someone@example.test", "role": role_id(in_tenant, clinic, "Doctor")}


@pytest.mark.parametrize("method,path,action", ID_ROUTES)
def test_another_clinics_user_is_not_found(client, clinic_a, clinic_b, login_as, in_tenant, method, path, action):
    login_as(clinic_a)
    target = _target(in_tenant, clinic_b)
    with unchanged(snapshot, in_tenant, clinic_b):
        response = client.open(path.format(id=target.pk), method=method, data=_data(in_tenant, clinic_a),
                               tenant=clinic_a)
        assert response.status_code == 404


@pytest.mark.parametrize("bad_id", ["nope", "0" * 24, "zzzzzzzzzzzzzzzzzzzzzzzz"])
def test_unknown_and_malformed_ids_are_404(client, clinic_a, login_as, bad_id):
    login_as(clinic_a)
    assert client.get(f"/staff/{bad_id}", tenant=clinic_a).status_code == 404


@pytest.mark.parametrize("method,path,action", WRITE_ROUTES)
def test_a_doctor_may_not_change_staff(client, clinic_a, login_as, in_tenant, method, path, action):
    login_as(clinic_a, "Doctor")
    target = _target(in_tenant, clinic_a)
    with unchanged(snapshot, in_tenant, clinic_a):
        response = client.open(path.format(id=target.pk), method=method, data=_data(in_tenant, clinic_a),
                               tenant=clinic_a)
        assert response.status_code == 403


@pytest.mark.parametrize("method,path,action", ROUTES)
def test_a_role_without_staff_access_gets_403(client, clinic_a, login_as, in_tenant, method, path, action):
    login_as(clinic_a, "Medical Representative")
    target = _target(in_tenant, clinic_a)
    response = client.open(path.format(id=target.pk), method=method, data=_data(in_tenant, clinic_a),
                           tenant=clinic_a)
    assert response.status_code == 403


@pytest.mark.parametrize("method,path,action", ROUTES)
def test_signed_out_visitors_are_sent_to_sign_in(client, clinic_a, in_tenant, method, path, action):
    target = _target(in_tenant, clinic_a)
    with unchanged(snapshot, in_tenant, clinic_a):
        url = path.format(id=target.pk)
        page = client.open(url, method=method, data=_data(in_tenant, clinic_a), tenant=clinic_a)
        assert page.status_code == 302 and page.headers["Location"].startswith("/login?next=")
        fragment = client.open(url, method=method, headers=HX, tenant=clinic_a)
        assert fragment.status_code == 401 and fragment.headers["HX-Redirect"].startswith("/login?next=")
