"""Roles area: user counts, the permission matrix, custom roles, and the Admin role's lock-out guard."""
import re

import pytest

from clinic_app.models import AuditEvent, Role, User
from clinic_app.permissions import DEFAULT_ROLES, RESOURCES
from tests.support import make_user, signed_in_user, stored, unchanged

HX = {"HX-Request": "true"}


def snapshot(in_tenant, clinic):
    return stored(in_tenant, clinic, Role, User, AuditEvent)


def get_role(in_tenant, clinic, name):
    with in_tenant(clinic):
        return Role.objects(name=name).first()


def events(in_tenant, clinic, action):
    with in_tenant(clinic):
        return list(AuditEvent.objects(action=action))


def make_role(in_tenant, clinic, name="Cleaner", permissions=None):
    with in_tenant(clinic):
        return Role(name=name, level=5, permissions=permissions or {"inventory": ["read"]}).save()


def test_the_list_shows_every_role_with_its_user_count(client, clinic_a, login_as, in_tenant):
    login_as(clinic_a)
    with in_tenant(clinic_a):
        make_user("Doctor", email="d1@example.test")
        make_user("Doctor", email="d2@example.test", status="deactivated")
    html = client.get("/roles/", tenant=clinic_a).get_data(as_text=True)
    rows = dict(re.findall(r'data-role="([^"]+)">.*?data-users="(\d+)"', html, re.S))
    assert rows == {"Admin": "1", "Doctor": "2", "Nurse": "0", "Receptionist": "0", "Accountant": "0",
                    "Medical Representative": "0"}


def test_the_list_shows_only_this_clinics_roles(client, clinic_a, clinic_b, login_as, in_tenant):
    make_role(in_tenant, clinic_b, name="Only In B")
    with in_tenant(clinic_b):
        make_user("Doctor")
    login_as(clinic_a)
    html = client.get("/roles/", tenant=clinic_a).get_data(as_text=True)
    assert "Only In B" not in html and re.search(r'data-role="Doctor">.*?data-users="0"', html, re.S)


def test_the_matrix_lists_resources_in_order_with_only_their_actions(client, clinic_a, login_as, in_tenant):
    login_as(clinic_a)
    doctor = get_role(in_tenant, clinic_a, "Doctor")
    html = client.get(f"/roles/{doctor.pk}", tenant=clinic_a).get_data(as_text=True)
    assert re.findall(r'<tr data-resource="(\w+)">', html) == list(RESOURCES)
    assert "Lab results" in html
    boxes = re.findall(r'id="perm-(\w+)-(\w+)"', html)
    assert boxes == [(res, act) for res, actions in RESOURCES.items() for act in actions]
    checked = set(re.findall(r'value="(\w+:\w+)"[^>]*\bchecked\b', html))
    assert checked == {f"{r}:{a}" for r, acts in DEFAULT_ROLES["Doctor"].items() for a in acts}
    assert 'id="role_name"' not in html and 'name="name"' not in html  # a default role keeps its name


def test_editing_permissions_saves_them_cleaned_and_audits_what_changed(client, clinic_a, login_as, in_tenant):
    login_as(clinic_a)
    nurse = get_role(in_tenant, clinic_a, "Nurse")
    granted = ["patients:read", "audit:read", "lab_results:update", "patients:create"]
    response = client.post(f"/roles/{nurse.pk}", data={"permissions": granted, "level": "61"}, tenant=clinic_a)
    assert response.status_code == 303 and response.headers["Location"].endswith("/roles/")
    saved = get_role(in_tenant, clinic_a, "Nurse")
    assert saved.permissions == {"patients": ["create", "read"], "lab_results": ["update"], "audit": ["read"]}
    assert saved.name == "Nurse" and saved.level == 61
    [event] = events(in_tenant, clinic_a, "role.update")
    assert event.changes["added"] == ["audit:read"]
    assert "patients:update" in event.changes["removed"] and "inventory:read" in event.changes["removed"]
    assert event.changes["level"] == {"from": 60, "to": 61}


