"""The API tokens page: reachable from the navigation for those who may manage tokens, least privilege
by default."""
import re

from clinic_app.models import ApiToken, Role


def test_the_admin_finds_api_tokens_in_the_navigation(client, clinic_a, login_as):
    login_as(clinic_a, "Admin")
    html = client.get("/", tenant=clinic_a).get_data(as_text=True)
    assert '<a href="/api-tokens/" data-nav="api_tokens">API tokens</a>' in html


def test_roles_that_may_not_manage_tokens_see_no_link(client, clinic_a, login_as):
    login_as(clinic_a, "Doctor")  # may read settings, not update them
    html = client.get("/", tenant=clinic_a).get_data(as_text=True)
    assert 'data-nav="api_tokens"' not in html
    assert client.get("/api-tokens/", tenant=clinic_a).status_code == 403


def test_a_new_token_defaults_to_the_least_privileged_role(client, clinic_a, login_as, in_tenant):
    login_as(clinic_a, "Admin")
    html = client.get("/api-tokens/", tenant=clinic_a).get_data(as_text=True)
    select = re.search(r'<select[^>]*id="role"[^>]*>(.*?)</select>', html, re.S).group(1)
    selected = re.findall(r'<option selected value="[^"]+">([^<]+)</option>|<option value="[^"]+" selected>([^<]+)',
                          select)
    assert [a or b for a, b in selected] == ["Medical Representative"]
    assert "Admin" in select  # still offered
    with in_tenant(clinic_a):
        rep = Role.objects.get(name="Medical Representative")
    created = client.post("/api-tokens/", data={"name": "stock sync", "role": str(rep.pk)}, tenant=clinic_a)
    assert created.status_code == 201
    with in_tenant(clinic_a):
        assert ApiToken.objects.get().role.name == "Medical Representative"


def test_a_custom_role_with_fewer_rights_becomes_the_default(client, clinic_a, login_as, in_tenant):
    with in_tenant(clinic_a):
        Role(name="Read-only kiosk", level=5, permissions={"patients": ["read"]}).save()
    login_as(clinic_a, "Admin")
    html = client.get("/api-tokens/", tenant=clinic_a).get_data(as_text=True)
    assert re.search(r'<option selected value="[^"]+">Read-only kiosk</option>', html)
