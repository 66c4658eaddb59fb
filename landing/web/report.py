"""The marketing report in the staff area: /admin/report (a page with a chart drawn on the server) and
/admin/report.csv (the same lines as a file). Figures only: leads are counted per page, never shown."""

from __future__ import annotations

import csv
import io
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from landing.admin import roles
from landing.admin.report_chart import report_chart
from landing.leads.export import BOM, neutralize
from landing.leads.model import Session
from landing.pageviews import sql_store
from landing.report import CSV_COLUMNS, DIMENSIONS, Report, csv_rows, make_report, parse_period, percent
from landing.web.admin import admin_headers, allow, bad_filter, render, store
from landing.web.leads import site

SHOWN_LINES = 100  # lines the page shows; the CSV has them all
# Page figures, leads only as counts per page: for marketers (who never see a lead) and admins.
REPORT_ROLES = (roles.ADMIN, roles.MARKETER)


async def report(request: Request) -> tuple[Report | None, list[str]]:
    period, by, problems = parse_period(request.query_params)
    if problems:
        return None, problems
    return await make_report(sql_store(store(request)), site(request).current.catalog, period, by), []


async def report_page(request: Request, session: Session, form: dict[str, str]) -> Response:
    found, problems = await report(request)
    if found is None:
        return bad_filter(request, session, problems)
    query = {"since": found.period.since.isoformat(), "until": found.period.until.isoformat(), "by": found.by}
    return render(request, "admin/report.html", "Report", session, report=found, dimensions=DIMENSIONS,
                  lines=found.lines[:SHOWN_LINES], shown=SHOWN_LINES, percent=percent, chart=report_chart(found.days),
                  csv_link="/admin/report.csv?" + urlencode(query),
                  by_link=lambda by: "/admin/report?" + urlencode({**query, "by": by}))


async def report_csv(request: Request, session: Session, form: dict[str, str]) -> Response:
    found, problems = await report(request)
    if found is None:
        return bad_filter(request, session, problems, download=True)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    lines = 0
    for row in csv_rows(found):  # a campaign is typed by anyone into a link: no cell may run as a formula
        writer.writerow([neutralize(cell) if isinstance(cell, str) else cell for cell in row])
        lines += 1
    detail = f"report by {found.by}, {found.period.since} to {found.period.until}"
    await store(request).audit(session.email, "report export", detail, lines)
    filename = f"report-{found.by}-{found.period.since}-{found.period.until}.csv"
    return Response((BOM + text.getvalue()).encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={**admin_headers(request), "content-disposition": f'attachment; filename="{filename}"'})


def routes() -> list[BaseRoute]:
    return [
        Route("/admin/report", allow(*REPORT_ROLES)(report_page), name="report"),
        Route("/admin/report.csv", allow(*REPORT_ROLES, download=True)(report_csv), name="report_csv"),
    ]
