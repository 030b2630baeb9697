"""Outbox hardening: re-runs, retries, dead workers, concurrent workers and a Redis outage never send twice
or lose a message (real SMTP sink, real Redis, real RQ workers)."""
import threading
from datetime import timedelta

import pytest
from rq.job import Job
from rq.registry import FailedJobRegistry

from clinic_app import clock, jobs
from clinic_app.dev import Services, free_port
from clinic_app.extensions import get_queue
from clinic_app.models import OutboundMessage
from clinic_app.services import outbox
from clinic_app.services.notifications import (
    GAVE_UP,
    UNKNOWN_OUTCOME,
    _build,
    _claim,
    _smtp,
    deliver,
    queue_email,
)
from clinic_app.tenancy import NoTenantBound, tenant_context
from tests.support import run_jobs


def _queue(key="note:1", subject="A note"):
    return queue_email(key=key, kind="note", to="admin@clinica.test", subject=subject,
                       text_body="Hello!", html_body="<p>Hello!</p>")


def requeue(app):
    """One run of the periodic requeue job, as cron starts it, then a real worker drains the queue."""
    with app.app_context():
        jobs.bind_app(app)
        jobs.run_periodic("requeue_unsent")
    run_jobs(app)
    with app.app_context():
        job = Job.fetch("periodic-requeue_unsent", connection=get_queue().connection)
        assert job.is_finished, job.latest_result().exc_string
        return job.return_value()


def stored(in_tenant, clinic, message):
    with in_tenant(clinic):
        return OutboundMessage.objects.get(pk=message.pk)


def test_concurrent_workers_send_a_message_once(app, clinic_a, in_tenant, mail):
    with in_tenant(clinic_a):
        message = _queue()
    outcomes = []

    def worker():
        with in_tenant(clinic_a):
            outcomes.append(deliver(message.pk))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["sent", "skipped", "skipped", "skipped"]
    run_jobs(app)  # its own job too: nothing left to send
    assert len(mail()) == 1
    assert stored(in_tenant, clinic_a, message).attempts == 1


def test_duplicate_and_rerun_jobs_send_once(app, clinic_a, in_tenant, mail):
    with in_tenant(clinic_a):
        message = _queue()
        for n in range(3):  # duplicates, as a crashed enqueuer or a manual re-run would leave them
            get_queue().enqueue(jobs.deliver_email, str(clinic_a.pk), str(message.pk), job_id=f"dup-{n}")
    run_jobs(app)
    with app.app_context():
        get_queue().enqueue(jobs.deliver_email, str(clinic_a.pk), str(message.pk), job_id="dup-0")  # re-run
    run_jobs(app)
    assert len(mail()) == 1
    assert requeue(app) == {}
    assert len(mail()) == 1


@pytest.mark.parametrize("smtp_accepted", [True, False], ids=["smtp-accepted", "died-before-smtp"])
def test_a_worker_dying_mid_send_is_re_sent_once_after_the_lease_with_the_same_message_id(
        app, clinic_a, in_tenant, frozen_clock, mail, smtp_accepted):
    """Policy (services/notifications.py): at-least-once with a stable Message-ID, at most one extra copy."""
    with in_tenant(clinic_a):
        message = _queue()
        get_queue().empty()  # the dying worker had taken the job
        claimed = _claim(message.pk, clock.now())  # status sending, 5-minute lease
        assert claimed.status == "sending" and claimed.attempts == 1
        if smtp_accepted:
            with _smtp() as conn:
                conn.send_message(_build(claimed))
        # ...and the worker dies here, before marking it sent.
    before = 1 if smtp_accepted else 0
    assert len(mail()) == before

    frozen_clock.advance(minutes=4)  # the lease still holds: nothing is recovered, an RQ retry sends nothing
    assert requeue(app) == {}
    with in_tenant(clinic_a):
        assert deliver(message.pk) == "skipped"
    assert len(mail()) == before and stored(in_tenant, clinic_a, message).status == "sending"

    frozen_clock.advance(minutes=2)  # lease expired
    assert requeue(app) == {"lease_resent": 1}
    received = mail()
    assert len(received) == before + 1
    assert {m["Message-ID"] for m in received} == {message.message_id}
    after = stored(in_tenant, clinic_a, message)
    assert after.status == "sent" and after.attempts == 2
    assert after.last_error.startswith(UNKNOWN_OUTCOME)  # shown on the Messages page: a duplicate may exist

    frozen_clock.advance(hours=1)
    assert requeue(app) == {}
    assert len(mail()) == before + 1


