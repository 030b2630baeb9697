"""The SMTP sink as `make run` starts it (the Procfile's `smtp` line) keeps every message in var/mail/new."""
import os
import shlex
import smtplib
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from clinic_app.dev import ensure_maildir, free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent


def _procfile_command(name):
    """The Procfile line honcho runs for `name`, with this interpreter for `python` (PATH has .venv/bin first)."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        key, _, command = line.partition(":")
        if key.strip() == name:
            args = shlex.split(command)
            return [sys.executable if args[0] == "python" else args[0], *args[1:]]
    raise AssertionError(f"no {name} line in the Procfile")


def _message():
    msg = EmailMessage()
    msg["From"] = "clinic_app <no-reply@localhost>"
    msg["To"] = "new.admin@example.test"
    msg["Subject"] = "Welcome to clinic_app"
    msg.set_content("Your clinic is ready.")
    return msg


def _wait_for_files(folder, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(folder.iterdir()) if folder.is_dir() else []
        if found:
            return found
        time.sleep(0.05)
    return []


# "existing": var/mail left empty by an earlier start (the state every `make run` met, since
# dev.py itself created the folder before aiosmtpd's Maildir could); "fresh": no var/ at all.
@pytest.mark.parametrize("state", ["existing", "fresh"])
def test_the_make_run_sink_stores_a_sent_message_in_new(tmp_path, state):
    var = tmp_path / "var"
    if state == "existing":
        (var / "mail").mkdir(parents=True)
    port = free_port()
    env = {**os.environ, "VAR_DIR": str(var), "SMTP_PORT": str(port), "SMTP_HOST": "127.0.0.1"}
    log = open(tmp_path / "smtp.log", "wb")
    proc = subprocess.Popen(_procfile_command("smtp"), cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_port(port, proc=proc, name="smtp", timeout=30)
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            refused = smtp.send_message(_message())
        assert refused == {}
        stored = _wait_for_files(var / "mail" / "new")
        assert len(stored) == 1, (tmp_path / "smtp.log").read_text(errors="replace")
        assert b"Subject: Welcome to clinic_app" in stored[0].read_bytes()
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def test_ensure_maildir_completes_an_empty_folder_and_keeps_messages(tmp_path):
    folder = tmp_path / "mail"
    folder.mkdir()
    ensure_maildir(folder)
    assert {p.name for p in folder.iterdir()} == {"tmp", "new", "cur"}
    (folder / "new" / "1.msg").write_bytes(b"kept")
    ensure_maildir(folder)  # idempotent: a restart loses nothing
    assert (folder / "new" / "1.msg").read_bytes() == b"kept"