def test_new_permissions_take_effect_on_the_next_request(app, client, clinic_a, login_as, in_tenant):
    login_as(clinic_a)
    _, theirs = signed_in_user(app, in_tenant, clinic_a, "Doctor")
    assert theirs.get("/audit/", tenant=clinic_a).status_code == 403
    role = get_role(in_tenant, clinic_a, "Doctor")
    keys = [f"{r}:{a}" for r, acts in role.permissions.items() for a in acts] + ["audit:read"]
    assert client.post(f"/roles/{role.pk}", data={"permissions": keys}, tenant=clinic_a).status_code == 303
    assert theirs.get("/audit/", tenant=clinic_a).status_code == 200


def test_the_admin_role_is_shown_read_only_with_full_access(client, clinic_a, login_as, in_tenant):
    login_as(clinic_a)
    admin = get_role(in_tenant, clinic_a, "Admin")
    html = client.get(f"/roles/{admin.pk}", tenant=clinic_a).get_data(as_text=True)
    assert 'data-readonly="true"' in html and 'id="admin-role-note"' in html
    boxes = re.findall(r'<input type="checkbox"[^>]*>', html)
    assert len(boxes) == sum(len(a) for a in RESOURCES.values())
    assert all("checked" in b and "disabled" in b for b in boxes)
    assert "Save the role" not in html and 'id="role-delete"' not in html


def test_the_admin_role_cannot_be_changed(client, clinic_a, login_as, in_tenant):
    login_as(clinic_a)
    admin = get_role(in_tenant, clinic_a, "Admin")
    with unchanged(snapshot, in_tenant, clinic_a):
        assert client.post(f"/roles/{admin.pk}", data={"permissions": []}, tenant=clinic_a).status_code == 403
        assert client.post(f"/roles/{admin.pk}/delete", tenant=clinic_a).status_code == 303


def test_default_roles_cannot_be_renamed_or_deleted(client, clinic_a, login_as, in_tenant):
    login_as(clinic_a)
    nurse = get_role(in_tenant, clinic_a, "Nurse")
    client.post(f"/roles/{nurse.pk}", data={"name": "Sister", "permissions": ["patients:read"]}, tenant=clinic_a)
    assert get_role(in_tenant, clinic_a, "Nurse").permissions == {"patients": ["read"]}
    assert get_role(in_tenant, clinic_a, "Sister") is None
    with unchanged(snapshot, in_tenant, clinic_a):
        response = client.post(f"/roles/{nurse.pk}/delete", tenant=clinic_a, follow_redirects=True)
        assert b"is a default role and cannot be deleted" in response.data


def test_a_custom_role_is_created_and_audited(client, clinic_a, login_as, in_tenant):
    login_as(clinic_a)
    response = client.post("/roles/new", data={"name": " Pharmacist ", "level": "",
                                               "permissions": ["inventory:read", "inventory:update"]},
                           tenant=clinic_a)
    assert response.status_code == 303
    role = get_role(in_tenant, clinic_a, "Pharmacist")
    assert role.permissions == {"inventory": ["read", "update"]} and role.level == 10 and not role.system
    [event] = events(in_tenant, clinic_a, "role.create")
    assert event.changes["added"] == ["inventory:read", "inventory:update"] and event.target_id == role.pk


@pytest.mark.parametrize("data,field,message", [
    ({"name": "doctor"}, "name", "already exists"),
    ({"name": ""}, "name", "Enter a name for the role"),
    ({"name": "x" * 61}, "name", "60"),
    ({"name": "Porter", "level": "abc"}, "level", "whole number from 0 to 100"),
    ({"name": "Porter", "level": "101"}, "level", "from 0 to 100"),
    ({"name": "Porter", "permissions": ["staff:fly"]}, "permissions", "not a permission"),
])
def test_invalid_new_roles_are_422_beside_the_field_and_save_nothing(
        client, clinic_a, login_as, in_tenant, data, field, message):
    login_as(clinic_a)
    with unchanged(snapshot, in_tenant, clinic_a):
        response = client.post("/roles/new", data=data, headers=HX, tenant=clinic_a)
        assert response.status_code == 422
        html = response.get_data(as_text=True)
        assert "<html" not in html and 'id="role-form"' in html and "HX-Request" in response.headers["Vary"]
        assert re.search(rf'id="{field}-error">[^<]*{message}', html), html


