"""scripts/ensure_browser.py: what `make test` does before any test when the machine may lack Chromium.

The real steps are programs (Playwright's installer, apt-get); here they are
stand-in scripts on a temporary path, so each branch runs without touching the
machine's own browser or packages.
"""
import importlib.util
import io
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from clinic_app.dev import chromium_executable

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("ensure_browser", ROOT / "scripts" / "ensure_browser.py")
ensure_browser = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ensure_browser)


@pytest.fixture(autouse=True)
def _no_override(monkeypatch):
    monkeypatch.delenv("E2E_CHROMIUM", raising=False)


def _program(path, body):
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def _run(tmp_path, **kwargs):
    out = io.StringIO()
    kwargs.setdefault("system", str(tmp_path / "no-system-chromium"))
    kwargs.setdefault("default", str(tmp_path / "no-playwright-chromium"))
    code = ensure_browser.ensure(out=out, **kwargs)
    return code, out.getvalue().splitlines()


def _failing(tmp_path, name):
    log = tmp_path / f"{name}.calls"
    return _program(tmp_path / name, f'echo "$@" >> {log}; echo "{name}: no network" >&2; exit 1'), log


def test_a_chromium_already_there_is_used_and_nothing_is_installed(tmp_path):
    system = _program(tmp_path / "chromium", "exit 0")
    install, install_log = _failing(tmp_path, "playwright")
    apt_get, apt_log = _failing(tmp_path, "apt-get")
    code, lines = _run(tmp_path, system=system, install_cmd=[install], apt_get=apt_get, root=True)
    assert (code, lines) == (0, [])
    assert not install_log.exists() and not apt_log.exists()


def test_playwrights_download_is_tried_first(tmp_path):
    default = tmp_path / "ms-playwright" / "chrome"
    install = _program(tmp_path / "playwright", f"mkdir -p {default.parent} && touch {default}")
    apt_get, apt_log = _failing(tmp_path, "apt-get")
    code, _ = _run(tmp_path, default=str(default), install_cmd=[install], apt_get=apt_get, root=True)
    assert code == 0 and not apt_log.exists()


def test_without_network_root_falls_through_to_apt_get(tmp_path):
    system = tmp_path / "usr-bin-chromium"
    install, install_log = _failing(tmp_path, "playwright")
    apt_log = tmp_path / "apt.calls"
    apt_get = _program(tmp_path / "apt-get", f'echo "$@" >> {apt_log}; '
                       f'case "$*" in *install*chromium*) touch {system};; esac')
    code, _ = _run(tmp_path, system=str(system), install_cmd=[install], apt_get=apt_get, root=True)
    assert code == 0 and install_log.exists()
    assert apt_log.read_text().splitlines() == ["update -qq", "install -y -qq chromium"]


@pytest.mark.parametrize("root, apt", [(False, True), (True, False), (False, False)])
def test_with_no_way_to_get_one_it_stops_with_one_line_saying_what_to_run(tmp_path, root, apt):
    install, _ = _failing(tmp_path, "playwright")
    apt_get, apt_log = _failing(tmp_path, "apt-get")
    code, lines = _run(tmp_path, install_cmd=[install], apt_get=apt_get if apt else None, root=root)
    assert code == 1
    assert not apt_log.exists()  # apt-get only as root
    last = lines[-1]
    assert last.startswith("No Chromium for the browser tests: install it with `")
    if apt:
        assert "`sudo apt-get install -y chromium`" in last
    assert "playwright install --with-deps chromium" in last and "make test again" in last


def test_a_failing_apt_get_as_root_ends_in_the_same_one_line(tmp_path):
    install, _ = _failing(tmp_path, "playwright")
    apt_get, apt_log = _failing(tmp_path, "apt-get")
    code, lines = _run(tmp_path, install_cmd=[install], apt_get=apt_get, root=True)
    assert code == 1 and apt_log.read_text().splitlines() == ["update -qq"]
    assert "`apt-get install -y chromium`" in lines[-1]


def test_a_missing_installer_or_a_hanging_one_is_a_failure_not_a_crash(tmp_path, monkeypatch):
    monkeypatch.setattr(ensure_browser, "PLAYWRIGHT_TIMEOUT", 1)
    hanging = _program(tmp_path / "hang", "sleep 30")
    for cmd in ([str(tmp_path / "absent")], [hanging]):
        code, lines = _run(tmp_path, install_cmd=cmd, apt_get=None, root=False)
        assert code == 1 and lines[-1].startswith("No Chromium")


def test_a_wrong_e2e_chromium_is_reported_and_nothing_is_installed(tmp_path, monkeypatch):
    monkeypatch.setenv("E2E_CHROMIUM", str(tmp_path / "nope"))
    system = _program(tmp_path / "chromium", "exit 0")
    install, install_log = _failing(tmp_path, "playwright")
    code, lines = _run(tmp_path, system=system, install_cmd=[install], apt_get=None, root=True)
    assert code == 1 and lines == [f"E2E_CHROMIUM={tmp_path / 'nope'} is not a file: point it at a Chromium "
                                   "binary, or unset it."]
    assert not install_log.exists()


def test_the_e2e_lookup_prefers_the_override_then_playwright_then_the_system(tmp_path, monkeypatch):
    pw = _program(tmp_path / "pw-chrome", "exit 0")
    system = _program(tmp_path / "chromium", "exit 0")
    missing = str(tmp_path / "missing")
    assert chromium_executable(pw, system) == pw
    assert chromium_executable(missing, system) == system
    assert chromium_executable(missing, missing) is None
    monkeypatch.setenv("E2E_CHROMIUM", system)
    assert chromium_executable(pw, missing) == system


def test_the_script_runs_as_the_makefile_calls_it(tmp_path):
    chromium = _program(tmp_path / "chromium", "exit 0")
    env = {**os.environ, "E2E_CHROMIUM": chromium}
    done = subprocess.run([sys.executable, "scripts/ensure_browser.py"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