def test_a_second_unknown_outcome_is_not_re_sent_automatically(app, clinic_a, in_tenant, frozen_clock, mail):
    def claim_send_and_die():
        with in_tenant(clinic_a):
            get_queue().empty()
            claimed = _claim(message.pk, clock.now())
            with _smtp() as conn:
                conn.send_message(_build(claimed))

    with in_tenant(clinic_a):
        message = _queue()
    claim_send_and_die()
    frozen_clock.advance(minutes=6)
    with app.app_context():
        assert outbox.requeue_unsent() == {"lease_resent": 1}
    claim_send_and_die()  # the re-send dies too
    frozen_clock.advance(minutes=6)
    with app.app_context():
        assert outbox.requeue_unsent() == {"lease_gave_up": 1}
    run_jobs(app)
    assert requeue(app) == {}
    assert len(mail()) == 2  # the original and the one re-send; never a third by itself
    gave_up = stored(in_tenant, clinic_a, message)
    assert gave_up.status == "failed" and gave_up.last_error.startswith(GAVE_UP)
    with in_tenant(clinic_a):
        assert deliver(message.pk) == "skipped"
        assert outbox.retry(message.pk).status == "queued"  # an operator decides
    run_jobs(app)
    assert len(mail()) == 3 and stored(in_tenant, clinic_a, message).status == "sent"


def test_retries_back_off_then_land_in_rqs_failed_registry_with_the_error(app, services, clinic_a, in_tenant,
                                                                           mail):
    app.config.update(SMTP_PORT=free_port(), OUTBOX_RETRY_INTERVALS=[0, 0])  # nothing listens; retry at once
    try:
        with in_tenant(clinic_a):
            message = _queue()
            job = Job.fetch(f"email-{message.pk}", connection=get_queue().connection)
            assert job.retries_left == 2 and job.retry_intervals == [0, 0]
        run_jobs(app)
        with app.app_context():
            job.refresh()
            assert job.is_failed and job.retries_left == 0
            assert job.id in FailedJobRegistry(queue=get_queue()).get_job_ids()
            assert "ConnectionRefusedError" in job.latest_result().exc_string
        failed = stored(in_tenant, clinic_a, message)
        assert failed.status == "failed" and failed.attempts == 3
        assert "ConnectionRefusedError" in failed.last_error
        assert requeue(app) == {}  # out of automatic attempts: it stays failed, visibly
    finally:
        app.config.update(SMTP_PORT=services.ports["smtp"])
        app.config.pop("OUTBOX_RETRY_INTERVALS")
    assert mail() == []
    with in_tenant(clinic_a):
        outbox.retry(message.pk)
    run_jobs(app)
    assert len(mail()) == 1


def test_a_failed_message_whose_retry_job_is_waiting_is_not_doubled(app, services, clinic_a, in_tenant, mail):
    app.config.update(SMTP_PORT=free_port(), OUTBOX_RETRY_INTERVALS=[3600])
    try:
        with in_tenant(clinic_a):
            message = _queue()
        run_jobs(app)  # fails once; RQ schedules the retry an hour later
        with app.app_context():
            job = Job.fetch(f"email-{message.pk}", connection=get_queue().connection)
            assert job.get_status() == "scheduled"
        assert requeue(app) == {"failed_has_job": 1}
    finally:
        app.config.update(SMTP_PORT=services.ports["smtp"])
        app.config.pop("OUTBOX_RETRY_INTERVALS")
    with app.app_context():
        get_queue().scheduled_job_registry.remove(job, delete_job=True)  # Redis lost the retry
    assert requeue(app) == {"failed_requeued": 1}
    assert len(mail()) == 1


def test_a_message_whose_job_was_lost_is_requeued_after_a_minute(app, clinic_a, in_tenant, frozen_clock, mail):
    with in_tenant(clinic_a):
        message = _queue()
    frozen_clock.advance(minutes=2)
    with app.app_context():
        assert outbox.requeue_unsent() == {"queued_has_job": 1}  # slow worker: its job waits, not doubled
        assert get_queue().count == 1
        get_queue().empty()  # now the job is lost
    frozen_clock.set(message.created_at + timedelta(seconds=30))
    with app.app_context():
        assert outbox.requeue_unsent() == {}  # younger than a minute: its own job may still be on its way
    frozen_clock.advance(seconds=31)
    assert requeue(app) == {"queued_requeued": 1}
    assert len(mail()) == 1 and stored(in_tenant, clinic_a, message).status == "sent"


