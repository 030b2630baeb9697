"""The app's RQ queue for the console: counts, the failed registry page by page, requeue and delete."""
from dataclasses import dataclass

from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job

from ...extensions import get_queue
from ...pagination import paginate
from .actions import record_action

PAGE_SIZE = 25


class JobNotFound(LookupError):
    """No such job in the failed registry (already requeued, deleted or expired)."""


@dataclass
class FailedJob:
    id: str
    func_name: str
    description: str
    error: str
    enqueued_at: object
    ended_at: object


def queue_overview():
    """Counts of the app's RQ queue and its registries."""
    queue = get_queue()
    return {
        "name": queue.name,
        "queued": queue.count,
        "scheduled": queue.scheduled_job_registry.count,
        "started": queue.started_job_registry.count,
        "deferred": queue.deferred_job_registry.count,
        "failed": queue.failed_job_registry.count,
    }


class _NewestIds:
    """The failed registry's job ids, newest first, sliceable for paginate() (count is ZCARD: cheap)."""

    def __init__(self, registry):
        self.registry = registry

    def __getitem__(self, span):
        return self.registry.get_job_ids(span.start, span.stop - 1, desc=True)

    def count(self):
        return self.registry.count


def failed_jobs(page=1):
    """One Page of the failed registry's FailedJobs, newest first (counted: the count is O(1))."""
    registry = get_queue().failed_job_registry
    found = paginate(_NewestIds(registry), page, PAGE_SIZE, count=True)
    jobs = Job.fetch_many(found.items, connection=registry.connection)
    found.items = [_describe_job(job_id, job) for job_id, job in zip(found.items, jobs)]
    return found


def _describe_job(job_id, job):
    if job is None:  # its data expired before its registry entry
        return FailedJob(job_id, "?", "", "(job data expired)", None, None)
    return FailedJob(job.id, job.func_name or "?", job.description or "", _error_line(job),
                     job.enqueued_at, job.ended_at)


def _error_line(job):
    """The exception line of the last failure ("NoTenantBound: ..."), not the "Traceback" header."""
    result = job.latest_result()
    text = (getattr(result, "exc_string", None) or "").strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip()[:300] if lines else ""


def _failed_job(job_id):
    registry = get_queue().failed_job_registry
    if not isinstance(job_id, str) or job_id not in registry:
        raise JobNotFound(job_id)
    try:
        job = Job.fetch(job_id, connection=registry.connection)
    except NoSuchJobError:
        job = None
    return registry, job, _describe_job(job_id, job)


def requeue_failed_job(operator, job_id, ip=None):
    """Put a failed job back on its queue (audited). Raises JobNotFound."""
    registry, job, info = _failed_job(job_id)
    if job is None:
        raise JobNotFound(job_id)
    try:
        registry.requeue(job)
    except (InvalidJobOperation, NoSuchJobError):
        raise JobNotFound(job_id) from None  # another operator got there first
    return record_action(operator, "job.requeue", target=job_id, ip=ip,
                         before={"func": info.func_name, "error": info.error}, after={"queue": job.origin})


def delete_failed_job(operator, job_id, ip=None):
    """Remove a failed job for good (audited). Raises JobNotFound."""
    registry, job, info = _failed_job(job_id)
    if not registry.remove(job_id):
        raise JobNotFound(job_id)
    if job is not None:
        job.delete(remove_from_queue=False)
    return record_action(operator, "job.delete", target=job_id, ip=ip,
                         before={"func": info.func_name, "error": info.error})
