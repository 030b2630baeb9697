"""MongoDB stopped, SIGKILLed and stalled (SIGSTOP) under signed-in traffic from two clinics.

What must hold (issue 13): every answer is a page, a redirect or the 503 page/JSON, never a 500;
no answer takes longer than the request budget (MONGODB_TIMEOUT_MS) plus a small margin, however
many queries the page makes; service comes back by itself; every write that was answered "saved"
(303) is there after the database restarts, once, with a unique record number.
"""
import json
import time
from dataclasses import dataclass

from clinic_app.models import Patient
from clinic_app.tenancy import tenant_context

from .conftest import MIXED, WRITES, Traffic, signed_in_users, two_clinics, wait_until
from .report import statuses

BUDGET_MS = 1000  # MONGODB_TIMEOUT_MS for these apps: ONE deadline for all of a request's MongoDB work
# pymongo re-checks server selection every 0.5 s, and 2 shared cores add scheduling noise.
BOUND = BUDGET_MS / 1000 + 0.5 + 0.7


def _check_answers(answers):
    """Every answer is 200/303 or a real 503 page/JSON, within BOUND. Returns the failed ones."""
    wrong = [(a.kind, a.status, a.body[:300]) for a in answers if a.status not in (200, 303, 503)]
    assert not wrong, wrong
    failed = [a for a in answers if a.status == 503]
    for a in failed:
        if a.kind == "api":
            body = json.loads(a.body)
            assert body["success"] is False and body["error"]["code"] == 503
        else:
            assert b"Temporarily unavailable" in a.body and b"Traceback" not in a.body
    slow = [(a.kind, a.status, round(a.seconds, 2)) for a in answers if a.seconds > BOUND]
    assert not slow, f"answers slower than {BOUND:.1f} s: {slow}"
    return failed


def _saved(app, clinics, answers):
    """Registrations -> (answered 'saved', found after restart, lost, answered 503 yet saved).

    Asserts that nobody was registered twice and that record numbers are unique per clinic.
    """
    acked = {a.name: a.location.rsplit("/", 1)[-1] for a in answers if a.kind == "register" and a.status == 303}
    refused = {a.name for a in answers if a.kind == "register" and a.status == 503}
    stored = {}
    for tenant in clinics:
        with app.app_context(), tenant_context(tenant):
            patients = list(Patient.objects(first_name="Fault").only("id", "last_name", "record_number"))
        names = [p.last_name for p in patients]
        assert len(names) == len(set(names)), "a registration was stored twice"
        numbers = [p.record_number for p in patients]
        assert len(numbers) == len(set(numbers)), f"record numbers repeat in {tenant.subdomain}"
        stored.update({p.last_name: str(p.pk) for p in patients})
    found = sum(1 for name, pid in acked.items() if stored.get(name) == pid)
    return len(acked), found, len(acked) - found, len(refused & set(stored))


def _recovery(answers, since):
    """Seconds from `since` to the end of the first successful answer that started after it."""
    done = [a.started + a.seconds for a in answers if a.started >= since and a.ok]
    return min(done) - since if done else None


@dataclass
class Outage:
    """What signed-in traffic saw around one database fault: every answer, and when the fault began and ended."""

    answers: list
    down: float
    up: float

    @property
    def during(self):
        """The answers that overlapped the fault (ended after it began, started before it was mended)."""
        return [a for a in self.answers if self.down <= a.started + a.seconds and a.started <= self.up]


def _outage(app, clinics, fault, mend, *, ready, failures, lasting=0.0, actions=MIXED):
    """Run `fault()` then `mend()` under traffic from two signed-in users per clinic; returns the Outage.

    `ready(traffic)` says when enough has gone through to break the database; the fault lasts until
    `failures` 503s have been answered and `lasting` seconds have passed; then every user must be
    served three times. Raises AssertionError when a wait times out.
    """
    traffic = Traffic(signed_in_users(app, clinics), actions=actions).start()
    try:
        wait_until(lambda: ready(traffic), what="traffic before the fault")
        down = time.monotonic()
        fault()
        wait_until(lambda: traffic.count(since=down, status=503) >= failures and time.monotonic() - down > lasting,
                   what="503s during the fault")
        mend()
        up = time.monotonic()
        wait_until(lambda: traffic.every_user_ok_since(up, n=3), timeout=20, what="recovery after the fault")
    finally:
        traffic.stop()
    return Outage(traffic.snapshot(), down, up)


