"""The subscription sweep: each email once per clinic and occasion, by moving the clock day by day."""
from datetime import timedelta

import pytest
from rq import Retry
from rq.job import Job
from rq.registry import FailedJobRegistry

from clinic_app import jobs
from clinic_app.extensions import get_queue
from clinic_app.models import OutboundMessage, Settings, Tenant, User
from clinic_app.services.subscription import standing
from clinic_app.services.sweep import OCCASIONS, SweepIncomplete, sweep
from tests.conftest import T0
from tests.support import make_clinic, make_user, run_jobs

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)

WARNING = "Trial Clinic: your free trial ends in 2 days"
TODAY = "Trial Clinic: your free trial ends today"
EXPIRED = "Trial Clinic is read-only: your free trial has ended"
SUSPENDED = "Trial Clinic is suspended: renew to continue"


def sweep_by_job(app):
    """One sweep as production runs it: cron's run_periodic -> the sweep job -> deliveries, real worker."""
    with app.app_context():
        jobs.bind_app(app)
        assert jobs.run_periodic("sweep_subscriptions")["enqueued"]
    run_jobs(app)
    with app.app_context():
        job = Job.fetch("periodic-sweep_subscriptions", connection=get_queue().connection)
        assert job.is_finished, job.latest_result().exc_string
        return job.return_value()


def recorded_status(app, tenant):
    with app.app_context():
        return Tenant.objects.get(pk=tenant.pk).subscription.status


def subjects(mail):
    return sorted(m["Subject"] for m in mail())


@pytest.fixture
def trial_clinic(app, frozen_clock):
    with app.app_context():
        return make_clinic("trialclinic", "Trial Clinic")


def test_a_trial_gets_each_email_once_on_its_day_whatever_the_sweep_runs(app, trial_clinic, frozen_clock, mail):
    expected = {5: [WARNING], 7: [TODAY], 8: [EXPIRED], 15: [SUSPENDED]}
    states = {**{d: "active" for d in range(8)}, **{d: "grace" for d in range(8, 15)}, 15: "suspended",
              16: "suspended"}
    so_far = []
    for day in range(17):
        frozen_clock.set(T0 + day * DAY + 2 * HOUR)
        first = sweep_by_job(app)
        second = sweep_by_job(app)  # the same day again: nothing new
        so_far += expected.get(day, [])
        assert subjects(mail) == sorted(so_far), f"day {day}"
        assert first["emails"] == len(expected.get(day, [])) and second["emails"] == 0, f"day {day}"
        assert recorded_status(app, trial_clinic) == states[day], f"day {day}"
    with app.app_context():
        stored = list(OutboundMessage.all_tenants())
    assert sorted(m.kind for m in stored) == ["suspended", "trial_expired", "trial_today", "trial_warning"]
    assert all(m.status == "sent" and m.attempts == 1 for m in stored)


def test_emails_have_text_and_html_with_the_clinics_name_zone_and_link(app, trial_clinic, frozen_clock, mail,
                                                                        in_tenant):
    with in_tenant(trial_clinic):
        s = Settings.current()
        s.timezone, s.date_format = "America/New_York", "DD/MM/YYYY"
        s.save()
    frozen_clock.set(T0 + 5 * DAY + HOUR)  # E = 9 March 09:00 UTC = 05:00 in New York (EDT since 8 March)
    sweep_by_job(app)
    [email] = mail()
    assert email["To"] == "admin@trialclinic.test"
    assert email["X-Clinic"] == "trialclinic"
    text = email.get_body(("plain",)).get_content()
    html = email.get_body(("html",)).get_content()
    for body in (text, html):
        assert "Trial Clinic" in body and "09/03/2026 05:00" in body and "America/New_York" in body
        assert "http://trialclinic.localhost:5000/subscription" in body
        assert "Ada Admin" in body
    assert '<a href="http://trialclinic.localhost:5000/subscription">' in html


def test_a_monthly_clinic_gets_renewal_reminders_seven_days_and_one_day_before(app, trial_clinic, frozen_clock,
                                                                              mail):
    with app.app_context():
        Tenant.objects(pk=trial_clinic.pk).update(set__subscription__plan="monthly",
                                                  set__subscription__expires_at=T0 + 30 * DAY)
    sent_on = {}
    for day in range(20, 31):
        for hour in (1, 13):
            frozen_clock.set(T0 + day * DAY + hour * HOUR)
            with app.app_context():
                sweep()
            run_jobs(app)
        for m in mail():
            sent_on.setdefault(m["Subject"], day)
    assert sent_on == {"Trial Clinic: your subscription ends in 7 days": 23,
                       "Trial Clinic: your subscription ends tomorrow": 29}
    assert len(mail()) == 2
    assert recorded_status(app, trial_clinic) == "active"
    kinds = [m.kind for m in OutboundMessage.all_tenants()]
    assert kinds == ["renewal_reminder", "renewal_reminder"]


