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
"""
import logging
import sys
from urllib.parse import urlparse

from rq.cron import CronScheduler

# name in clinic_app.jobs.PERIODIC -> when (RQ cron string, in the host's local time, or interval seconds)
SCHEDULE = {
    "sweep_subscriptions": {"cron": "7 * * * *"},
    "requeue_unsent": {"interval": 120},
    "dispatch_reminders": {"interval": 60},
}


def build_scheduler(app, schedule=None):
    """A CronScheduler with SCHEDULE registered on the app's queue (call inside an app context)."""
    from . import jobs
    from .extensions import redis_conn

    scheduler = CronScheduler(connection=redis_conn(), logging_level=logging.INFO)
    scheduler.config_file = "clinic_app.cron"  # shown by RQ monitoring
    for name, when in (schedule or SCHEDULE).items():
        if name not in jobs.PERIODIC:
            raise KeyError(f"unknown periodic job {name!r}")
        scheduler.register(jobs.run_periodic, queue_name=app.config["RQ_QUEUE"], args=(name,), name=name,
                           job_timeout=60, result_ttl=3600, failure_ttl=7 * 24 * 3600, **when)
    return scheduler


def main(argv=None):
    from . import create_app, jobs
    from .dev import wait_for_port

    app = create_app()
    jobs.bind_app(app)
    redis = urlparse(app.config["REDIS_URL"])
    if redis.hostname in ("127.0.0.1", "localhost"):
        wait_for_port(redis.port or 6379, timeout=120, name="redis")  # `make run` starts them together
    with app.app_context():
        scheduler = build_scheduler(app)
    scheduler.start()  # RQ's loop: enqueues due jobs, sleeps until the next, stops on SIGTERM/SIGINT
    return 0


if __name__ == "__main__":
    sys.exit(main())
