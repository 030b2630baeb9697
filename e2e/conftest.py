"""Playwright journeys, run once per clinic in E2E_TENANTS, against a real stack.

Default: start throw-away MongoDB/Redis/SMTP (`clinic_app.dev.Services`), the
web app (gunicorn) and an RQ worker as separate processes, and create the
clinics with the `create-tenant` CLI. With E2E_BASE_URL set: start nothing and
drive that server; its clinics must already exist.

Every test gets its own browser context (no shared cookies or storage), traced;
a failing test leaves e2e/artifacts/<test-id>/trace.zip and screenshot.png.
Process logs go to e2e/artifacts/stack*/.
"""
import fcntl
import itertools
import mailbox
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect, sync_playwright

from clinic_app.dev import Services, chromium_executable, free_port, wait_for_port

from . import steps

E2E_DIR = Path(__file__).resolve().parent
ROOT = E2E_DIR.parent
ARTIFACTS = E2E_DIR / "artifacts"

# The machine has no network: without these Chromium waits on connections it
# can never make (component updates, sync, QUIC probes).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Fail fast: a journey step that takes longer than this is a bug, not a slow machine.
ACTION_TIMEOUT_MS = 10_000
expect.set_options(timeout=5_000)

# Variables the app's processes inherit from ours; everything else they get is
# set explicitly, so a developer's shell (WTF_CSRF_ENABLED=0 ...) cannot leak in.
PASSTHROUGH = ("PATH", "HOME", "USER", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV")
PASSTHROUGH_PREFIXES = ("COV_", "COVERAGE_")


DEFAULT_ADMIN_EMAIL = "admin@{sub}.example.com"
DEFAULT_ADMIN_PASSWORD = "e2e tulip harbor quantum 7"


@dataclass(frozen=True)
class Clinic:
    """A clinic the journeys run against: subdomain, name, and its Admin's sign-in."""

    subdomain: str
    name: str
    admin_email: str
    admin_password: str

    def __str__(self):
        return self.subdomain


def configured_clinics():
    """E2E_TENANTS: `sub1,sub2` (name "<Sub> Clinic") or `sub=Clinic Name` entries.

    The Admin is E2E_ADMIN_EMAIL (`{sub}` is replaced) with E2E_ADMIN_PASSWORD.
    """
    email = os.environ.get("E2E_ADMIN_EMAIL") or DEFAULT_ADMIN_EMAIL
    password = os.environ.get("E2E_ADMIN_PASSWORD") or DEFAULT_ADMIN_PASSWORD
    clinics = []
    for entry in os.environ.get("E2E_TENANTS", "clinic1,clinic2").split(","):
        sub, _, name = entry.strip().partition("=")
        sub = sub.strip().lower()
        if sub:
            clinics.append(Clinic(sub, name.strip() or f"{sub.title()} Clinic", email.format(sub=sub), password))
    if not clinics:
        raise pytest.UsageError("E2E_TENANTS names no clinic")
    return clinics


def host_url(base_url, subdomain=None, path="/"):
    """`base_url`'s scheme, host and port, with `subdomain.` put before the host."""
    parts = urlsplit(base_url)
    netloc = f"{subdomain}.{parts.hostname}" if subdomain else parts.hostname
    if parts.port:
        netloc += f":{parts.port}"
    return f"{parts.scheme}://{netloc}{path}"


# -- hooks --------------------------------------------------------------------


def _is_e2e(item):
    return E2E_DIR in Path(str(item.path)).parents


def pytest_collection_modifyitems(items):
    for item in items:
        if _is_e2e(item):
            item.add_marker(pytest.mark.e2e)


def pytest_generate_tests(metafunc):
    """Run every journey that uses `tenant` (directly or via tenant_url) once per clinic."""
    if "tenant" in metafunc.fixturenames:
        clinics = configured_clinics()
        metafunc.parametrize("tenant", clinics, ids=[c.subdomain for c in clinics], indirect=True)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item (rep_setup, rep_call) for the context fixture."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


# -- the stack ------------------------------------------------------------------


def _log_tail(path, lines=40):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class Stack:
    """Services + web + worker for one pytest process (each xdist worker has its own)."""

    def __init__(self, workdir, var_dir):
        self.workdir = Path(workdir)
        self.var_dir = Path(var_dir)
        self.services = None
        self.procs = {}
        self.port = None
        self.env = None

    def start(self, clinics):
        self.services = Services(self.workdir)  # kept before start(), so stop() cleans up a half start
        self.services.start()
        self.port = free_port()
        self.env = self._env()
        # Web and worker boot while the CLI creates the clinics.
        web = self.spawn("web", [
            sys.executable, "-m", "gunicorn",
            "--bind", f"127.0.0.1:{self.port}",
            "--workers", "2", "--threads", "4",  # two processes: nothing may live in one's memory
            "--graceful-timeout", "3",
            "--access-logfile", "-", "--error-logfile", "-",
            "clinic_app:create_app()",
        ])
        worker = self.spawn("worker", [sys.executable, "worker.py"])
        self.cli("ensure-indexes")
        creating = [self.spawn(f"create-tenant-{c.subdomain}", self._flask(
            "create-tenant", c.subdomain, "--name", c.name,
            "--admin-email", c.admin_email, "--admin-password", c.admin_password,
        )) for c in clinics]
        for clinic, proc in zip(clinics, creating):
            self._check_exit(f"create-tenant-{clinic.subdomain}", proc)
        wait_for_port(self.port, proc=web, name="web", timeout=30)
        self._wait_healthy(web)
        self._wait_worker(worker)
        return self

    def _env(self):
        env = {k: v for k, v in os.environ.items() if k in PASSTHROUGH or k.startswith(PASSTHROUGH_PREFIXES)}
        env.update({
            "CLINIC_ENV": "test",
            "SECRET_KEY": "e2e-secret",
            "MONGODB_URI": self.services.mongodb_uri,
            "REDIS_URL": self.services.redis_url,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.services.ports["smtp"]),
            "BASE_DOMAIN": "localhost",
            "PUBLIC_PORT": str(self.port),
            "TENANT_CACHE_SECONDS": "0",
            "BCRYPT_ROUNDS": "4",
            "RQ_QUEUE": "e2e",
            "TIME_TRAVEL": "1",  # journeys may move the server's clock (flask time-travel)
            "VAR_DIR": str(self.var_dir),
            "PYTHONUNBUFFERED": "1",
        })
        return env

    def _flask(self, *args):
        return [sys.executable, "-m", "flask", "--app", "clinic_app", *args]

    def spawn(self, name, cmd):
        log = open(self.workdir / f"{name}.log", "wb")
        proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()  # the child holds its own copy
        self.procs[name] = proc
        return proc

    def cli(self, *args):
        name = args[0]
        self._check_exit(name, self.spawn(name, self._flask(*args)))

    def _check_exit(self, name, proc, timeout=60):
        code = proc.wait(timeout)
        self.procs.pop(name, None)
        if code != 0:
            raise RuntimeError(f"{name} exited with {code}:\n{_log_tail(self.workdir / f'{name}.log')}")

    def _wait_healthy(self, proc, timeout=30):
        url = f"http://127.0.0.1:{self.port}/healthz"
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError) as exc:
                last = exc
            time.sleep(0.1)
        raise RuntimeError(f"web never answered {url} ({last}):\n{_log_tail(self.workdir / 'web.log')}")

    def _wait_worker(self, proc, timeout=30):
        """Wait until the RQ worker has registered, so the first email is not left queued."""
        from redis import Redis
        from rq import Queue, Worker

        conn = Redis.from_url(self.services.redis_url)
        try:
            queue = Queue(self.env["RQ_QUEUE"], connection=conn)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and proc.poll() is None:
                if Worker.all(connection=conn, queue=queue):
                    return
                time.sleep(0.1)
        finally:
            conn.close()
        raise RuntimeError(f"the RQ worker did not start:\n{_log_tail(self.workdir / 'worker.log')}")

    def stop(self):
        """App processes first (so the worker does not lose Redis mid-job), then the services."""
        _terminate(list(self.procs.values()))
        self.procs.clear()
        if self.services:
            _terminate(list(self.services.procs.values()))  # all at once: each takes a while
            self.services.stop()


