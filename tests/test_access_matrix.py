"""401/403 for every tenant route and every role, read off the app's own URL map.

Every route on a clinic subdomain must either carry @require_permission /
@require_login or be in PUBLIC below; new routes are covered automatically.
"""
import pytest
from bson import ObjectId

from clinic_app.permissions import DEFAULT_ROLES
from clinic_app.hosts import APEX_BLUEPRINTS, HOSTLESS_ENDPOINTS

# Reachable without signing in, on purpose.
PUBLIC = {
    "auth.login", "auth.logout", "auth.forgot_password", "auth.reset_password", "auth.accept_invite",
    "core.root",  # dispatches to the dashboard, which requires login (checked below)
}


def tenant_routes(app):
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.rsplit(".", 1)[0] if "." in rule.endpoint else None
        if rule.endpoint in HOSTLESS_ENDPOINTS or blueprint in APEX_BLUEPRINTS or blueprint == "probe":
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method, getattr(view, "permission", None)


def build(app, rule, method):
    values = {arg: str(ObjectId()) for arg in rule.arguments}
    return app.url_map.bind("localhost").build(rule.endpoint, values, method=method)


def test_every_tenant_route_declares_who_may_use_it(app):
    undeclared = [f"{m} {r.rule}" for r, m, perm in tenant_routes(app) if perm is None and r.endpoint not in PUBLIC]
    assert undeclared == []


def test_anonymous_requests_are_sent_to_login(app, client, clinic_a):
    wrong = []
    for rule, method, perm in tenant_routes(app):
        if perm is None:
            continue
        path = build(app, rule, method)
        page = client.open(path, method=method, tenant=clinic_a)
        htmx = client.open(path, method=method, headers={"HX-Request": "true"}, tenant=clinic_a)
        if path.startswith("/api/"):
            for response in (page, htmx):
                if response.status_code != 401 or response.json["success"] is not False:
                    wrong.append(f"{method} {path}: api -> {response.status_code}")
            continue
        if not (page.status_code == 302 and "/login?next=" in page.headers.get("Location", "")):
            wrong.append(f"{method} {path}: page -> {page.status_code}")
        if not (htmx.status_code == 401 and htmx.headers.get("HX-Redirect", "").startswith("/login")):
            wrong.append(f"{method} {path}: htmx -> {htmx.status_code}")
    assert client.get("/", tenant=clinic_a).status_code == 302
    assert wrong == []


@pytest.mark.parametrize("role", list(DEFAULT_ROLES))
def test_each_role_gets_403_exactly_where_its_permissions_say(app, client, clinic_a, login_as, role):
    login_as(clinic_a, role)
    grants = DEFAULT_ROLES[role]
    wrong = []
    for rule, method, perm in tenant_routes(app):
        if perm is None or rule.endpoint == "auth.logout":
            continue
        resource, action = perm
        allowed = resource == "login" or action in grants.get(resource, [])
        path = build(app, rule, method)
        response = client.open(path, method=method, tenant=clinic_a)
        if allowed and response.status_code in (401, 403):
            wrong.append(f"{method} {path}: {role} may {action} {resource} but got {response.status_code}")
        if not allowed and response.status_code != 403:
            wrong.append(f"{method} {path}: {role} may not {action} {resource} but got {response.status_code}")
        forbidden_htmx = client.open(path, method=method, headers={"HX-Request": "true"}, tenant=clinic_a)
        if not allowed and (forbidden_htmx.status_code != 403 or b"<html" in forbidden_htmx.data):
            wrong.append(f"{method} {path}: htmx 403 should be a fragment")
    assert wrong == []


def test_navigation_shows_only_what_the_role_may_read(client, clinic_a, login_as):
    login_as(clinic_a, "Medical Representative")
    html = client.get("/", tenant=clinic_a).get_data(as_text=True)
    assert 'data-nav="staff"' not in html and 'data-nav="subscription"' not in html
    client.post("/logout", tenant=clinic_a)
    login_as(clinic_a, "Admin")
    html = client.get("/", tenant=clinic_a).get_data(as_text=True)
    assert 'data-nav="subscription"' in html
