"""Subscription sweep benchmark: N clinics on a throw-away SecantusDB + Redis, swept twice.

    .venv/bin/python bench/sweep_bench.py [--tenants 10000] [--batch 500]

Creates N clinics (raw insert_many: tenant, Admin role, Admin user, settings)
whose expiry dates are spread over [now - 20 d, now + 30 d], half on a trial
and half monthly, so one sweep meets every occasion: about 40 % of them are
due an email or a state change on the first run. Then it runs the sweep
twice at the same instant:

- cold: nothing recorded yet, every due email is queued (outbox insert + RQ
  enqueue) and every grace/suspended status written;
- warm: the same hour again (what the hourly cron mostly does): nothing new.

Then it times one `requeue_unsent` over the unsent messages the cold run
left (each still has its RQ job, so it only checks). Reports wall time and
peak RSS of each run (VmHWM, reset before each run through
/proc/self/clear_refs where Linux allows, else ru_maxrss for the process),
plus the tracemalloc peak of the warm run with --tracemalloc.
"""
import argparse
import json
import resource
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bson import ObjectId

DAY = timedelta(days=1)


def rss_peak_kib():
    """Peak resident set size (KiB) since the last reset_rss_peak()."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def rss_now_kib():
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_rss_peak():
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def create_clinics(db, n, now, chunk=1000):
    """Insert n clinics with their Admin role, Admin user and settings; returns seconds taken."""
    started = time.perf_counter()
    span = 50 * DAY
    for first in range(0, n, chunk):
        tenants, roles, users, settings = [], [], [], []
        for i in range(first, min(n, first + chunk)):
            tid, rid = ObjectId(), ObjectId()
            expires = now - 20 * DAY + span * (i / n)
            plan = "trial" if i % 2 == 0 else "monthly"
            tenants.append({"_id": tid, "name": f"Clinic {i}", "subdomain": f"clinic{i}", "status": "active",
                            "subscription": {"plan": plan, "status": "active", "startedAt": expires - 7 * DAY,
                                             "expiresAt": expires},
                            "createdAt": expires - 7 * DAY})
            roles.append({"_id": rid, "tenantId": tid, "name": "Admin", "level": 100, "permissions": {},
                          "system": True})
            users.append({"tenantId": tid, "email": f"admin@clinic{i}.test", "name": f"Admin {i}", "role": rid,
                          "status": "active", "createdAt": now})
            settings.append({"tenantId": tid, "clinicName": f"Clinic {i}", "timezone": "Europe/Berlin",
                             "currency": "EUR", "dateFormat": "DD.MM.YYYY"})
        db.tenants.insert_many(tenants, ordered=False)
        db.roles.insert_many(roles, ordered=False)
        db.users.insert_many(users, ordered=False)
        db.settings.insert_many(settings, ordered=False)
    return time.perf_counter() - started


def timed_sweep(app, now, batch, trace=False):
    import tracemalloc

    from clinic_app.services.sweep import sweep

    reset = reset_rss_peak()
    before = rss_now_kib()
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    with app.app_context():
        result = sweep(now, batch_size=batch)
    seconds = time.perf_counter() - started
    traced = None
    if trace:
        traced = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return {"seconds": round(seconds, 2), "clinics": result.clinics, "emails": result.emails,
            "status_changes": result.status_changes, "rss_before_mib": round((before or 0) / 1024, 1),
            "rss_peak_mib": round(rss_peak_kib() / 1024, 1), "rss_peak_is_per_run": reset,
            "tracemalloc_peak_mib": round(traced / 2**20, 2) if traced is not None else None}


def timed_requeue(now):
    """requeue_unsent over the cold run's unsent messages (all still have their job: nothing to do)."""
    from clinic_app.services.outbox import requeue_unsent

    started = time.perf_counter()
    counts = requeue_unsent(now)
    return {"seconds": round(time.perf_counter() - started, 2), "counts": counts}


def run(tenants=10_000, batch=500, trace=False, workdir=None):
    import logging

    from clinic_app import create_app
    from clinic_app.dev import Services
    from clinic_app.extensions import ensure_indexes, get_queue

    logging.disable(logging.WARNING)  # the sweep logs a line per run only, but keep the output clean
    with tempfile.TemporaryDirectory(prefix="sweep-bench-", dir=workdir) as tmp:
        services = Services(tmp).start(mongo=True, redis=True, smtp=False)
        try:
            app = create_app({"CLINIC_ENV": "bench", "SECRET_KEY": "bench", "VAR_DIR": tmp,
                              "MONGODB_URI": services.mongodb_uri, "REDIS_URL": services.redis_url,
                              "RQ_QUEUE": "bench", "MONGODB_TIMEOUT_MS": 30000})
            now = datetime.now(timezone.utc).replace(microsecond=0)
            with app.app_context():
                import mongoengine

                ensure_indexes()
                setup = create_clinics(mongoengine.get_db(), tenants, now)
            cold = timed_sweep(app, now, batch)
            warm = timed_sweep(app, now, batch, trace=trace)
            with app.app_context():
                queued = get_queue().count
                requeue = timed_requeue(datetime.now(timezone.utc) + timedelta(minutes=2))
            return {"tenants": tenants, "batch": batch, "setup_seconds": round(setup, 1), "cold": cold,
                    "warm": warm, "delivery_jobs_queued": queued, "requeue_unsent": requeue,
                    "python": sys.version.split()[0]}
        finally:
            services.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--tracemalloc", action="store_true", help="trace Python allocations in the warm run")
    args = parser.parse_args(argv)
    report = run(args.tenants, args.batch, args.tracemalloc)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
