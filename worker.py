"""Start the RQ worker (with RQ's scheduler) for clinic_app.

Builds the app once; jobs run in this process (SimpleWorker), each inside
its tenant's context (see clinic_app/jobs.py). The scheduler moves jobs whose
`Retry` interval has passed back onto the queue; the periodic jobs are
enqueued by the separate cron process (`python -m clinic_app.cron`, RQ's
CronScheduler; Procfile `cron`).

A Redis outage is waited out, not fatal:
- RQ's own loop retries a lost connection while it waits for jobs (doubling
  waits, capped by REDIS_RETRY_MAX_SECONDS), but quits on a Redis error
  anywhere else (heartbeat, maintenance, a job's bookkeeping); `main` then
  logs, backs off and starts a fresh worker once Redis answers again.
- The scheduler (`SteadyScheduler`, a forked process like RQ's own) logs and
  backs off instead of dying, so delayed retries move again by themselves
  once Redis is back.
Only SIGTERM/SIGINT (warm shutdown, as RQ does it) ends the process.
"""
import logging
import os
import signal
import sys

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import SimpleWorker, worker_registration
from rq.scheduler import RQScheduler

from clinic_app import create_app, jobs
from clinic_app.extensions import get_queue
from clinic_app.resilience import Backoff, die_with_parent, parent_is_gone

log = logging.getLogger("clinic_app.worker")


class SteadyScheduler(RQScheduler):
    """RQ's scheduler, but a Redis outage is logged and waited out instead of killing its process."""

    backoff_cap = 30.0

    def start(self):
        self._parent_pid = os.getpid()  # the worker's
        return super().start()

    def work(self):  # in the forked scheduler process
        # A SIGKILLed worker must not leave its scheduler behind holding the lock: stop with it.
        die_with_parent(signal.SIGTERM)
        if parent_is_gone(self._parent_pid):
            return
        backoff = Backoff(self.backoff_cap)
        while not self._stop_requested:
            try:
                super().work()  # returns once a stop is requested
                return
            except (RedisConnectionError, RedisTimeoutError) as exc:
                delay = backoff.next_delay()
                self.log.warning("Scheduler: Redis unavailable (%s); retrying in %.1f s", exc, delay)
                Backoff.sleep(delay, lambda: self._stop_requested)
                self.lock_acquisition_time = None  # reacquire at once: Redis may have come back empty


class SteadyWorker(SimpleWorker):
    """SimpleWorker that registers itself again when Redis came back without its data (`rq info` lists it)."""

    def heartbeat(self, timeout=None, pipeline=None):
        if pipeline is not None or self.connection.exists(self.key):
            return super().heartbeat(timeout, pipeline)
        super().heartbeat(timeout)
        self.log.info("Worker %s: Redis lost this worker's registration; registering again", self.name)
        with self.connection.pipeline() as registration:
            registration.hset(self.key, mapping=self.serialize())
            worker_registration.register(self, registration)
            registration.expire(self.key, self.worker_ttl + 60)
            registration.execute()
        return None


def build_worker(app, scheduler):
    """A SimpleWorker on the app's queue with `scheduler` attached (inside an app context).

    RQ's worker restarts an attached scheduler whose process died, and stops it
    on shutdown. The same scheduler (same name) serves every worker this
    process starts, so it refreshes its own lock after an outage instead of
    waiting for it to expire.
    """
    queue = get_queue()
    worker = SteadyWorker([queue], connection=queue.connection)
    worker.max_connection_wait_time = app.config["REDIS_RETRY_MAX_SECONDS"]
    worker.scheduler = scheduler
    return worker


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    app = create_app()
    jobs.bind_app(app)
    if "--burst" in argv:  # drain the queue once and exit (scripts, debugging)
        with app.app_context():
            queue = get_queue()
            SimpleWorker([queue], connection=queue.connection).work(burst=True, with_scheduler=True)
        return 0
    return run_forever(app)


def run_forever(app):
    """Work until SIGTERM/SIGINT, starting a fresh worker after every Redis outage."""
    stop = {"requested": False}

    def request_stop(signum, frame):  # between workers only: a working worker has RQ's own handlers
        stop["requested"] = True

    def own_signals():
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)

    backoff = Backoff(app.config["REDIS_RETRY_MAX_SECONDS"])
    with app.app_context():
        queue = get_queue()
        scheduler = SteadyScheduler([queue], connection=queue.connection)
        scheduler.backoff_cap = app.config["REDIS_RETRY_MAX_SECONDS"]
        while True:
            own_signals()
            worker = build_worker(app, scheduler)
            try:
                worker.connection.ping()
                scheduler.acquire_locks(auto_start=True)  # held by another worker: RQ retries later
                if not stop["requested"]:
                    worker.work(with_scheduler=False)  # the scheduler is attached already
                reason = "RQ's worker loop quit"
            except RedisError as exc:
                reason = f"Redis unavailable ({type(exc).__name__}: {exc})"
            finally:
                worker.stop_scheduler()  # RQ's teardown may have stopped half-way without Redis
            own_signals()
            if stop["requested"] or worker._shutdown_requested_date is not None:
                break
            delay = backoff.next_delay()
            log.warning("worker: %s; starting a new one in %.1f s", reason, delay)
            Backoff.sleep(delay, lambda: stop["requested"])
            if stop["requested"]:
                break
    log.info("worker: stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