def test_a_job_without_a_tenant_id_fails_into_the_failed_registry(app, clinic_a, in_tenant, mail):
    with in_tenant(clinic_a):
        message = _queue()
        queue = get_queue()
        queue.empty()
        job = queue.enqueue(jobs.deliver_email, "", str(message.pk), job_id="no-tenant")
    run_jobs(app)
    with app.app_context():
        job.refresh()
        assert job.is_failed and "no-tenant" in FailedJobRegistry(queue=queue).get_job_ids()
        assert "NoTenantBound" in job.latest_result().exc_string
    assert mail() == [] and stored(in_tenant, clinic_a, message).status == "queued"


@pytest.fixture
def own_redis(tmp_path):
    """A Redis of this test's own, so stopping it leaves the session's alone."""
    svc = Services(tmp_path).start(mongo=False, smtp=False)
    yield svc
    svc.stop()


def test_a_redis_outage_delays_mail_but_loses_none(app, services, own_redis, clinic_a, frozen_clock, mail):
    from clinic_app import create_app
    from tests.conftest import app_config

    app2 = create_app(app_config(services, REDIS_URL=own_redis.redis_url, MONGODB_TIMEOUT_MS=500))
    try:
        with app2.app_context(), tenant_context(clinic_a):
            before = _queue("outage:before", "Queued before the outage")  # its job is in Redis...
        own_redis.procs["redis"].terminate()  # ...which dies without persistence: the job is gone
        own_redis.procs["redis"].wait(10)
        with app2.app_context(), tenant_context(clinic_a):
            during = _queue("outage:during", "Queued during the outage")  # no exception: it waits in MongoDB
            assert {m.status for m in OutboundMessage.objects} == {"queued"}
        own_redis.restart("redis")  # same port, empty
        frozen_clock.advance(minutes=2)
        assert requeue(app2) == {"queued_requeued": 2}
        assert sorted(m["Subject"] for m in mail()) == ["Queued before the outage", "Queued during the outage"]
        assert requeue(app2) == {}
        run_jobs(app2)
        assert len(mail()) == 2
        with app2.app_context(), tenant_context(clinic_a):
            assert {m.status for m in OutboundMessage.objects} == {"sent"}
            assert before.pk != during.pk
    finally:
        jobs.bind_app(app)


def test_jobs_refuse_to_run_without_a_tenant_outside_rq_too(app):
    with pytest.raises(NoTenantBound):
        jobs.deliver_email(None, "000000000000000000000000")


def test_the_cron_schedule_enqueues_the_periodic_jobs_through_rq(app, clinic_a, in_tenant, frozen_clock, mail):
    from clinic_app.cron import SCHEDULE, build_scheduler

    with in_tenant(clinic_a):
        _queue()
        get_queue().empty()  # lost job
    frozen_clock.advance(minutes=5)
    with app.app_context():
        scheduler = build_scheduler(app)
        assert {j.name for j in scheduler.get_jobs()} == set(SCHEDULE)
        due = scheduler.enqueue_jobs()  # interval jobs are due at once; the hourly sweep waits for its minute
        assert {j.name for j in due} == {"requeue_unsent", "dispatch_reminders"}
    run_jobs(app)
    with app.app_context():
        job = Job.fetch("periodic-requeue_unsent", connection=get_queue().connection)
        assert job.is_finished and job.return_value() == {"queued_requeued": 1}
    assert len(mail()) == 1


def test_requeue_visits_only_clinics_with_mail_in_flight(app, clinic_a, clinic_b, in_tenant, frozen_clock, mail):
    from clinic_app.models import Tenant

    with in_tenant(clinic_a):
        _queue()
    with app.app_context():
        assert Tenant.objects.get(pk=clinic_a.pk).outbox_pending_since is not None
        assert Tenant.objects.get(pk=clinic_b.pk).outbox_pending_since is None
    run_jobs(app)  # delivered
    frozen_clock.advance(minutes=2)
    requeue(app)  # finds nothing to resend and clears the marker
    with app.app_context():
        assert Tenant.objects.get(pk=clinic_a.pk).outbox_pending_since is None
    assert len(mail()) == 1
