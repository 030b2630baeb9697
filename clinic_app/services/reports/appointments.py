"""Appointments by status per practitioner, and each one's no-show rate."""
from collections import defaultdict

from ...models import Appointment, User
from ...models.scheduling import STATUSES
from .common import Column, Report, clinic_range

TITLE = "Appointments by status"
COLUMNS = [Column("practitioner", "Practitioner")] + [Column(s, s.replace("_", " ").capitalize(), "int")
                                                      for s in STATUSES] + [
    Column("total", "Total", "int"), Column("no_show_rate", "No-show rate (%)", "percent")]


def _rate(counts):
    """No-shows among the appointments that were due to happen (cancelled ones excluded)."""
    due = counts["total"] - counts["cancelled"]
    return round(100 * counts["no_show"] / due, 1) if due else 0.0


def run(start, end, **options):
    r, settings = clinic_range(start, end)
    rows = Appointment.objects(**r.filter("start")).aggregate([
        {"$group": {"_id": {"doctor": "$doctor", "status": "$status"}, "n": {"$sum": 1}}}])
    counts = defaultdict(lambda: defaultdict(int))
    for row in rows:
        counts[row["_id"]["doctor"]][row["_id"]["status"]] += row["n"]
        counts[row["_id"]["doctor"]]["total"] += row["n"]
    names = {u.pk: u.name for u in User.objects(pk__in=list(counts)).only("name")} if counts else {}
    out = []
    for doctor, c in counts.items():
        out.append({"practitioner": names.get(doctor, "Former staff"), **{s: c[s] for s in STATUSES},
                    "total": c["total"], "no_show_rate": _rate(c)})
    out.sort(key=lambda x: x["practitioner"])
    totals = defaultdict(int)
    for row in out:
        for s in (*STATUSES, "total"):
            totals[s] += row[s]
    totals = dict(totals) or {s: 0 for s in (*STATUSES, "total")}
    totals["no_show_rate"] = _rate(defaultdict(int, totals))
    return Report("appointments", TITLE, COLUMNS, out, totals=totals, currency=settings.currency, start=start,
                  end=end, notes=["No-show rate = no-shows ÷ (appointments − cancelled)."])