def _terminate(procs, timeout=10):
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def e2e_env(tmp_path_factory):
    """Where the app under test is: base_url (apex), tenants, maildir (or None), stack (or None)."""
    clinics = configured_clinics()
    external = os.environ.get("E2E_BASE_URL", "").strip()
    if external:
        maildir = os.environ.get("E2E_MAILDIR")
        yield {
            "base_url": host_url(external),
            "tenants": clinics,
            "maildir": Path(maildir) if maildir else None,
            "stack": None,
        }
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    workdir, lock = _claim_workdir(f"stack-{worker}" if worker else "stack")
    stack = Stack(workdir, tmp_path_factory.mktemp("var"))
    try:
        stack.start(clinics)
        yield {
            "base_url": f"http://localhost:{stack.port}/",
            "tenants": clinics,
            "maildir": stack.services.maildir,
            "stack": stack,
        }
    finally:
        stack.stop()
        lock.close()


def _claim_workdir(name):
    """An emptied e2e/artifacts/<name>, or <name>.2... while another run holds it (returns dir, lock)."""
    for n in itertools.count(1):
        workdir = ARTIFACTS / (name if n == 1 else f"{name}.{n}")
        workdir.mkdir(parents=True, exist_ok=True)
        lock = open(workdir / ".lock", "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # another pytest session in this checkout is using it
            lock.close()
            continue
        for child in workdir.iterdir():
            if child.name != ".lock":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        return workdir, lock


# -- clinics and URLs -----------------------------------------------------------


@pytest.fixture
def tenant(request):
    """The clinic this run of the journey is for (a Clinic; see pytest_generate_tests)."""
    return request.param


@pytest.fixture
def subdomain_url(e2e_env):
    """subdomain_url("nosuch", "/login") -> http://nosuch.localhost:<port>/login"""
    return lambda subdomain, path="/": host_url(e2e_env["base_url"], subdomain, path)


@pytest.fixture
def tenant_url(tenant, subdomain_url):
    """tenant_url("/login") -> http://<tenant>.localhost:<port>/login"""
    return lambda path="/": subdomain_url(tenant.subdomain, path)


@pytest.fixture
def apex_url(e2e_env):
    """apex_url("/tenant-onboard") -> http://localhost:<port>/tenant-onboard"""
    return lambda path="/": host_url(e2e_env["base_url"], None, path)


@pytest.fixture
def sign_in(page, tenant, tenant_url):
    """sign_in(email=None, password=None): sign `page` in to the clinic (default: its Admin)."""

    def sign_in(email=None, password=None):
        return steps.sign_in(page, tenant_url, email or tenant.admin_email, password or tenant.admin_password)

    return sign_in


@pytest.fixture
def mail(e2e_env):
    """Read the SMTP sink: mail.messages(to=None), mail.wait_for(to=..., subject=..., timeout=10)."""
    if e2e_env["maildir"] is None:
        pytest.skip("no mailbox: set E2E_MAILDIR to the server's Maildir")
    return Mail(e2e_env["maildir"])


class Mail:
    """The sink's Maildir. Clinics run side by side, so filter by recipient."""

    def __init__(self, maildir):
        self.maildir = Path(maildir)

    def messages(self, to=None):
        box = mailbox.Maildir(str(self.maildir), factory=None, create=True)
        parser = BytesParser(policy=policy.default)
        found = [parser.parsebytes(box.get_bytes(key)) for key in box.iterkeys()]
        if to:
            found = [m for m in found if to.lower() in str(m.get("To", "")).lower()]
        return sorted(found, key=lambda m: m.get("Date", ""))

    def wait_for(self, to=None, subject=None, timeout=10.0):
        """The newest message to `to` whose subject contains `subject`; AssertionError after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.messages(to) if subject is None or subject in str(m.get("Subject", ""))]
            if found:
                return found[-1]
            if time.monotonic() > deadline:
                raise AssertionError(f"no email to {to!r} with subject {subject!r} within {timeout}s")
            time.sleep(0.1)


# -- the browser ----------------------------------------------------------------


@pytest.fixture(scope="session")
def playwright():
    with sync_playwright() as p:
        yield p


def launch_chromium(playwright, headless=True):
    """Chromium: E2E_CHROMIUM, else Playwright's own build if installed, else the system one
    (clinic_app.dev.chromium_executable; `make test` obtains one first, scripts/ensure_browser.py)."""
    kwargs = {}
    executable = chromium_executable(playwright.chromium.executable_path)
    if executable is None:
        pytest.exit("No Chromium for the browser tests: run `.venv/bin/python scripts/ensure_browser.py` "
                    "(make test and make e2e run it), or set E2E_CHROMIUM.", returncode=3)
    if executable != playwright.chromium.executable_path:
        kwargs["executable_path"] = executable
    return playwright.chromium.launch(headless=headless, args=CHROMIUM_ARGS, **kwargs)


@pytest.fixture(scope="session")
def browser(playwright):
    browser = launch_chromium(playwright, headless=os.environ.get("E2E_HEADED", "") in ("", "0"))
    yield browser
    browser.close()


def at_the_same_moment(e2e_env, journey, timeout=300):
    """Run `journey(browser, clinic, others)` for the first two E2E_TENANTS at once, each in its own
    thread with its own browser (`others`: the other clinic's subdomain); fail with every error."""
    clinics = e2e_env["tenants"][:2]
    if len(clinics) < 2:
        pytest.skip("needs two E2E_TENANTS")
    errors = []

    def one(clinic):
        try:
            with sync_playwright() as p:
                browser = launch_chromium(p)
                try:
                    journey(browser, clinic, [c.subdomain for c in clinics if c is not clinic])
                finally:
                    browser.close()
        except BaseException as exc:  # reported by the main thread
            errors.append((clinic.subdomain, exc))

    threads = [threading.Thread(target=one, args=(c,)) for c in clinics]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), "a journey hung"
    assert errors == [], errors


@contextmanager
def browser_contexts(browser):
    """`with browser_contexts(browser) as new_page:` each `new_page()` is a page in a fresh context of
    its own (no shared cookies), with the journeys' action timeout; all are closed on the way out."""
    opened = []

    def new_page():
        ctx = browser.new_context()
        ctx.set_default_timeout(ACTION_TIMEOUT_MS)
        opened.append(ctx)
        return ctx.new_page()

    try:
        yield new_page
    finally:
        for ctx in opened:
            ctx.close()


@dataclass(frozen=True)
class JourneyRun:
    """One clinic's run of a whole-clinic journey. Its Admin is signed in on `admin`; `new_page()` gives
    another person a browser context of their own; `name` ("a" alone, "b" side by side) keeps repeated
    runs' people apart; `others` are the other clinics' subdomains (to check no data crosses)."""

    clinic: Clinic
    url: object  # url("/login") -> http://<clinic>.localhost:<port>/login
    mail: Mail
    name: str
    others: list
    new_page: object
    admin: object

    @property
    def marker(self):
        """What this run's people and records carry in their names, e.g. "Clinic1A"."""
        return steps.marker_of(self.clinic.subdomain, self.name)

    def hire(self, who, role, first_name):
        """The Admin invites <who>-<run>@<clinic>.example.com as `role`; they join as "<first_name> <marker>"
        and their page is returned."""
        email = f"{who}-{self.name}@{self.clinic.subdomain}.example.com"
        return steps.join_staff(self.admin, self.url, self.mail, self.new_page, email, role,
                                f"{first_name} {self.marker}")


class Journeys:
    """Runs a whole-clinic journey, `journey(run)` with a JourneyRun, for one clinic or for two at once."""

    def __init__(self, e2e_env, subdomain_url, mail):
        self.e2e_env, self.subdomain_url, self.mail = e2e_env, subdomain_url, mail

    def _run(self, journey, browser, clinic, name, others):
        url = lambda path="/": self.subdomain_url(clinic.subdomain, path)  # noqa: E731
        with browser_contexts(browser) as new_page:
            admin = steps.sign_in(new_page(), url, clinic.admin_email, clinic.admin_password)
            journey(JourneyRun(clinic, url, self.mail, name, list(others), new_page, admin))

    def alone(self, journey, browser, clinic):
        """The journey for `clinic` on its own (run "a")."""
        others = [c.subdomain for c in self.e2e_env["tenants"] if c.subdomain != clinic.subdomain]
        self._run(journey, browser, clinic, "a", others)

    def together(self, journey, timeout):
        """The journey for the first two clinics at the same moment (run "b"; see at_the_same_moment)."""
        at_the_same_moment(self.e2e_env, lambda browser, clinic, others: self._run(
            journey, browser, clinic, "b", others), timeout=timeout)


@pytest.fixture
def journeys(e2e_env, subdomain_url, mail):
    """journeys.alone(journey, browser, tenant) / journeys.together(journey, timeout=...): see Journeys."""
    return Journeys(e2e_env, subdomain_url, mail)


def artifact_dir(item):
    """e2e/artifacts/<test-id>, e.g. test_smoke-test_admin_signs_in_to_the_clinic_dashboard-clinic1."""
    node_id = item.nodeid.split("::", 1)
    module = Path(node_id[0]).stem
    name = re.sub(r"[^\w.-]+", "-", f"{module}-{node_id[-1]}").strip("-")
    return ARTIFACTS / name


@pytest.fixture
def context(request, browser, e2e_env):
    """A fresh, traced browser context per test; base_url is the clinic (or the apex)."""
    if "tenant" in request.fixturenames:
        base_url = host_url(e2e_env["base_url"], request.getfixturevalue("tenant").subdomain)
    else:
        base_url = e2e_env["base_url"]
    out = artifact_dir(request.node)
    shutil.rmtree(out, ignore_errors=True)  # a stale trace from an earlier failure would mislead

    ctx = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 800})
    ctx.set_default_timeout(ACTION_TIMEOUT_MS)
    ctx.tracing.start(title=request.node.nodeid, screenshots=True, snapshots=True, sources=True)
    console = []
    ctx.on("console", lambda msg: console.append(f"{msg.type}: {msg.text} ({msg.location.get('url', '')})"))
    ctx.on("weberror", lambda err: console.append(f"pageerror: {err.error}"))
    yield ctx

    reports = (getattr(request.node, "rep_setup", None), getattr(request.node, "rep_call", None))
    if any(r is not None and r.failed for r in reports):
        out.mkdir(parents=True, exist_ok=True)
        for i, pg in enumerate(p for p in ctx.pages if not p.is_closed()):
            try:
                pg.screenshot(path=out / ("screenshot.png" if i == 0 else f"screenshot-{i}.png"), full_page=True)
            except Exception as exc:  # a crashed page must not hide the trace
                console.append(f"screenshot failed: {exc}")
        ctx.tracing.stop(path=out / "trace.zip")
        (out / "console.log").write_text("\n".join(console) + "\n")
    else:
        ctx.tracing.stop()
    ctx.close()


@pytest.fixture
def page(context):
    return context.new_page()
