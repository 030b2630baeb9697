"""The layers of pyproject.toml's import contracts, and what the linter cannot see."""
import ast
import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from importlinter import cli as importlinter_cli

from clinic_app import jobs
from clinic_app.services import notifications

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "clinic_app"

# Imports inside functions in files other engineers were still writing when this test landed:
# (path, function). Move each to the module top (or give it a comment saying why) and drop it here.
NOT_YET_MOVED = {
    ("clinic_app/services/demo.py", "allergy"),
}


def test_the_import_contracts_are_kept():
    assert importlinter_cli.lint_imports(config_filenames=(str(ROOT / "pyproject.toml"),), no_cache=True, no_logo=True) == 0


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("target", ["test", "unit"])
def test_make_checks_the_contracts_before_the_tests(target):
    lines = subprocess.run(["make", "-n", "-o", ".venv/.installed", target], cwd=ROOT, capture_output=True,
                           text=True, timeout=30, check=True).stdout.splitlines()
    lint = next(i for i, line in enumerate(lines) if "lint-imports" in line)
    assert lint < next(i for i, line in enumerate(lines) if "pytest" in line)


def test_services_enqueue_the_delivery_job_by_a_path_that_names_it():
    module, name = notifications.DELIVER_JOB.rsplit(".", 1)
    assert getattr(importlib.import_module(module), name) is jobs.deliver_email


def _imports_inside_functions(path):
    """(function name, line number, has a comment) for every import statement inside a function."""
    lines = path.read_text().splitlines()
    for node in ast.walk(ast.parse("\n".join(lines))):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for stmt in node.body:
            for sub in ast.walk(stmt):
                if isinstance(sub, (ast.Import, ast.ImportFrom)):
                    yield node.name, sub.lineno, _explained(lines, sub.lineno)


def _explained(lines, lineno):
    """A comment on the import's line, or above the block of imports it belongs to."""
    i = lineno - 1
    if "#" in lines[i]:
        return True
    while i > 0 and lines[i - 1].strip().startswith(("import ", "from ")):
        i -= 1
        if "#" in lines[i]:
            return True
    return i > 0 and lines[i - 1].strip().startswith("#")


def test_imports_are_at_module_top_unless_a_comment_says_why():
    """In-function imports hide cycles (and cost a dict lookup per call): allowed with a reason only."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for function, lineno, explained in _imports_inside_functions(path):
            if not explained and (rel, function) not in NOT_YET_MOVED:
                found.append(f"{rel}:{lineno} in {function}()")
    assert not found, "move these imports to the top of their module, or comment why not:\n" + "\n".join(found)


def test_the_package_imports_without_building_the_app():
    """Leaf modules (and dev.py, which the test harness imports) must not drag in every layer."""
    code = ("import sys, clinic_app.clock, clinic_app.dev; "
            "print(sorted(m for m in sys.modules if m.startswith('clinic_app.')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            timeout=60).stdout
    for layer in ("clinic_app.blueprints", "clinic_app.services", "clinic_app.models"):
        assert f"'{layer}" not in loaded
