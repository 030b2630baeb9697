"""Host header -> tenant: apex, subdomains, and every host that must never bind a clinic."""
import pytest

from clinic_app import create_app
from clinic_app.hosts import BadHost, TenantResolver, parse_host

from .conftest import app_config


@pytest.mark.parametrize(
    "host,expected",
    [
        ("localhost", None),
        ("localhost:5000", None),
        ("www.localhost:5000", None),
        ("WWW.LOCALHOST", None),
        ("demo.localhost", "demo"),
        ("demo.localhost:5000", "demo"),
        ("DEMO.LocalHost:5000", "demo"),
        ("demo.localhost.", "demo"),
        ("my-clinic.localhost", "my-clinic"),
    ],
)
def test_parse_host_finds_the_subdomain(host, expected):
    assert parse_host(host, "localhost") == expected


@pytest.mark.parametrize(
    "host",
    [
        "",
        "evil.com",
        "demo.localhost.evil.com",
        "demo.localhost.evil.com:5000",
        "a.b.localhost",
        "-demo.localhost",
        "demo-.localhost",
        "de_mo.localhost",
        "demo.localhost:abc",
        "[::1]:5000",
        "127.0.0.1:5000",
        "notlocalhost",
        "x" * 64 + ".localhost",
    ],
)
def test_parse_host_rejects_malformed_and_foreign_hosts(host):
    with pytest.raises(BadHost):
        parse_host(host, "localhost")


def test_parse_host_with_a_real_base_domain():
    assert parse_host("clinic1.example.com", "example.com") == "clinic1"
    assert parse_host("example.com:443", "example.com") is None
    with pytest.raises(BadHost):
        parse_host("clinic1.example.com.evil.org", "example.com")


@pytest.mark.parametrize("host", ["evil.com", "demo.localhost.evil.com", "a.b.localhost"])
def test_foreign_hosts_get_400_and_bind_nothing(client, clinic_a, host):
    response = client.get("/login", headers={"Host": host})
    assert response.status_code == 400
    assert b"Clinic A" not in response.data


def test_unknown_subdomain_is_a_404_page(client, clinic_a):
    response = client.get("/", headers={"Host": "nosuch.localhost:5000"})
    assert response.status_code == 404
    assert b"There is no clinic at this address" in response.data


@pytest.mark.parametrize("reserved", ["www", "api", "admin", "platform", "static", "mail"])
def test_reserved_subdomains_never_resolve_even_if_a_tenant_claims_one(client, app, reserved):
    from clinic_app.services.tenants import create_tenant

    with app.app_context():
        create_tenant("Sneaky", reserved)  # bypasses onboarding validation on purpose
    response = client.get("/", headers={"Host": f"{reserved}.localhost"})
    if reserved == "www":
        assert b"Sneaky" not in response.data  # www is the apex
    else:
        assert response.status_code == 404


def test_each_subdomain_binds_its_own_clinic(client, clinic_a, clinic_b):
    assert b"Clinic A" in client.get("/login", tenant=clinic_a).data
    body_b = client.get("/login", tenant=clinic_b).data
    assert b"Clinic B" in body_b and b"Clinic A" not in body_b


def test_tenant_routes_are_404_on_the_apex(client):
    assert client.get("/subscription").status_code == 404


def test_healthz_answers_on_any_host(client):
    assert client.get("/healthz", headers={"Host": "10.0.0.7:5000"}).status_code == 200


def test_tenant_cache_has_bounded_staleness(app, clinic_a):
    resolver = TenantResolver(ttl_seconds=60)
    with app.app_context():
        first = resolver.lookup("clinica")
        assert resolver.lookup("clinica") is first  # served from cache
        resolver.invalidate("clinica")
        assert resolver.lookup("clinica") is not first
        assert resolver.lookup("nosuch") is None
        assert TenantResolver(ttl_seconds=0).lookup("clinica").pk == clinic_a.pk


SECURITY_HEADERS = ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy",
                    "Cross-Origin-Opener-Policy", "Strict-Transport-Security")


@pytest.fixture(scope="module")
def hsts_app(services):
    """The app as in production as far as headers go (HSTS on), so every security header is expected."""
    return create_app(app_config(services, HSTS=True))


@pytest.mark.parametrize("host", ["alpha..localhost", ".localhost", "x" * 64 + ".localhost",
                                  "x" * 64 + ".localhost:5000", "evil.com"])
@pytest.mark.parametrize("method,path", [("GET", "/login"), ("POST", "/login"), ("GET", "/"),
                                         ("GET", "/api/v1/patients")])
def test_malformed_hosts_get_400_with_every_security_header(hsts_app, host, method, path):
    """Werkzeug cannot bind the URL map to an empty or 64-character label, so the error page
    must not need url_for() (it used to fail, answering 500 without the headers)."""
    response = hsts_app.test_client().open(path, method=method, headers={"Host": host})
    assert response.status_code == 400
    missing = [name for name in SECURITY_HEADERS if name not in response.headers]
    assert missing == []
    assert b"not served here" in response.data