@pytest.mark.parametrize("offset,due", [
    (5 * DAY - timedelta(seconds=1), []),
    (5 * DAY, ["trial_warning"]),
    (6 * DAY - timedelta(seconds=1), ["trial_warning"]),
    (6 * DAY, []),
    (7 * DAY, ["trial_today"]),
    (8 * DAY - timedelta(seconds=1), ["trial_today"]),
    (8 * DAY, ["expired"]),
    (15 * DAY, ["suspended"]),
])
def test_occasion_windows_are_half_open(trial_clinic, offset, due):
    st = standing(trial_clinic, T0 + offset)
    assert [o.name for o in OCCASIONS if o.applies(st, "active")] == due


def test_a_missed_day_is_not_caught_up_but_a_missed_state_change_is(app, trial_clinic, frozen_clock, mail):
    frozen_clock.set(T0 + 6 * DAY + HOUR)  # the sweep did not run on day 5
    with app.app_context():
        assert sweep().emails == 0  # "ends in 2 days" on day 6 would be wrong
    frozen_clock.set(T0 + 11 * DAY)  # nor on days 7 to 10: grace is first seen on day 11
    with app.app_context():
        assert sweep().emails == 1
    run_jobs(app)
    assert subjects(mail) == [EXPIRED]
    frozen_clock.set(T0 + 40 * DAY)
    with app.app_context():
        sweep()
        sweep()
    run_jobs(app)
    assert subjects(mail) == [EXPIRED, SUSPENDED]


def test_a_clinic_first_seen_suspended_is_only_told_it_is_suspended(app, trial_clinic, frozen_clock, mail):
    frozen_clock.set(T0 + 20 * DAY)
    with app.app_context():
        sweep()
    run_jobs(app)
    assert subjects(mail) == [SUSPENDED]
    assert recorded_status(app, trial_clinic) == "suspended"


def test_one_sweep_over_clinics_in_different_states(app, frozen_clock, mail, in_tenant):
    def clinic_started(days_ago, sub, **kw):
        frozen_clock.set(T0 - days_ago * DAY)
        with app.app_context():
            return make_clinic(sub, sub.title(), **kw)

    fresh = clinic_started(0, "fresh")
    warned = clinic_started(5, "warned")
    lapsed = clinic_started(9, "lapsed")
    gone = clinic_started(20, "gone")
    paid = clinic_started(3, "paid")
    closed = clinic_started(9, "closed")
    frozen_clock.set(T0 + HOUR)
    with app.app_context():
        Tenant.objects(pk=paid.pk).update(set__subscription__plan="monthly",
                                          set__subscription__expires_at=T0 + 7 * DAY)
        Tenant.objects(pk=closed.pk).update(set__status="suspended")  # by the operator: not the sweep's business
    with in_tenant(warned):  # two active Admins and one deactivated: both active ones hear about it
        admin_role = User.objects.get(email="admin@warned.test").role
        make_user("Admin", email="second@warned.test")
        make_user("Admin", email="gone@warned.test", status="deactivated")
        make_user("Doctor", email="doctor@warned.test")
        assert admin_role.name == "Admin"
    with app.app_context():
        result = sweep()
        again = sweep()
    assert (result.clinics, result.emails, result.status_changes) == (5, 5, 2)
    assert (again.emails, again.status_changes) == (0, 0)
    run_jobs(app)
    assert sorted((m["To"], m["Subject"]) for m in mail()) == [
        ("admin@gone.test", "Gone is suspended: renew to continue"),
        ("admin@lapsed.test", "Lapsed is read-only: your free trial has ended"),
        ("admin@paid.test", "Paid: your subscription ends in 7 days"),
        ("admin@warned.test", "Warned: your free trial ends in 2 days"),
        ("second@warned.test", "Warned: your free trial ends in 2 days"),
    ]
    assert [recorded_status(app, t) for t in (fresh, warned, lapsed, gone, paid, closed)] == \
        ["active", "active", "grace", "suspended", "active", "active"]


