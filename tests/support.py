"""Helpers shared by the test suite: mail reading, job running, factories."""
import mailbox
import os
import signal
import time
from contextlib import contextmanager
from email import policy
from email.parser import BytesParser

import mongoengine
from flask.testing import FlaskClient
from pymongo import monitoring
from rq import SimpleWorker

from clinic_app import jobs
from clinic_app.extensions import get_queue, init_db
from clinic_app.services.tenants import create_tenant
from clinic_app.tenancy import tenant_context

TEST_PASSWORD = "correct horse battery staple"


class TenantClient(FlaskClient):
    """Test client whose requests take `tenant=` to send that clinic's Host header."""

    def open(self, *args, tenant=None, **kwargs):
        if tenant is not None:
            base = self.application.config["BASE_DOMAIN"]
            kwargs.setdefault("base_url", f"http://{tenant.subdomain}.{base}")
        return super().open(*args, **kwargs)


def make_tenant(subdomain, name=None, **kwargs):
    """A bare clinic (tenant + settings), no roles or users."""
    return create_tenant(name or subdomain.title(), subdomain, **kwargs)


def make_clinic(subdomain, name=None, **kwargs):
    """A fully provisioned clinic: default roles, admin admin@<subdomain>.test, settings."""
    from clinic_app.services.onboarding import provision_clinic

    tenant, _ = provision_clinic(name=name or subdomain.title(), subdomain=subdomain, admin_name="Ada Admin",
                                 admin_email=f"admin@{subdomain}.test", password=TEST_PASSWORD, **kwargs)
    return tenant


def make_user(role_name, email=None, name=None, status="active", password=TEST_PASSWORD):
    """A staff user of the bound clinic with the named role."""
    from clinic_app.models import Role, User
    from clinic_app.services.passwords import hash_password

    role = Role.objects.get(name=role_name)
    slug = role_name.lower().replace(" ", "-")
    return User(email=email or f"{slug}@example.test", name=name or f"{role_name} User", role=role,
                status=status, password_hash=hash_password(password) if password else None).save()


def in_tenant_of(app):
    """`with in_tenant_of(app)(clinic):` -> app context + tenant_context (the `in_tenant` fixture, for any app)."""

    @contextmanager
    def bind(tenant):
        with app.app_context(), tenant_context(tenant):
            yield tenant

    return bind


def api_secret(in_tenant, clinic, role="Receptionist"):
    """The secret of a new API token with the named role, made by `clinic`'s Admin."""
    from clinic_app.models import Role, User
    from clinic_app.services.api_tokens import create_token

    with in_tenant(clinic):
        admin = User.objects.get(email=f"admin@{clinic.subdomain}.test")
        _, secret = create_token(f"{role} test", Role.objects.get(name=role), admin)
    return secret


def api_auth(in_tenant, clinic, role="Receptionist"):
    """Authorization header of a new API token with the named role (see api_secret)."""
    return {"Authorization": f"Bearer {api_secret(in_tenant, clinic, role)}"}


def stored(in_tenant, clinic, *models):
    """Every document of `models` in `clinic` as stored, by model name, in _id order."""
    with in_tenant(clinic):
        return {m.__name__: sorted(m.objects.as_pymongo(), key=lambda d: str(d["_id"])) for m in models}


@contextmanager
def unchanged(state, *args):
    """`with unchanged(snapshot, in_tenant, clinic): ...` asserts the block left `state(*args)` as it was."""
    before = state(*args)
    yield
    assert state(*args) == before


def login(client, tenant, email, password=TEST_PASSWORD):
    response = client.post("/login", data={"email": email, "password": password}, tenant=tenant)
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
    return response


def signed_in_client(app, tenant, email, password=TEST_PASSWORD):
    """A new test client of `app` (a browser of its own) signed in as `email` of `tenant`."""
    client = app.test_client()
    login(client, tenant, email, password)
    return client


def signed_in_user(app, in_tenant, clinic, role, **kw):
    """A new user of `clinic` with `role` (make_user's `kw`), signed in on a client of their own -> (user, client)."""
    with in_tenant(clinic):
        user = make_user(role, **kw)
    return user, signed_in_client(app, clinic, user.email)


def pause_process(pid, timeout=5):
    """SIGSTOP `pid` and return once the kernel shows it stopped ("T" in /proc/<pid>/stat): the signal is
    delivered asynchronously, and on a busy machine a query sent at once could still be answered."""
    os.kill(pid, signal.SIGSTOP)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/stat") as stat:
            if stat.read().rpartition(")")[2].split()[0] in ("T", "t"):
                return
        time.sleep(0.005)
    raise AssertionError(f"process {pid} did not stop within {timeout} s")


def run_jobs(app):
    """Run every queued job in this process with a real RQ SimpleWorker (burst)."""
    jobs.bind_app(app)
    with app.app_context():
        queue = get_queue()
        SimpleWorker([queue], connection=queue.connection).work(burst=True, with_scheduler=False)


def read_mail(maildir):
    """Every message the SMTP sink received, oldest first."""
    box = mailbox.Maildir(str(maildir), factory=None, create=True)
    parser = BytesParser(policy=policy.default)
    messages = [parser.parsebytes(box.get_bytes(key)) for key in box.iterkeys()]
    return sorted(messages, key=lambda m: m.get("Date", ""))


def clear_mail(maildir):
    box = mailbox.Maildir(str(maildir), factory=None, create=True)
    for key in list(box.iterkeys()):
        box.remove(key)


def probe_blueprint():
    """A test-only write route, so the gate can be tested before real forms exist."""
    from flask import Blueprint, request

    from clinic_app.models import Settings

    bp = Blueprint("probe", __name__, url_prefix="/_probe")

    @bp.route("/settings", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def settings():
        s = Settings.current()
        if request.method != "GET":
            s.clinic_name = request.values.get("name", "changed")
            s.save()
        return s.clinic_name

    return bp


class CountQueries:
    """`with CountQueries(app) as q: ...` then `q.reads`: the find/aggregate/count commands sent
    (`q.commands`: every command document, in order)."""

    READS = {"find", "aggregate", "count", "getMore", "distinct"}

    def __init__(self, app):
        self.app, self.names, self.commands = app, [], []
        outer = self

        class Listener(monitoring.CommandListener):
            def started(self, event):
                outer.names.append(event.command_name)
                outer.commands.append(event.command)

            def succeeded(self, event):
                pass

            def failed(self, event):
                pass

        self.listener = Listener()

    def __enter__(self):
        mongoengine.disconnect()
        mongoengine.connect(host=self.app.config["MONGODB_URI"], tz_aware=True, uuidRepresentation="standard",
                            event_listeners=[self.listener])
        return self

    def __exit__(self, *exc):
        init_db(self.app)

    @property
    def reads(self):
        return sum(1 for n in self.names if n in self.READS)
