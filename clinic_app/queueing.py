"""Putting jobs on the RQ queue: at most one live copy of a job id.

A core helper (it knows RQ, not the app), so services can enqueue work
without importing clinic_app.jobs, which sits above them: they name the job
by its dotted path ("clinic_app.jobs.deliver_email"), which is what RQ
stores for a function anyway.
"""
from rq.exceptions import NoSuchJobError
from rq.job import Job

# RQ statuses of a job that will still run (or is running): do not enqueue another.
LIVE_STATUSES = frozenset({"queued", "started", "deferred", "scheduled", "rate_limited", "ready_to_enqueue"})


def enqueue_unique(queue, func, *args, job_id, **options):
    """Enqueue `func(*args)` (a function or its dotted path) as `job_id` unless that job is still
    waiting or running.

    Returns (job, created). Raises redis errors (callers decide what an outage means).
    """
    try:
        existing = Job.fetch(job_id, connection=queue.connection)
    except NoSuchJobError:
        existing = None
    if existing is not None and existing.get_status(refresh=False) in LIVE_STATUSES:
        return existing, False
    return queue.enqueue(func, *args, job_id=job_id, **options), True