def test_mongodb_stopped_mid_traffic_then_restarted(stack, fault_app, fault_report):
    app = fault_app(MONGODB_TIMEOUT_MS=BUDGET_MS)
    clinics = two_clinics(app)
    outage = _outage(app, clinics, lambda: stack.terminate("mongo"), lambda: stack.start_again("mongo"),
                     ready=lambda traffic: traffic.count(ok=True) >= 12, failures=4, lasting=BOUND + 0.5)
    failed = _check_answers(outage.answers)
    acked, found, lost, ambiguous = _saved(app, clinics, outage.answers)
    recovery = _recovery(outage.answers, outage.up)

    assert lost == 0
    assert failed, "the outage was not seen"
    assert all(a.started + a.seconds >= outage.down for a in failed), "a 503 before the outage"
    assert recovery is not None and recovery < 5
    fault_report.add("outage", f"MongoDB stopped (SIGTERM) for {outage.up - outage.down:.1f} s under 4 signed-in "
                               "users (2 clinics: dashboard, patient list, registration, API)")
    fault_report.add("user saw during the outage", f"{statuses(outage.during)}; every failure the 503 page/JSON, "
                                                  f"slowest answer {max(a.seconds for a in outage.during):.2f} s "
                                                  f"(budget {BUDGET_MS} ms); 0 x 500")
    fault_report.add("recovery", f"first success {recovery:.2f} s after the restart, no intervention")
    fault_report.add("writes", f"{acked} registrations answered 'saved' (303); {found} present after restart, "
                               f"lost {lost}; duplicates 0; record numbers unique; "
                               f"{ambiguous} answered 503 yet saved")


def test_mongodb_sigkilled_during_a_burst_of_writes_loses_no_acknowledged_write(stack, fault_app, fault_report):
    app = fault_app(MONGODB_TIMEOUT_MS=BUDGET_MS)
    clinics = two_clinics(app)
    outage = _outage(app, clinics, lambda: stack.kill("mongo"),  # SIGKILL: no shutdown, no flush
                     lambda: stack.start_again("mongo"), actions=WRITES,
                     ready=lambda traffic: traffic.count(status=303) >= 20, failures=4)
    failed = _check_answers(outage.answers)
    acked, found, lost, ambiguous = _saved(app, clinics, outage.answers)
    acked_last_second = sum(1 for a in outage.answers if a.kind == "register" and a.status == 303
                            and outage.down - 1 <= a.started + a.seconds <= outage.down)

    assert lost == 0, f"{lost} of {acked} acknowledged registrations vanished"
    assert failed
    fault_report.add("fault", f"SecantusDB SIGKILLed during a burst of registrations (4 users, 2 clinics), "
                              f"restarted after {outage.up - outage.down:.1f} s")
    fault_report.add("user saw while it was down", f"{statuses(outage.during)}; every failure the 503 page, "
                                                   f"slowest {max(a.seconds for a in outage.during):.2f} s; 0 x 500")
    fault_report.add("writes", f"{acked} answered 'saved' ({acked_last_second} in the last second before the "
                               f"kill): {found} present after restart, lost {lost}; duplicates 0; record numbers "
                               f"unique; {ambiguous} answered 503 yet saved (the write landed, the answer did not)")
    fault_report.add("recovery", f"first success {_recovery(outage.answers, outage.up):.2f} s after the restart")


def test_a_stalled_database_answers_within_the_budget_then_serves_normally(stack, fault_app, fault_report):
    app = fault_app(MONGODB_TIMEOUT_MS=BUDGET_MS)
    clinics = two_clinics(app)
    outage = _outage(app, clinics, lambda: stack.pause("mongo"),  # SIGSTOP: connections stay open, nothing answers
                     lambda: stack.resume("mongo"),
                     ready=lambda traffic: traffic.count(ok=True) >= 12, failures=6, lasting=2.5)
    _check_answers(outage.answers)  # includes: no answer slower than BOUND
    acked, found, lost, ambiguous = _saved(app, clinics, outage.answers)
    recovery = _recovery(outage.answers, outage.up)
    after = [a for a in outage.answers if a.started >= outage.up + recovery]

    assert lost == 0
    assert all(a.ok for a in after), statuses(after)
    fault_report.add("fault", f"SecantusDB paused (SIGSTOP) for {outage.up - outage.down:.1f} s under 4 signed-in users")
    fault_report.add("user saw during the stall",
                     f"{statuses(outage.during)}; slowest answer {max(a.seconds for a in outage.during):.2f} s "
                     f"(bound {BOUND:.1f} s = budget {BUDGET_MS} ms + margin); no worker held longer; 0 x 500")
    fault_report.add("after", f"normal service {recovery:.2f} s after SIGCONT; "
                              f"{statuses(after)} since")
    fault_report.add("writes", f"{acked} answered 'saved', lost {lost}; {ambiguous} answered 503 yet saved")
