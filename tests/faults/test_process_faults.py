"""Redis, the worker and SMTP failing under the real worker and cron processes.

What must hold (issue 13, ARCHITECTURE §8): pages keep working while Redis is away;
mail asked for meanwhile is delayed, never lost, and sent exactly once; the
worker, its scheduler and cron stay up and carry on by themselves; a worker
killed mid-delivery costs at most one extra copy, with the same Message-ID
(the documented at-least-once case); an SMTP outage is retried with back-off
and delivered once.
"""
import time
from datetime import datetime, timedelta, timezone

import pytest
from redis import Redis
from rq import Queue, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job

from clinic_app import jobs
from clinic_app.clock import as_utc
from clinic_app.models import OutboundMessage
from clinic_app.services.notifications import UNKNOWN_OUTCOME
from clinic_app.tenancy import tenant_context
from tests.support import signed_in_client

from .conftest import QUEUE, clinic_with_welcome, mail_ids, set_clock_offset, wait_for_worker, wait_until


def _messages(app, clinic, **filters):
    with app.app_context(), tenant_context(clinic):
        return list(OutboundMessage.objects(**filters))


def _one(app, clinic, **filters):
    found = _messages(app, clinic, **filters)
    return found[0] if len(found) == 1 else None


def _requeue_ran_after(redis_url, moment):
    """True once a periodic requeue job (enqueued by cron, run by the worker) finished after `moment` (UTC)."""
    conn = Redis.from_url(redis_url)
    try:
        job = Job.fetch("periodic-requeue_unsent", connection=conn)
    except NoSuchJobError:
        return False
    finally:
        conn.close()
    return job.is_finished and job.ended_at is not None and as_utc(job.ended_at) > moment


def _utcnow():
    return datetime.now(timezone.utc)


def test_redis_stopped_and_restarted_pages_served_mail_delayed_then_sent_once(stack, fault_app, procs,
                                                                              fault_report):
    app = fault_app()
    clinic = clinic_with_welcome(app, "redisout")
    worker, cron = procs.worker(), procs.cron()
    wait_for_worker(stack.redis_url, worker)
    wait_until(lambda: len(mail_ids(stack)) == 1, what="the welcome email")
    client = signed_in_client(app, clinic, "admin@redisout.test")

    stack.terminate("redis")  # no persistence: it comes back empty (every queued job and retry lost)
    down = time.monotonic()
    wait_until(lambda: "Redis unavailable" in procs.log("cron")
               and ("could not connect to Redis" in procs.log("worker") or "Redis unavailable" in procs.log("worker")),
               what="the worker and cron to notice the outage")
    pages = [client.get(path, tenant=clinic) for path in ("/", "/patients/", "/appointments/")]
    forgot = client.post("/password/forgot", data={"email": "admin@redisout.test"}, tenant=clinic)
    health = client.get("/healthz")
    assert [p.status_code for p in pages] == [200, 200, 200]
    assert forgot.status_code == 303  # "we have sent you a link": it waits in the outbox
    assert health.status_code == 503 and health.json["checks"]["redis"].startswith("down")
    reset = _one(app, clinic, kind="password_reset")
    assert reset is not None and reset.status == "queued"
    assert procs.alive("worker", "cron"), "a process died with Redis"
    pids = (worker.pid, cron.pid)
    outage = time.monotonic() - down

    stack.start_again("redis")
    up = time.monotonic()
    # The worker's clock (TIME_TRAVEL) moves past the outbox's 1-minute grace for a message without a job.
    set_clock_offset(stack.redis_url, 120)
    wait_until(lambda: len(mail_ids(stack)) == 2, timeout=30, what="the mail written during the outage")
    delivered_after = time.monotonic() - up
    sent_at = _utcnow()

    conn = Redis.from_url(stack.redis_url)
    try:
        delayed = Queue(QUEUE, connection=conn).enqueue_in(timedelta(seconds=1), jobs.run_periodic,
                                                           "dispatch_reminders")
        wait_until(lambda: delayed.get_status(refresh=True) == "finished", timeout=20,
                   what="a delayed job (the scheduler moves it after the outage)")
        wait_until(lambda: Worker.all(connection=conn, queue=Queue(QUEUE, connection=conn)),
                   what="the worker to register again")
    finally:
        conn.close()
    wait_until(lambda: _requeue_ran_after(stack.redis_url, sent_at), timeout=20, what="another requeue run")

    ids = mail_ids(stack)
    assert len(ids) == len(set(ids)) == 2, ids
    assert {m.status for m in _messages(app, clinic)} == {"sent"}
    assert procs.alive("worker", "cron") and (worker.pid, cron.pid) == pids
    fault_report.add("fault", f"Redis stopped for {outage:.1f} s and restarted empty (no persistence), "
                              "worker and cron running")
    fault_report.add("user saw", "dashboard, patients, appointments: 200; 'forgot password': 303 (accepted); "
                                 "operator: /healthz 503 naming Redis")
    fault_report.add("processes", "worker, its scheduler and cron logged the outage and stayed up "
                                  "(same PIDs), reconnected by themselves; worker registered again")
    fault_report.add("mail", f"the reset link asked for during the outage was delivered {delivered_after:.1f} s "
                             "after Redis returned (clock moved past the 1-minute grace), exactly once; "
                             "lost 0, duplicated 0; a delayed job ran after the outage")