def test_a_custom_role_cannot_take_another_roles_name(client, clinic_a, login_as, in_tenant):
    login_as(clinic_a)
    cleaner = make_role(in_tenant, clinic_a)
    with unchanged(snapshot, in_tenant, clinic_a):
        response = client.post(f"/roles/{cleaner.pk}", data={"name": "NURSE"}, tenant=clinic_a)
        assert response.status_code == 422 and re.search(r'id="name-error">A role named NURSE already exists',
                                                          response.get_data(as_text=True))


def test_a_custom_role_can_be_renamed(client, clinic_a, login_as, in_tenant):
    login_as(clinic_a)
    cleaner = make_role(in_tenant, clinic_a)
    client.post(f"/roles/{cleaner.pk}", data={"name": "Housekeeper", "permissions": ["inventory:read"]},
                tenant=clinic_a)
    assert get_role(in_tenant, clinic_a, "Housekeeper").pk == cleaner.pk
    [event] = events(in_tenant, clinic_a, "role.update")
    assert event.changes == {"name": {"from": "Cleaner", "to": "Housekeeper"}}


def test_an_unused_custom_role_is_deleted_with_303(client, clinic_a, login_as, in_tenant):
    login_as(clinic_a)
    cleaner = make_role(in_tenant, clinic_a)
    response = client.post(f"/roles/{cleaner.pk}/delete", tenant=clinic_a)
    assert response.status_code == 303 and response.headers["Location"].endswith("/roles/")
    assert get_role(in_tenant, clinic_a, "Cleaner") is None
    [event] = events(in_tenant, clinic_a, "role.delete")
    assert event.changes["name"] == {"from": "Cleaner", "to": None}


def test_a_custom_role_that_someone_has_is_not_deleted(client, clinic_a, login_as, in_tenant):
    login_as(clinic_a)
    cleaner = make_role(in_tenant, clinic_a)
    with in_tenant(clinic_a):
        make_user("Cleaner", status="deactivated")  # deactivated users still hold the role
    with unchanged(snapshot, in_tenant, clinic_a):
        response = client.post(f"/roles/{cleaner.pk}/delete", tenant=clinic_a, follow_redirects=True)
        assert b"1 user still has the Cleaner role" in response.data


# -- access rules -----------------------------------------------------------------------

ROUTES = [
    ("GET", "/roles/"),
    ("GET", "/roles/new"),
    ("POST", "/roles/new"),
    ("GET", "/roles/{id}"),
    ("POST", "/roles/{id}"),
    ("POST", "/roles/{id}/delete"),
]
DATA = {"name": "Porter", "permissions": ["patients:read"]}


@pytest.mark.parametrize("method,path", [r for r in ROUTES if "{id}" in r[1]])
def test_another_clinics_role_is_not_found(client, clinic_a, clinic_b, login_as, in_tenant, method, path):
    login_as(clinic_a)
    theirs = make_role(in_tenant, clinic_b)
    with unchanged(snapshot, in_tenant, clinic_b):
        response = client.open(path.format(id=theirs.pk), method=method, data=DATA, tenant=clinic_a)
        assert response.status_code == 404


@pytest.mark.parametrize("method,path", ROUTES)
def test_a_doctor_may_not_see_or_change_roles(client, clinic_a, login_as, in_tenant, method, path):
    login_as(clinic_a, "Doctor")
    cleaner = make_role(in_tenant, clinic_a)
    with unchanged(snapshot, in_tenant, clinic_a):
        response = client.open(path.format(id=cleaner.pk), method=method, data=DATA, tenant=clinic_a)
        assert response.status_code == 403


@pytest.mark.parametrize("method,path", ROUTES)
def test_signed_out_visitors_are_sent_to_sign_in(client, clinic_a, in_tenant, method, path):
    cleaner = make_role(in_tenant, clinic_a)
    with unchanged(snapshot, in_tenant, clinic_a):
        url = path.format(id=cleaner.pk)
        page = client.open(url, method=method, data=DATA, tenant=clinic_a)
        assert page.status_code == 302 and page.headers["Location"].startswith("/login?next=")
        fragment = client.open(url, method=method, data=DATA, headers=HX, tenant=clinic_a)
        assert fragment.status_code == 401 and fragment.headers["HX-Redirect"].startswith("/login?next=")
