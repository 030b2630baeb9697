"""New patients registered per day, week or month."""
from collections import Counter

from ...models import Patient
from .common import Column, Report, clinic_range, local_day, period_start, periods

TITLE = "New patients"
COLUMNS = [Column("period", "Period starting", "date"), Column("patients", "New patients", "int")]


def run(start, end, period="month", **options):
    r, settings = clinic_range(start, end)
    counts = Counter(period_start(local_day(p.created_at), period)
                     for p in Patient.objects(**r.filter("created_at")).only("created_at").no_cache())
    out = [{"period": day, "patients": counts.get(day, 0)} for day in periods(start, end, period)]
    return Report("new_patients", TITLE, COLUMNS, out, totals={"patients": sum(counts.values())},
                  currency=settings.currency, start=start, end=end, options={"period": period})