def test_a_renewed_clinic_gets_the_next_cycles_emails_again(app, trial_clinic, frozen_clock, mail):
    frozen_clock.set(T0 + 9 * DAY)
    with app.app_context():
        sweep()
        # It pays: a month from now, and back to active on the next sweep.
        Tenant.objects(pk=trial_clinic.pk).update(set__subscription__plan="monthly",
                                                  set__subscription__expires_at=T0 + 39 * DAY)
        assert sweep().status_changes == 1
    assert recorded_status(app, trial_clinic) == "active"
    frozen_clock.set(T0 + 41 * DAY)  # lapses again: a new expiry date, so a new "read-only" email
    with app.app_context():
        sweep()
    run_jobs(app)
    assert subjects(mail) == ["Trial Clinic is read-only: your free trial has ended",
                              "Trial Clinic is read-only: your subscription has ended"]


def test_the_sweep_streams_in_batches(app, frozen_clock, mail):
    frozen_clock.set(T0 - 5 * DAY)
    with app.app_context():
        for i in range(7):
            make_clinic(f"batch{i}", f"Batch {i}")
    frozen_clock.set(T0 + HOUR)
    with app.app_context():
        result = sweep(batch_size=2)
    assert (result.clinics, result.emails) == (7, 7)


def test_a_broken_clinic_does_not_stop_the_others_and_the_job_fails_with_the_error(app, frozen_clock, mail):
    frozen_clock.set(T0 - 5 * DAY)
    with app.app_context():
        good = make_clinic("good", "Good")
        bad = make_clinic("bad", "Bad")
        # A time zone that no longer exists (written raw: the model would refuse it).
        Settings._get_collection().update_one({"tenantId": bad.pk}, {"$set": {"timezone": "Mars/Olympus"}})
    frozen_clock.set(T0 + HOUR)
    with app.app_context():
        with pytest.raises(SweepIncomplete, match="1 of 2 clinics failed: bad: "):
            sweep()
        queue = get_queue()
        job = queue.enqueue(jobs.sweep_subscriptions, retry=Retry(max=2), job_id="sweep-test")
    run_jobs(app)
    with app.app_context():
        job.refresh()
        assert job.is_failed and job.retries_left == 0
        assert "sweep-test" in FailedJobRegistry(queue=queue).get_job_ids()
        assert "SweepIncomplete" in job.latest_result().exc_string and "bad:" in job.latest_result().exc_string
    assert [m["To"] for m in mail()] == ["admin@good.test"]  # sent once, though the sweep ran three times
    assert recorded_status(app, good) == "active" and recorded_status(app, bad) == "active"


def test_periodic_jobs_are_enqueued_with_their_retry_policy(app):
    with app.app_context():
        jobs.bind_app(app)
        first = jobs.run_periodic("sweep_subscriptions")
        second = jobs.run_periodic("sweep_subscriptions")  # still waiting: not doubled
        job = Job.fetch(first["job"], connection=get_queue().connection)
        assert first["enqueued"] and not second["enqueued"] and get_queue().count == 1
        assert job.retries_left == 3 and job.retry_intervals == [60, 300, 900]
        with pytest.raises(KeyError):
            jobs.run_periodic("no_such_job")


def test_the_cron_process_that_make_run_starts_registers_with_rq_and_enqueues(app, services, tmp_path):
    """Procfile `cron: python -m clinic_app.cron`: RQ's CronScheduler, stopped cleanly by SIGTERM."""
    import os
    import subprocess
    import sys
    import time

    from rq import Queue
    from rq.cron import CronScheduler

    from clinic_app.config import ROOT
    from clinic_app.extensions import redis_conn
    from tests.conftest import app_config

    cfg = app_config(services)
    env = {**os.environ, "CLINIC_ENV": "test", "SECRET_KEY": "x", "VAR_DIR": str(tmp_path),
           "REDIS_URL": cfg["REDIS_URL"], "MONGODB_URI": cfg["MONGODB_URI"], "RQ_QUEUE": "cron_probe"}
    log = open(tmp_path / "cron.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "clinic_app.cron"], env=env, cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        with app.app_context():
            conn = redis_conn()
            queue = Queue("cron_probe", connection=conn)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not (CronScheduler.all(conn) and queue.count >= 2):
                assert proc.poll() is None, (tmp_path / "cron.log").read_text()
                time.sleep(0.1)
            [scheduler] = CronScheduler.all(conn)
            assert scheduler.config_file == "clinic_app.cron"
            assert {j.name for j in scheduler.get_jobs()} == {"sweep_subscriptions", "requeue_unsent",
                                                              "dispatch_reminders"}
            assert sorted(job.args[0] for job in queue.get_jobs()) == ["dispatch_reminders", "requeue_unsent"]
    finally:
        proc.terminate()
        proc.wait(15)
    assert proc.returncode == 0
    with app.app_context():
        assert CronScheduler.all(redis_conn()) == []
