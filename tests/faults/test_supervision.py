"""`make run`: one process exiting never takes the stack down silently (clinic_app/dev.py `supervise`).

Each Procfile line runs under a tiny supervisor: a process that exits is restarted with back-off
and said so on the console; one that keeps exiting at once is given up with a clear message (then
honcho stops the rest); SIGTERM reaches the process once; a SIGKILLed supervisor takes its process
with it. Also: the embedded SecantusDB always runs with durable commits.
"""
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from clinic_app.dev import mongo_command

from .conftest import wait_until

ROOT = Path(__file__).resolve().parents[2]


def _supervisor(tmp_path, child_code, **options):
    """A supervisor process (as a Procfile line runs it) around `python -c child_code`."""
    child = tmp_path / "child.py"
    child.write_text(textwrap.dedent(child_code))
    opts = ", ".join(f"{k}={v!r}" for k, v in {"delays": (0.05,), **options}.items())
    code = (f"import sys; from clinic_app.dev import supervise; "
            f"sys.exit(supervise('demo', argv=[sys.executable, {str(child)!r}], {opts}))")
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def _lines(path):
    return path.read_text().split() if path.exists() else []


def test_a_process_that_keeps_exiting_is_restarted_then_given_up_with_a_clear_message(tmp_path, fault_report):
    proc = _supervisor(tmp_path, "import sys; sys.exit(3)", quick=10, give_up_after=3)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3
    assert err.count("make run: demo exited with code 3") == 2 and "restarting it in" in err
    assert "make run: demo keeps exiting (code 3, 3 times in a row" in err and "stopping everything" in err
    fault_report.add("make run", "a process exiting at once is restarted with back-off, given up after 3 quick "
                                 "exits with 'make run: demo keeps exiting ... stopping everything'")


def test_a_crashed_process_is_restarted_and_sigterm_reaches_it_once(tmp_path, fault_report):
    starts, signals = tmp_path / "starts", tmp_path / "signals"
    proc = _supervisor(tmp_path, f"""
        import os, signal, sys, time
        with open({str(starts)!r}, "a") as f:
            f.write(f"{{os.getpid()}}\\n")
        if len(open({str(starts)!r}).read().split()) == 1:
            sys.exit(1)  # the first run crashes
        def got(signum, frame):
            with open({str(signals)!r}, "a") as f:
                f.write(f"{{signum}}\\n")
            sys.exit(0)
        signal.signal(signal.SIGTERM, got)
        while True:
            time.sleep(0.05)
    """, quick=0.01)
    try:
        wait_until(lambda: len(_lines(starts)) == 2 and _signal_ready(int(_lines(starts)[1])),
                   what="the restart")
        os.killpg(proc.pid, signal.SIGTERM)  # what honcho does on Ctrl-C: the supervisor's group only
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "make run: demo exited with code 1" in err and "restarting it in" in err
    assert _lines(signals) == [str(int(signal.SIGTERM))]  # once: twice would be an RQ worker's cold shutdown
    fault_report.add("make run", "a crashed process is restarted (said on the console); Ctrl-C/SIGTERM "
                                 "reaches it exactly once")


def _signal_ready(pid):
    """True once `pid` has installed its SIGTERM handler (SigCgt in /proc), so the test does not race it."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    caught = int(next(line for line in status.splitlines() if line.startswith("SigCgt:")).split()[1], 16)
    return bool(caught & (1 << (signal.SIGTERM - 1)))


def test_a_killed_supervisor_takes_its_process_with_it(tmp_path):
    starts = tmp_path / "starts"
    proc = _supervisor(tmp_path, f"""
        import os, time
        open({str(starts)!r}, "a").write(f"{{os.getpid()}}\\n")
        while True:
            time.sleep(0.05)
    """)
    child = int(wait_until(lambda: _lines(starts), what="the child")[0])
    proc.kill()
    proc.wait(10)
    wait_until(lambda: not _alive(child), timeout=10, what="the child to die with its supervisor")


def _alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_every_procfile_process_is_supervised_and_secantus_commits_durably():
    lines = [line for line in (ROOT / "Procfile").read_text().splitlines() if line.strip()]
    assert lines and all(": python -m clinic_app.dev supervise " in line for line in lines), lines
    assert "--sync-on-commit" in mongo_command(27017, "/tmp/x")