@pytest.mark.parametrize("smtp_got_it", [False, True], ids=["died-before-smtp-accepted", "died-after-smtp-accepted"])
def test_worker_killed_mid_delivery_resends_once_with_the_same_message_id(stack, fault_app, procs, fault_report,
                                                                          smtp_got_it):
    app = fault_app()
    clinic = clinic_with_welcome(app, "killed")  # its welcome email waits in the queue
    procs.env["SMTP_TIMEOUT"] = "60"
    procs.cron()  # from the start: its requeue runs every second, finding nothing until the lease ends
    stack.pause("smtp")  # the worker will hang inside the SMTP conversation
    first = procs.worker("worker1")
    message = wait_until(lambda: _one(app, clinic, kind="welcome", status="sending"), timeout=30,
                         what="the worker to claim the welcome email")
    if smtp_got_it:
        # The worker cannot record "sent" (SecantusDB is gone: a paused one would still take the write
        # already in its socket buffer) after SMTP has accepted the message.
        stack.kill("mongo")
        stack.resume("smtp")
        wait_until(lambda: len(mail_ids(stack)) == 1, what="SMTP to accept the message")
    procs.kill("worker1")  # SIGKILL mid-delivery
    if smtp_got_it:
        stack.start_again("mongo")
    else:
        stack.resume("smtp")
    assert first.poll() is not None
    assert _one(app, clinic, kind="welcome").status == "sending"  # in doubt until its 5-minute lease ends

    procs.worker("worker2")
    set_clock_offset(stack.redis_url, 6 * 60)  # the processes' clock passes the lease
    wait_until(lambda: _one(app, clinic, kind="welcome", status="sent"), timeout=30, what="the re-send")
    expected = 2 if smtp_got_it else 1
    wait_until(lambda: len(mail_ids(stack)) == expected, what=f"{expected} copies")
    sent_at = _utcnow()
    wait_until(lambda: _requeue_ran_after(stack.redis_url, sent_at), timeout=20, what="another requeue run")

    ids = mail_ids(stack)
    sent = _one(app, clinic, kind="welcome")
    assert len(ids) == expected and set(ids) == {message.message_id}
    assert sent.attempts == 2 and sent.last_error.startswith(UNKNOWN_OUTCOME)
    fault_report.add("fault", "worker SIGKILLed mid-delivery "
                              + ("after SMTP accepted the message, before recording it" if smtp_got_it
                                 else "inside the SMTP conversation, before SMTP accepted it"))
    fault_report.add("recovery", "after the 5-minute lease (clock moved), requeue re-sent it once; "
                                 f"{expected} cop{'ies' if expected > 1 else 'y'} delivered, all with Message-ID "
                                 f"{message.message_id}; marked 'Outcome unknown' on the Messages page")
    fault_report.add("lost / duplicated", "lost 0; duplicated " + ("1 (the documented at-least-once case, "
                                                                   "same Message-ID)" if smtp_got_it else "0"))


def test_smtp_down_and_back_is_retried_with_back_off_and_delivered_once(stack, fault_app, procs, fault_report):
    app = fault_app(OUTBOX_RETRY_INTERVALS=[1, 2, 4, 8])
    stack.terminate("smtp")
    clinic = clinic_with_welcome(app, "smtpdown")
    procs.worker()
    attempts = {}  # attempt number -> when the outbox first showed it

    def attempts_seen(n):
        message = _one(app, clinic, kind="welcome")
        if message is not None and message.attempts and message.status == "failed":
            attempts.setdefault(message.attempts, time.monotonic())
            assert message.text_body  # kept whole while SMTP is away
        return len(attempts) >= n

    wait_until(lambda: attempts_seen(2), timeout=30, interval=0.05, what="two failed attempts")
    stack.start_again("smtp")
    back = time.monotonic()
    wait_until(lambda: _one(app, clinic, kind="welcome", status="sent"), timeout=30, interval=0.05,
               what="delivery")
    delivered = time.monotonic()
    message = _one(app, clinic, kind="welcome")
    conn = Redis.from_url(stack.redis_url)
    try:
        job = Job.fetch(f"email-{message.pk}", connection=conn)
        wait_until(lambda: job.get_status(refresh=True) == "finished", what="the delivery job to finish")
    finally:
        conn.close()

    gaps = [attempts[2] - attempts[1], delivered - attempts[2]]
    assert gaps[0] >= 0.8 and gaps[1] >= 1.8, gaps  # 1 s, then 2 s: backing off, never sooner
    assert mail_ids(stack) == [message.message_id]
    assert message.attempts == 3
    fault_report.add("fault", "SMTP sink stopped before a welcome email, restarted after 2 failed attempts")
    fault_report.add("outbox", f"kept as 'failed' with its text between attempts; attempt 2 {gaps[0]:.1f} s after "
                               f"the first, attempt 3 {gaps[1]:.1f} s after that (RQ Retry back-off 1, 2, 4, 8 s)")
    fault_report.add("delivery", f"sent {delivered - back:.1f} s after SMTP returned, on attempt 3; "
                                 "delivered once, lost 0, duplicated 0")
