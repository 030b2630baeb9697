"""Session services on free ports, a clean database per test, and the usual fixtures.

Set MONGODB_URI / REDIS_URL to run the same suite against real servers (point
them at a throw-away database: every test empties it).
"""
import os
from datetime import datetime, timezone

import mongoengine
import pytest

from clinic_app import clock as clock_module
from clinic_app import create_app
from clinic_app.dev import Services
from clinic_app.extensions import ensure_indexes, redis_conn

from .faults.report import pytest_terminal_summary  # noqa: F401  (the fault tests' report, also under xdist)
from .support import (TenantClient, clear_mail, in_tenant_of, login, make_clinic, make_user, probe_blueprint,
                      read_mail)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="session", autouse=True)
def _allow_test_email_domains():
    """Tests use the reserved .test TLD for addresses; email-validator refuses it by default."""
    import email_validator

    if "test" in email_validator.SPECIAL_USE_DOMAIN_NAMES:
        email_validator.SPECIAL_USE_DOMAIN_NAMES.remove("test")


@pytest.fixture(scope="session")
def services(tmp_path_factory):
    svc = Services(tmp_path_factory.mktemp("services"))
    svc.start(mongo=not os.environ.get("MONGODB_URI"), redis=not os.environ.get("REDIS_URL"), smtp=True)
    yield svc
    svc.stop()


def app_config(services, **extra):
    cfg = {
        "CLINIC_ENV": "test",
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "MONGODB_URI": os.environ.get("MONGODB_URI") or services.mongodb_uri,
        "REDIS_URL": os.environ.get("REDIS_URL") or services.redis_url,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": services.ports["smtp"],
        "TENANT_CACHE_SECONDS": 0,
        "BCRYPT_ROUNDS": 4,
        "WTF_CSRF_ENABLED": False,
        "RQ_QUEUE": "clinic_app_test",
        "BASE_DOMAIN": "localhost",
        "PUBLIC_PORT": "5000",
        "MONGODB_TIMEOUT_MS": 1500,
    }
    cfg.update(extra)
    return cfg


@pytest.fixture(scope="session")
def app(services):
    app = create_app(app_config(services))
    app.register_blueprint(probe_blueprint())
    app.test_client_class = TenantClient
    with app.app_context():
        ensure_indexes()
    return app


@pytest.fixture(autouse=True)
def _clean_state(request, services):
    """Every test starts with empty collections, an empty queue and mailbox, and real time."""
    yield
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    clock_module.install(clock_module.SystemClock())
    with app.app_context():
        db = mongoengine.get_db()
        for name in db.list_collection_names():
            db[name].delete_many({})
        redis_conn().flushdb()
    app.extensions["tenant_resolver"].invalidate()
    clear_mail(services.maildir)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


@pytest.fixture
def frozen_clock():
    """A FrozenClock at T0, installed process-wide for the test."""
    fc = clock_module.FrozenClock(T0)
    previous = clock_module.install(fc)
    yield fc
    clock_module.install(previous)


@pytest.fixture
def clinic_a(app):
    with app.app_context():
        return make_clinic("clinica", "Clinic A")


@pytest.fixture
def clinic_b(app):
    with app.app_context():
        return make_clinic("clinicb", "Clinic B")


@pytest.fixture
def login_as(app, client, in_tenant):
    """`login_as(clinic, "Doctor")` -> signs `client` in as a new user with that role (Admin: the clinic's admin)."""

    def sign_in(tenant, role="Admin", email=None):
        with in_tenant(tenant):
            if role == "Admin" and email is None:
                from clinic_app.models import User

                user = User.objects.get(email=f"admin@{tenant.subdomain}.test")
            else:
                user = make_user(role, email=email)
        login(client, tenant, user.email)
        return user

    return sign_in


@pytest.fixture
def in_tenant(app):
    """`with in_tenant(clinic):` -> app context + tenant_context."""
    return in_tenant_of(app)


@pytest.fixture
def mail(services):
    """Callable returning every message the SMTP sink has received."""
    return lambda: read_mail(services.maildir)
