"""What every report shares: the date range in the clinic's time zone, the Report shape that pages,
CSV and the API all render, and the CSV writer (formula-injection safe, streamed).

A report is `run(start, end, **options) -> Report` in its own module; its rows and totals come from
one set of query functions, so the page, the CSV and /api/v1/reports/<name> always agree.
"""
import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ...localtime import to_local
from ...models import Settings
from ...money import major_str

PERIODS = ("day", "week", "month")
# OWASP CSV injection: a cell starting with one of these is read as a formula by spreadsheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Column:
    key: str
    label: str
    kind: str = "text"  # text, date, money, int, percent


@dataclass
class Report:
    name: str
    title: str
    columns: list
    rows: object  # a list, or an iterator for reports that stream
    totals: dict | None = None
    notes: list = field(default_factory=list)
    currency: str = "USD"
    start: date | None = None
    end: date | None = None
    options: dict = field(default_factory=dict)
    page: object = None  # a pagination.Page when `rows` is one page of a longer list (the totals are of all)


@dataclass(frozen=True)
class Range:
    """Clinic-local days start..end (inclusive) as a UTC half-open interval [since, until)."""

    start: date
    end: date
    zone: str

    @property
    def since(self):
        return datetime.combine(self.start, time(0), ZoneInfo(self.zone))

    @property
    def until(self):
        return datetime.combine(self.end + timedelta(days=1), time(0), ZoneInfo(self.zone))

    def filter(self, field_name):
        """{field__gte: since, field__lt: until} for a QuerySet."""
        return {f"{field_name}__gte": self.since, f"{field_name}__lt": self.until}


def clinic_range(start, end):
    settings = Settings.current()
    return Range(start, end, settings.timezone), settings


def local_day(value):
    """The clinic-local date of a stored UTC datetime."""
    return to_local(value).date() if value else None


def period_start(day, period):
    """The first day of the day/week (ISO, Monday)/month that `day` is in."""
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def periods(start, end, period):
    """Every period start from `start` to `end`, so empty periods show as zero rows."""
    out, day = [], period_start(start, period)
    while day <= end:
        out.append(day)
        if period == "month":
            day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
        else:
            day += timedelta(days=7 if period == "week" else 1)
    return out


# -- CSV ------------------------------------------------------------------------------------


def neutralise(value):
    """A CSV cell that no spreadsheet runs as a formula: a leading = + - @ tab or CR gets a ' before it."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def cell(value, kind, currency):
    """How a value is written to CSV: ISO dates, money as major-unit decimals, the rest as text."""
    if value is None:
        return ""
    if kind == "money":
        return major_str(value, currency)
    if kind == "date":
        return value.isoformat() if isinstance(value, (date, datetime)) else str(value)
    if kind == "percent":
        return f"{value:.1f}"
    return neutralise(value)


def csv_lines(report):
    """The report as CSV text, one line at a time (a generator: large reports stream).

    UTF-8 with a header row; dates ISO; amounts as decimals in major units; text cells neutralised
    against formula injection. Money cells are never neutralised: a refund's "-5.00" is a number.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def emit(values):
        writer.writerow(values)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield emit([c.label for c in report.columns])
    for row in report.rows:
        yield emit([cell(row.get(c.key), c.kind, report.currency) for c in report.columns])
    if report.totals:
        yield emit([("Total" if i == 0 and c.key not in report.totals else
                     cell(report.totals.get(c.key), c.kind, report.currency)) for i, c in enumerate(report.columns)])


def json_value(value):
    """How a value is answered by the API: money as integer minor units plus the currency elsewhere."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def as_json(report):
    cols = report.columns
    return {
        "name": report.name, "title": report.title, "currency": report.currency,
        "from": report.start.isoformat() if report.start else None,
        "to": report.end.isoformat() if report.end else None, "options": report.options,
        "columns": [{"key": c.key, "label": c.label, "kind": c.kind} for c in cols],
        "rows": [{c.key: json_value(r.get(c.key)) for c in cols} for r in report.rows],
        "totals": ({k: json_value(v) for k, v in report.totals.items()}
                   if report.totals else None),
        "notes": report.notes,
    }
