"""Outstanding-balances benchmark: one clinic's year of invoices and payments, the aged report as of today,
a month ago and a year ago (first page and the whole CSV), on a throw-away SecantusDB.

    .venv/bin/python bench/outstanding_bench.py [--invoices 20000] [--open 0.1]

A balance at a past day is today's plus what was paid, refunded, credited or voided since, so the report reads
every payment and credit note made after that day: this measures what that costs as the day moves back.
Invoices are spread evenly over the last 365 days; all but `--open` of them were paid in full 0-30 days after
they were issued (raw insert_many: the set-up is not what is measured).
"""
import argparse
import json
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bson import ObjectId

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DAY = timedelta(days=1)


def create_year(db, tenant_id, n, open_share, now, chunk=2000):
    """n invoices over the past year, most paid within a month; returns (seconds, payments inserted)."""
    rng, started, paid_count = random.Random(7), time.perf_counter(), 0
    for first in range(0, n, chunk):
        invoices, payments = [], []
        for i in range(first, min(n, first + chunk)):
            issued = now - 365 * DAY * (1 - i / n)
            total, inv_id, patient = rng.randrange(2000, 20000), ObjectId(), ObjectId()
            paid = 0 if rng.random() < open_share else total
            invoices.append({"_id": inv_id, "tenantId": tenant_id, "number": f"INV-{i + 1:06d}", "currency": "USD",
                             "status": "paid" if paid else "issued", "patient": patient, "patientName": f"P {i}",
                             "recordNumber": f"P{i:06d}", "total": total, "paid": paid, "creditApplied": 0,
                             "credited": 0, "balance": total - paid, "issuedAt": issued, "createdAt": issued,
                             "rev": 1, "lines": []})
            if paid:
                received = min(now - timedelta(minutes=1), issued + DAY * rng.randrange(0, 31))
                payments.append({"tenantId": tenant_id, "invoice": inv_id, "patient": patient, "currency": "USD",
                                 "amount": paid, "applied": paid, "method": "cash", "receivedAt": received,
                                 "status": "recorded"})
        db.invoices.insert_many(invoices, ordered=False)
        if payments:
            db.payments.insert_many(payments, ordered=False)
            paid_count += len(payments)
    return time.perf_counter() - started, paid_count


def timed(app, tenant, as_of, page):
    """Seconds and MongoDB reads of one outstanding report, inside a request (settings read once)."""
    from pymongo import monitoring

    from clinic_app.services.reports import outstanding
    from clinic_app.tenancy import tenant_context

    names = []

    class Count(monitoring.CommandListener):
        def started(self, event):
            names.append(event.command_name)

        def succeeded(self, event):
            pass

        def failed(self, event):
            pass

    listener = Count()
    monitoring.register(listener)  # applies to clients created after this: the bench reconnects below
    import mongoengine

    mongoengine.disconnect()
    mongoengine.connect(host=app.config["MONGODB_URI"], tz_aware=True, uuidRepresentation="standard")
    with app.test_request_context(), tenant_context(tenant):
        started = time.perf_counter()
        report = outstanding.run(as_of, as_of, page=page, stream=page is None)
        rows = len(report.rows) if page else sum(1 for _ in report.rows)
        seconds = time.perf_counter() - started
    reads = sum(1 for n in names if n in ("find", "aggregate", "getMore", "count"))
    return {"seconds": round(seconds, 3), "rows": rows, "reads": reads}


def run(invoices=20_000, open_share=0.1, workdir=None):
    import logging

    from clinic_app import create_app
    from clinic_app.dev import Services
    from clinic_app.extensions import ensure_indexes
    from clinic_app.services.tenants import create_tenant

    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="outstanding-bench-", dir=workdir) as tmp:
        services = Services(tmp).start(mongo=True, redis=False, smtp=False)
        try:
            app = create_app({"CLINIC_ENV": "bench", "SECRET_KEY": "bench", "VAR_DIR": tmp,
                              "MONGODB_URI": services.mongodb_uri, "REDIS_URL": "redis://127.0.0.1:1/0",
                              "MONGODB_TIMEOUT_MS": 60000})
            now = datetime.now(timezone.utc).replace(microsecond=0)
            with app.app_context():
                import mongoengine

                ensure_indexes()
                tenant = create_tenant("Bench Clinic", "bench")
                setup, payments = create_year(mongoengine.get_db(), tenant.pk, invoices, open_share, now)
            today = now.date()
            results = {}
            for label, days_back in (("today", 0), ("30_days_ago", 30), ("365_days_ago", 365)):
                as_of = today - timedelta(days=days_back)
                results[label] = {"page_1": timed(app, tenant, as_of, 1), "csv": timed(app, tenant, as_of, None)}
            return {"invoices": invoices, "payments": payments, "open_share": open_share,
                    "setup_seconds": round(setup, 1), "reports": results, "python": sys.version.split()[0]}
        finally:
            services.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=20_000)
    parser.add_argument("--open", type=float, default=0.1, dest="open_share")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.invoices, args.open_share), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
