"""Start the RQ worker (with RQ's scheduler) for clinic_app.

Builds the app once; jobs run in this process (SimpleWorker), each inside
its tenant's context (see clinic_app/jobs.py). The scheduler moves jobs whose
`Retry` interval has passed back onto the queue; the periodic jobs are
enqueued by the separate cron process (`python -m clinic_app.cron`, RQ's
CronScheduler; Procfile `cron`).
"""
import sys

from rq import SimpleWorker

from clinic_app import create_app, jobs
from clinic_app.extensions import get_queue


def main(argv=None):
    app = create_app()
    jobs.bind_app(app)
    with app.app_context():
        queue = get_queue()
        worker = SimpleWorker([queue], connection=queue.connection)
        burst = "--burst" in (argv or sys.argv[1:])
        worker.work(burst=burst, with_scheduler=True)


if __name__ == "__main__":
    main()
