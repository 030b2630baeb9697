"""Reports: one module per report, each `run(start, end, **options) -> common.Report`.

REPORTS is the one list the pages, the CSV downloads and /api/v1/reports/<name> read.
"""
from . import appointments, by_practitioner, by_service, day_end, new_patients, outstanding, revenue, stock

# name -> (title, run, group, options it takes)
REPORTS = {
    "day_end": (day_end.TITLE, day_end.run, "Money", ()),
    "revenue": (revenue.TITLE, revenue.run, "Money", ("period",)),
    "by_service": (by_service.TITLE, by_service.run, "Money", ()),
    "by_practitioner": (by_practitioner.TITLE, by_practitioner.run, "Money", ()),
    "outstanding": (outstanding.TITLE, outstanding.run, "Money", ("page",)),
    "appointments": (appointments.TITLE, appointments.run, "Clinic", ()),
    "new_patients": (new_patients.TITLE, new_patients.run, "Clinic", ("period",)),
    "stock_value": ("Stock on hand at cost", stock.value, "Stock", ()),
    "stock_expiring": ("Expiring stock", stock.expiring, "Stock", ()),
    "stock_low": ("Low stock", stock.low, "Stock", ()),
    "dispensed": ("Dispensed per medicine", stock.dispensed, "Stock", ()),
}


# Which dates a report reads: a range (from-to), one "as of" day, or none (the stock as it stands now).
DATES = {"outstanding": "as_of", "stock_value": "now", "stock_expiring": "now", "stock_low": "now"}


def dates(name):
    return DATES.get(name, "range")


def run(name, start, end, **options):
    """Run report `name`; raises KeyError for an unknown name."""
    _, fn, _, accepted = REPORTS[name]
    return fn(start, end, **{k: v for k, v in options.items() if k in accepted or k == "stream"})
