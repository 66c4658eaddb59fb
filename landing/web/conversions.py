"""The staff area's download of the ads platforms' offline-conversion files (landing.leads.conversions)."""

from __future__ import annotations

import datetime as dt

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from landing.admin import roles
from landing.leads.conversions import FORMATS, export_conversions
from landing.leads.model import Session
from landing.leads.query import shown
from landing.web.admin import admin_headers, allow, store
from landing.web.leads import site


async def download_conversions(request: Request, session: Session, form: dict[str, str]) -> Response:
    day = request.query_params.get("since", "").strip()
    platform = request.query_params.get("format", "google").strip().lower() or "google"
    problems = []
    try:
        dt.date.fromisoformat(day)
    except ValueError:
        problems.append(f"since: '{shown(day)}' is not a date (use YYYY-MM-DD, e.g. 2026-11-01)" if day else
                        "since: choose the first day of conversions to include")
    if platform not in FORMATS:
        problems.append(f"format: '{shown(platform)}' is not a format (use google or microsoft)")
    if problems:
        return Response("This file cannot be made: " + "; ".join(problems) + ".\n", status_code=400,
                        media_type="text/plain; charset=utf-8", headers=admin_headers(request))
    catalog = site(request).current.catalog
    result = await export_conversions(store(request), platform, day, catalog.site, session.email,
                                      offices=roles.lead_offices(session.role, session.offices))
    filename = f"conversions-{platform}-since-{day}.csv"
    return Response(result.text.encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={**admin_headers(request), "content-disposition": f'attachment; filename="{filename}"'})


def routes() -> list[BaseRoute]:
    return [Route("/admin/conversions.csv", allow(*roles.LEADS, download=True)(download_conversions),
                  name="download_conversions")]
