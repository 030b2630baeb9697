#!/usr/bin/env python3
"""Make sure the browser journeys have a Chromium, before `make test` / `make e2e` start any test.

    .venv/bin/python scripts/ensure_browser.py

In order: a Chromium that is already there (what e2e/conftest.py launches:
E2E_CHROMIUM, else Playwright's own download, else /usr/bin/chromium); else
Playwright's download (`playwright install chromium`) where the network allows
(it fails within seconds without one); else, as root with apt-get, Debian's
`chromium` package (what .ci/run installs). If none of that works it prints one
line saying exactly what to run and exits 1, so no test runs without a browser.
"""
import os
import re
import shutil
import subprocess
import sys

from clinic_app.dev import SYSTEM_CHROMIUM, chromium_executable

PLAYWRIGHT_INSTALL = [sys.executable, "-m", "playwright", "install", "chromium"]
PLAYWRIGHT_TIMEOUT = 15 * 60  # a slow but working network still gets its ~170 MB download
APT_TIMEOUT = 30 * 60
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def playwright_default():
    """Where Playwright's own Chromium download lives (it may not exist)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        return p.chromium.executable_path


def _run(cmd, timeout, env=None, capture=False):
    """(ok, last line of output) for `cmd`; a missing program or a timeout is a failure, not a crash."""
    try:
        done = subprocess.run(cmd, timeout=timeout, env=env, stdin=subprocess.DEVNULL, text=True,
                              stdout=subprocess.PIPE if capture else None,
                              stderr=subprocess.STDOUT if capture else None)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    lines = [ANSI.sub("", line).strip() for line in (done.stdout or "").splitlines()]
    errors = [line for line in lines if line.startswith(("Error", "E:"))] or [line for line in lines if line]
    return done.returncode == 0, (errors[0] if errors else f"exit status {done.returncode}")


def _try_playwright(install_cmd, say):
    say("No Chromium for the browser tests yet: trying Playwright's download (playwright install chromium)...")
    env = dict(os.environ)
    # Give up on an unreachable download host in seconds rather than after Playwright's default 30 s per try.
    env.setdefault("PLAYWRIGHT_DOWNLOAD_CONNECTION_TIMEOUT", "10000")
    ok, detail = _run(install_cmd, PLAYWRIGHT_TIMEOUT, env=env, capture=True)
    if not ok:
        say(f"Playwright's download did not work ({detail[:160]}).")
    return ok


def _try_apt(apt_get, say):
    say("Installing Debian's chromium package (apt-get install -y chromium; a few minutes)...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # dpkg's hundreds of lines are kept back; only a failure's first error line is shown.
    ok, detail = _run([apt_get, "update", "-qq"], APT_TIMEOUT, env=env, capture=True)
    if ok:
        ok, detail = _run([apt_get, "install", "-y", "-qq", "chromium"], APT_TIMEOUT, env=env, capture=True)
    if not ok:
        say(f"apt-get could not install chromium ({detail}).")
    return ok


def _what_to_run(root, apt_get):
    if apt_get:
        command = "apt-get install -y chromium" if root else "sudo apt-get install -y chromium"
    else:
        command = "your package manager's Chromium (then E2E_CHROMIUM=/path/to/chromium if it is not /usr/bin/chromium)"
    return (f"No Chromium for the browser tests: install it with `{command}` "
            "(or, with network access, `.venv/bin/playwright install --with-deps chromium`), then run make test again.")


def ensure(system=SYSTEM_CHROMIUM, default=None, install_cmd=PLAYWRIGHT_INSTALL, apt_get="",
           root=None, out=sys.stderr):
    """0 when a Chromium is there (found or obtained), else 1 after one line saying what to run."""
    def say(line):
        print(line, file=out, flush=True)

    if default is None:  # asked once: each ask starts Playwright's driver, and the path is fixed either way
        default = playwright_default()

    def found():
        return chromium_executable(default, system)

    override = os.environ.get("E2E_CHROMIUM")
    if override and not found():
        say(f"E2E_CHROMIUM={override} is not a file: point it at a Chromium binary, or unset it.")
        return 1
    if found():
        return 0
    if _try_playwright(install_cmd, say) and found():
        return 0
    apt_get = shutil.which("apt-get") if apt_get == "" else apt_get
    root = (os.geteuid() == 0) if root is None else root
    if root and apt_get and _try_apt(apt_get, say) and found():
        return 0
    say(_what_to_run(root, apt_get))
    return 1


if __name__ == "__main__":
    sys.exit(ensure())
