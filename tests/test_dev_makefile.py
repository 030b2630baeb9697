"""The Makefile as `make` reads it (dry runs): what a first `make run` / `make test` prints and runs first."""
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _dry_run(*args):
    done = subprocess.run(["make", "--no-print-directory", "-n", *args], cwd=ROOT, capture_output=True, text=True, timeout=30, check=True)
    return done.stdout.splitlines()


def test_the_first_run_says_it_is_installing_before_the_quiet_pip():
    lines = _dry_run("-B", "install")  # -B: as on a fresh clone, where .venv does not exist yet
    first_pip = next(i for i, line in enumerate(lines) if "pip install" in line)
    said = [line for line in lines[:first_pip] if line.startswith("echo ")]
    assert said and "Installing dependencies into .venv" in said[0] and "about a minute" in said[0]


@pytest.mark.parametrize("target", ["test", "e2e"])
def test_make_test_and_make_e2e_get_a_browser_before_any_test(target):
    lines = _dry_run("-o", ".venv/.installed", target)  # -o: the venv counts as up to date
    assert lines[0] == ".venv/bin/python scripts/ensure_browser.py"
    assert any("pytest" in line for line in lines[1:])
