"""Periodic jobs, run by RQ's own cron scheduler (`rq.cron.CronScheduler`, what `rq cron` runs).

    python -m clinic_app.cron        # `make run` starts it (Procfile: cron)

One process enqueues; the workers run. Each entry enqueues
`clinic_app.jobs.run_periodic(name)`, which enqueues the real job with its
RQ `Retry` (cron jobs cannot carry one in RQ 3.0) and skips it while the
previous run is still waiting or running. Every job is idempotent, so a
second cron process, a restart or a catch-up run costs time, never a
duplicate email.

The subscription sweep is "daily" in effect (each occasion has a one-day
window, see services/sweep.py) but runs hourly: a window can never fall
between two runs, and a missed run is caught up within the hour.

Not the `rq cron <module>` CLI: that needs module-level `cron.register()`
calls with the queue name at import time, and the queue name is
configuration (config.py), read when the app is built.

A Redis outage does not end the process: RQ's loop stops on the first
Redis error, `run_forever` logs it, backs off (doubling, capped by
REDIS_RETRY_MAX_SECONDS) and starts the loop again; jobs that fell due
meanwhile are enqueued as soon as Redis answers (their due times are kept in
this process), so the outbox requeue runs by itself after the outage.
CRON_INTERVALS overrides the interval entries (tests use seconds).
"""
import logging
import sys

from redis.exceptions import RedisError
from rq.cron import CronScheduler
from rq.exceptions import StopRequested

from . import create_app, jobs
from .extensions import redis_conn
from .resilience import Backoff

log = logging.getLogger(__name__)

# name in clinic_app.jobs.PERIODIC -> when (RQ cron string, in the host's local time, or interval seconds)
SCHEDULE = {
    "sweep_subscriptions": {"cron": "7 * * * *"},
    "requeue_unsent": {"interval": 120},
    "dispatch_reminders": {"interval": 60},
}


def build_scheduler(app, schedule=None):
    """A CronScheduler with SCHEDULE registered on the app's queue (call inside an app context)."""
    scheduler = CronScheduler(connection=redis_conn(), logging_level=logging.INFO)
    scheduler.config_file = "clinic_app.cron"  # shown by RQ monitoring
    intervals = app.config.get("CRON_INTERVALS") or {}
    for name, when in (schedule or SCHEDULE).items():
        if name not in jobs.PERIODIC:
            raise KeyError(f"unknown periodic job {name!r}")
        if name in intervals:
            when = {"interval": intervals[name]}
        scheduler.register(jobs.run_periodic, queue_name=app.config["RQ_QUEUE"], args=(name,), name=name,
                           job_timeout=60, result_ttl=3600, failure_ttl=7 * 24 * 3600, **when)
    return scheduler


def run_forever(scheduler, retry_cap=30.0):
    """RQ's cron loop, started again after every Redis outage; returns 0 on SIGTERM/SIGINT."""
    backoff = Backoff(retry_cap)
    while True:
        try:
            scheduler.start()  # enqueues due jobs, sleeps until the next; returns on SIGTERM/SIGINT
            return 0
        except (StopRequested, KeyboardInterrupt):  # a signal during RQ's own clean-up
            return 0
        except RedisError as exc:
            delay = backoff.next_delay()
            log.warning("cron: Redis unavailable (%s: %s); trying again in %.1f s", type(exc).__name__, exc, delay)
        try:
            Backoff.sleep(delay)
        except (StopRequested, KeyboardInterrupt):  # RQ's signal handlers stay installed meanwhile
            log.info("cron: stopped while waiting for Redis")
            return 0


def main(argv=None):
    app = create_app()
    jobs.bind_app(app)
    with app.app_context():
        scheduler = build_scheduler(app)
    return run_forever(scheduler, app.config["REDIS_RETRY_MAX_SECONDS"])


if __name__ == "__main__":
    sys.exit(main())
