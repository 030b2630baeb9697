"""Reports (Admin, Accountant): a page per report with date filters in the clinic's time zone, and
its CSV download (streamed). Pages, CSV and the API render the same services.reports Report."""
from datetime import timedelta

from flask import Blueprint, Response, abort, request, stream_with_context, url_for
from werkzeug.exceptions import BadRequest

from ...permissions import require_permission
from ...services import reports
from ...services.pharmacy.stock import today
from ...services.reports.common import PERIODS, csv_lines
from ...web import render
from ..common import day_arg, page_number, refuse

bp = Blueprint("reports", __name__, url_prefix="/reports")
MAX_DAYS = 732  # two years per request: a report reads every movement in its range


def report_args(name):
    """(start, end, options) from ?from=&to=&period=; defaults: today for day-end, else this month so far
    (an "as of" report reads only ?to=, a stock report no date: reports.dates). 400 for malformed dates,
    a range that ends before it starts or spans more than two years."""
    if name not in reports.REPORTS:
        abort(404, description="There is no such report.")
    now = today()
    default_start = now if name == "day_end" else now.replace(day=1)
    dates = reports.dates(name)
    if dates == "now":  # the stock as it stands: any dates given are not read
        start = end = now
    elif dates == "as_of":
        start = end = day_arg("to", now)
    else:
        start, end = day_arg("from", default_start), day_arg("to", now)
    if end < start:
        refuse(400, "“to” must not be before “from”.", {"to": "On or after “from”."})
    if (end - start).days > MAX_DAYS:
        refuse(400, "Choose at most two years.", {"from": "At most two years before “to”."})
    period = request.args.get("period") or ("day" if (end - start) <= timedelta(days=31) else "month")
    if period not in PERIODS:
        refuse(400, "period is day, week or month.", {"period": "day, week or month"})
    return start, end, {"period": period}


@bp.get("/")
@require_permission("reports", "read")
def index():
    """The list of reports, by group."""
    groups = {}
    for name, (title, _, group, _) in reports.REPORTS.items():
        groups.setdefault(group, []).append((name, title))
    return render("reports/index.html", groups=groups, today=today())


def _page_args(name):
    """report_args() for the page: (start, end, options, errors), the errors ({field: message}) shown beside
    the date fields (422) instead of a 400 page."""
    try:
        start, end, options = report_args(name)
    except BadRequest as exc:
        return None, None, None, getattr(exc, "fields", None) or {"from": exc.description}
    return start, end, options, {}


@bp.get("/<name>")
@require_permission("reports", "read")
def show(name):
    """One report for the chosen days (clinic time), with its totals and a CSV link."""
    start, end, options, errors = _page_args(name)
    title, _, _, accepts = reports.REPORTS[name]
    context = {"title": title, "accepts": accepts, "periods": PERIODS, "dates": reports.dates(name), "errors": errors}
    if errors:
        return render("reports/show.html", block="report", status=422, report=None, values=request.args, **context)
    report = reports.run(name, start, end, page=page_number(), **options)
    query = {"from": start.isoformat(), "to": end.isoformat(), **{k: options[k] for k in accepts if k in options}}
    return render("reports/show.html", block="report", report=report, values=query,
                  csv_url=url_for("reports.download", name=name, **query), days=_day_links(name, start, end),
                  **context)


def _day_links(name, start, end):
    """[(day, url)] of the day before and the day after (none past today) of a one-day report (day-end,
    as of): an accountant reconciles yesterday in the morning. None for a range or a stock report."""
    dates = reports.dates(name)
    if start != end or dates == "now":
        return None

    def link(day):
        query = {"to": day.isoformat()} if dates == "as_of" else {"from": day.isoformat(), "to": day.isoformat()}
        return day, url_for("reports.show", name=name, **query)

    return [link(start - timedelta(days=1))] + ([link(start + timedelta(days=1))] if start < today() else [])


@bp.get("/<name>.csv")
@require_permission("reports", "read")
def download(name):
    """The report as CSV (UTF-8, header row, ISO dates, major-unit amounts), streamed."""
    start, end, options = report_args(name)
    report = reports.run(name, start, end, stream=True, **options)
    filename = f"{name}_{start.isoformat()}_{end.isoformat()}.csv"
    return Response(stream_with_context(_with_bom(csv_lines(report))), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'},
                    content_type="text/csv; charset=utf-8")


def _with_bom(lines):
    """UTF-8's byte-order mark first: without it Excel reads the file as the PC's code page, and
    "Müller" or "€" arrive garbled; LibreOffice, Numbers and csv readers (encoding utf-8-sig) skip it."""
    yield "\ufeff"
    yield from lines
