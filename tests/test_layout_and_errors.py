"""Base layout, fragment-or-page, error pages, security headers, CSRF, /healthz."""
import pytest

from clinic_app import create_app
from tests.conftest import app_config
from tests.support import TenantClient


def test_pages_carry_security_headers(client, clinic_a):
    response = client.get("/login", tenant=clinic_a)
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Strict-Transport-Security" not in response.headers  # not in development
    assert "HX-Request" in response.headers["Vary"]


def test_layout_has_no_inline_script_and_sends_csrf_with_htmx(client, clinic_a):
    html = client.get("/login", tenant=clinic_a).get_data(as_text=True)
    assert "<script>" not in html and "<script " in html
    assert "hx-headers='{\"X-CSRFToken\":" in html
    assert '"historyRestoreAsHxRequest": false' in html


def test_hsts_in_production(services):
    prod = create_app(app_config(services, CLINIC_ENV="production", HSTS=True))
    response = prod.test_client().get("/healthz")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


@pytest.mark.parametrize("code", [400, 401, 403, 404, 422, 500, 503])
def test_error_pages_render_as_page_or_fragment(services, clinic_a, code):
    from flask import abort

    app = create_app(app_config(services))
    app.test_client_class = TenantClient

    @app.get("/_boom/<int:status>")
    def boom(status):
        if status == 500:
            raise RuntimeError("kaboom")
        abort(status)

    client = app.test_client()
    page = client.get(f"/_boom/{code}", tenant=clinic_a)
    assert page.status_code == code
    assert b"<html" in page.data and b"kaboom" not in page.data and b"Traceback" not in page.data
    fragment = client.get(f"/_boom/{code}", headers={"HX-Request": "true"}, tenant=clinic_a)
    assert fragment.status_code == code
    assert b"<html" not in fragment.data and b"error-page" in fragment.data
    assert "HX-Request" in fragment.headers["Vary"]


def test_boosted_and_history_restore_requests_get_the_full_page(client, clinic_a):
    for headers in ({"HX-Request": "true", "HX-Boosted": "true"},
                    {"HX-Request": "true", "HX-History-Restore-Request": "true"}):
        response = client.get("/nope", headers=headers, tenant=clinic_a)
        assert response.status_code == 404 and b"<html" in response.data


def test_csrf_is_enforced_on_forms_and_accepted_from_the_htmx_header(services, clinic_a):
    from tests.support import probe_blueprint

    app = create_app(app_config(services, WTF_CSRF_ENABLED=True))
    app.register_blueprint(probe_blueprint())
    app.test_client_class = TenantClient
    client = app.test_client()
    refused = client.post("/_probe/settings", data={"name": "x"}, tenant=clinic_a)
    assert refused.status_code == 400
    assert b"expired" in refused.data
    html = client.get("/login", tenant=clinic_a).get_data(as_text=True)
    token = html.split('"X-CSRFToken": "')[1].split('"')[0]
    accepted = client.post("/_probe/settings", data={"name": "x"}, headers={"X-CSRFToken": token}, tenant=clinic_a)
    assert accepted.status_code == 200


def test_healthz_reports_both_services(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "checks": {"mongodb": "ok", "redis": "ok"}}


def test_healthz_and_pages_are_503_when_the_database_is_down(tmp_path, services):
    """Stop a dedicated SecantusDB process: /healthz names it, pages show the 503 page."""
    import mongoengine

    from clinic_app.dev import Services

    own = Services(tmp_path).start(redis=False, smtp=False)
    try:
        app = create_app(app_config(services, MONGODB_URI=own.mongodb_uri, MONGODB_TIMEOUT_MS=300))
        app.test_client_class = TenantClient
        client = app.test_client()
        assert client.get("/healthz").status_code == 200
        own.stop("mongo")
        health = client.get("/healthz")
        assert health.status_code == 503
        assert health.json["checks"]["redis"] == "ok"
        assert health.json["checks"]["mongodb"].startswith("down")
        page = client.get("/", headers={"Host": "clinica.localhost"})
        assert page.status_code == 503
        assert b"Temporarily unavailable" in page.data and b"Traceback" not in page.data
    finally:
        own.stop()
        mongoengine.disconnect()
        # Give the session app its connection back.
        mongoengine.connect(host=app_config(services)["MONGODB_URI"], tz_aware=True, connect=False,
                            uuidRepresentation="standard")


def test_healthz_is_503_when_redis_is_down(services):
    app = create_app(app_config(services, REDIS_URL="redis://127.0.0.1:1/0"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["checks"]["mongodb"] == "ok"
    assert response.json["checks"]["redis"].startswith("down")
