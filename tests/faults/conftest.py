"""Fault injection: the app against its own SecantusDB, Redis and SMTP sink, which the tests kill.

Every test gets a dedicated stack on free ports (`stack`: SecantusDB on disk with
--sync-on-commit, Redis, the SMTP sink), so stopping, pausing (SIGSTOP) or
killing them never touches the rest of the suite. Request-path faults drive
the app in-process with the Flask test client (`fault_app`); worker and cron
faults run the real processes (`procs`: `worker.py`, `python -m clinic_app.cron`).
Timeouts, back-off and leases are shortened through settings
(MONGODB_TIMEOUT_MS, REDIS_RETRY_MAX_SECONDS, CRON_INTERVALS, the shared clock
offset of TIME_TRAVEL) and waits poll for a condition; nothing sleeps for a
fixed time. Each test writes what the user saw and what was lost to the
`fault_report` (printed in the terminal summary, see report.py).
"""
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

from clinic_app import create_app
from clinic_app.config import load_config
from clinic_app.dev import Services, wait_for_port
from clinic_app.extensions import ensure_indexes, init_db
from tests.conftest import app_config
from tests.support import (TenantClient, api_auth, in_tenant_of, make_clinic, pause_process, read_mail,
                           signed_in_client)

from .report import KEY, FaultReport

ROOT = Path(__file__).resolve().parents[2]
QUEUE = "faults"


def wait_until(predicate, timeout=15.0, interval=0.02, what="condition"):
    """Poll `predicate` until it is truthy; returns its value. Raises AssertionError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class FaultStack(Services):
    """Services whose processes the test may stop, pause, kill and start again on the same port."""

    def __init__(self, workdir):
        super().__init__(workdir, on_disk=True)
        self.cmds = {}

    def _start(self, name, cmd, port):
        self.cmds[name] = cmd
        return super()._start(name, cmd, port)

    def pause(self, name):
        pause_process(self.procs[name].pid)

    def resume(self, name):
        os.kill(self.procs[name].pid, signal.SIGCONT)

    def kill(self, name):
        proc = self.procs[name]
        proc.kill()
        proc.wait(10)

    def terminate(self, name):
        proc = self.procs[name]
        proc.terminate()
        proc.wait(10)

    def start_again(self, name):
        """Start `name` again on its port, with its data (after terminate/kill)."""
        assert self.procs[name].poll() is not None, f"{name} is still running"
        self._start(name, self.cmds[name], self.ports[name])
        wait_for_port(self.ports[name], proc=self.procs[name], name=name, timeout=60)

    def close(self):
        """SIGKILL everything at once: the data is thrown away, a graceful stop only costs time."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
        for proc in self.procs.values():
            proc.wait(10)
        self.procs.clear()


@pytest.fixture
def stack(tmp_path):
    svc = FaultStack(tmp_path / "stack").start()
    yield svc
    svc.close()


@pytest.fixture
def fault_app(stack, services):
    """`fault_app(**config)` -> an app on the fault stack (the suite's own database is given back after)."""
    made = []

    def make(**extra):
        cfg = app_config(stack, MONGODB_URI=stack.mongodb_uri, REDIS_URL=stack.redis_url,
                         SMTP_PORT=stack.ports["smtp"], RQ_QUEUE=QUEUE, **extra)
        app = create_app(cfg)
        app.test_client_class = TenantClient
        with app.app_context():
            ensure_indexes()
        made.append(app)
        return app

    yield make
    if made:  # create_app rebound mongoengine's default connection to the fault stack
        init_db(SimpleNamespace(config=load_config(**app_config(services))))


@pytest.fixture
def fault_report(request):
    report = FaultReport(request.node.name)
    yield report
    text = report.render()
    request.node.user_properties.append((KEY, text))
    print("\n" + text)


# -- the app's own processes ---------------------------------------------------------------


class Processes:
    """worker.py / the cron process as real subprocesses with the fault stack's settings."""

    def __init__(self, workdir, stack, **settings):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.procs = {}
        self.env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TZ", "TMPDIR")}
        self.env.update({
            "CLINIC_ENV": "test",
            "SECRET_KEY": "test-secret-key",
            "MONGODB_URI": stack.mongodb_uri,
            "REDIS_URL": stack.redis_url,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(stack.ports["smtp"]),
            "RQ_QUEUE": QUEUE,
            "BASE_DOMAIN": "localhost",
            "TENANT_CACHE_SECONDS": "0",
            "BCRYPT_ROUNDS": "4",
            "MONGODB_TIMEOUT_MS": "1000",
            "REDIS_RETRY_MAX_SECONDS": "0.5",  # reconnect quickly: the outages here last seconds
            "CRON_INTERVALS": "requeue_unsent=1,dispatch_reminders=3600",
            "TIME_TRAVEL": "1",  # leases and grace periods pass by moving the shared clock, not by waiting
            "VAR_DIR": str(self.workdir / "var"),
            "PYTHONUNBUFFERED": "1",
        })
        self.env.update({k: str(v) for k, v in settings.items()})

    def spawn(self, name, cmd):
        log = open(self.workdir / f"{name}.log", "ab")
        proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.procs[name] = proc
        return proc

    def worker(self, name="worker"):
        return self.spawn(name, [sys.executable, "worker.py"])

    def cron(self, name="cron"):
        return self.spawn(name, [sys.executable, "-m", "clinic_app.cron"])

    def log(self, name):
        try:
            return (self.workdir / f"{name}.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def alive(self, *names):
        return all(self.procs[n].poll() is None for n in names)

    def kill(self, name):
        self.procs[name].kill()
        self.procs[name].wait(10)

    def stop_all(self):
        """SIGKILL each process group (a worker and its scheduler): nothing of theirs is kept."""
        for proc in self.procs.values():
            _signal_group(proc, signal.SIGKILL)
        for proc in self.procs.values():
            proc.wait(10)


def _signal_group(proc, sig):
    try:
        os.killpg(proc.pid, sig)  # started with start_new_session: its pid is its group
    except ProcessLookupError:
        pass


@pytest.fixture
def procs(tmp_path, stack):
    group = Processes(tmp_path / "procs", stack)
    yield group
    group.stop_all()


def wait_for_worker(redis_url, proc, timeout=30):
    """Until an RQ worker listens on the fault queue (its first job must not wait for a slow start)."""
    from redis import Redis
    from rq import Queue, Worker

    conn = Redis.from_url(redis_url)
    try:
        queue = Queue(QUEUE, connection=conn)
        wait_until(lambda: proc.poll() is not None or Worker.all(connection=conn, queue=queue),
                   timeout=timeout, what="the RQ worker to register")
        assert proc.poll() is None, "the worker exited"
    finally:
        conn.close()


def set_clock_offset(redis_url, seconds):
    """Move the worker's and cron's clock (TIME_TRAVEL's OffsetClock, shared through Redis)."""
    from redis import Redis

    from clinic_app.clock import OffsetClock

    conn = Redis.from_url(redis_url)
    try:
        OffsetClock(conn).set_offset(seconds)
    finally:
        conn.close()


def mail_ids(stack):
    """Message-ID of every message the fault stack's SMTP sink kept."""
    return [m["Message-ID"] for m in read_mail(stack.maildir)]


# -- signed-in users sending traffic (request-path faults) -----------------------------------


@dataclass
class Answer:
    user: int
    kind: str
    status: int
    started: float
    seconds: float
    location: str = ""
    body: bytes = b""
    name: str = ""

    @property
    def ok(self):
        return self.status in (200, 303)


def _page(client, tenant, n, user):
    return "page", client.get("/", tenant=tenant), ""


def _list(client, tenant, n, user):
    return "list", client.get("/patients/", tenant=tenant), ""


def _register(client, tenant, n, user):
    name = f"U{user}N{n}"
    return "register", client.post("/patients/new", tenant=tenant,
                                    data={"first_name": "Fault", "last_name": name, "sex": "unknown"}), name


def _api(client, tenant, n, user):
    return "api", client.get("/api/v1/patients", tenant=tenant, headers=client.api_auth), ""


MIXED = (_page, _register, _list, _api)
WRITES = (_register, _register, _register, _page)


class Traffic:
    """Threads of signed-in staff, each cycling through `actions` until stopped; every answer is kept."""

    def __init__(self, users, actions=MIXED):
        self.users, self.actions = users, actions
        self.answers = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(len(users))]

    def _run(self, user):
        client, tenant = self.users[user]
        n = 0
        while not self._stop.is_set():
            action = self.actions[n % len(self.actions)]
            started = time.monotonic()
            kind, response, name = action(client, tenant, n, user)
            answer = Answer(user, kind, response.status_code, started, time.monotonic() - started,
                            response.headers.get("Location", ""), response.get_data()[:2000], name)
            with self._lock:
                self.answers.append(answer)
            n += 1

    def start(self):
        for t in self._threads:
            t.start()
        return self

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(30)

    def snapshot(self):
        with self._lock:
            return list(self.answers)

    def count(self, since=0.0, ok=None, status=None):
        return sum(1 for a in self.snapshot() if a.started >= since and (ok is None or a.ok == ok)
                   and (status is None or a.status == status))

    def every_user_ok_since(self, since, n=2):
        answers = self.snapshot()
        return all(sum(1 for a in answers if a.user == u and a.started >= since and a.ok) >= n
                   for u in range(len(self.users)))


def signed_in_users(app, clinics, per_clinic=2):
    """(client, tenant) pairs, each its own browser session signed in as the clinic's Admin, with an API token."""
    users = []
    for tenant in clinics:
        auth = api_auth(in_tenant_of(app), tenant, "Admin")
        for _ in range(per_clinic):
            client = signed_in_client(app, tenant, f"admin@{tenant.subdomain}.test")
            client.api_auth = auth
            users.append((client, tenant))
    return users


def two_clinics(app):
    with app.app_context():
        return [make_clinic("faulta", "Fault Clinic A"), make_clinic("faultb", "Fault Clinic B")]



def clinic_with_welcome(app, subdomain):
    """A provisioned clinic whose welcome email is queued (its job waits for a worker), as sign-up leaves it."""
    from clinic_app.models import User
    from clinic_app.services.onboarding import send_welcome
    from clinic_app.tenancy import tenant_context

    with app.app_context():
        tenant = make_clinic(subdomain, f"{subdomain.title()} Clinic")
        with tenant_context(tenant):
            admin = User.objects.get(email=f"admin@{subdomain}.test")
        send_welcome(tenant, admin)
    return tenant
