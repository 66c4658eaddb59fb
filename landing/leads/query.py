"""LeadFilter -> SQL WHERE clause, shared by every store and tested without a database."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from urllib.parse import urlencode

from landing.leads.model import STATUSES, LeadFilter


def _like(text: str) -> str:
    return "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"


MAX_SEARCH = 100
MAX_VALUE = 200  # an office id, a treatment or town slug
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def day_after(value: str) -> str | None:
    """'until' is inclusive for a whole day: 2026-11-27 means before 2026-11-28; the last day there is
    (9999-12-31) means no end at all."""
    try:
        return (dt.date.fromisoformat(value) + dt.timedelta(days=1)).isoformat()
    except OverflowError:
        return None
    except ValueError:
        return value


def parse_filter(params: Mapping[str, str]) -> tuple[LeadFilter, list[str]]:
    """The staff list's and the export's filters from query parameters (or the command line's options), and
    what is wrong with them, each problem with its fix. The filter holds only the values that are right."""
    problems: list[str] = []

    def date(name: str) -> str | None:
        value = params.get(name, "").strip()
        if not value:
            return None
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            problems.append(f"{name}: '{shown(value)}' is not a date (use YYYY-MM-DD, e.g. 2026-11-27)")
            return None

    def text(name: str, limit: int = MAX_VALUE) -> str | None:
        value = params.get(name, "").strip()
        if _CONTROL.search(value) or len(value) > limit:
            problems.append(f"{name}: '{shown(value)}' cannot be matched (at most {limit} characters, and none "
                            "that cannot be typed)")
            return None
        return value or None

    since, until = date("since"), date("until")
    if since and until and since > until:
        problems.append(f"since ({since}) is after until ({until}), so no lead can match: swap them")
    status = text("status")
    if status and status not in STATUSES:
        problems.append(f"status: '{shown(status)}' is not a status (use one of {', '.join(STATUSES)})")
        status = None
    return LeadFilter(since=since, until=until, office=text("office"), treatment=text("treatment"),
                      town=text("town"), status=status, spam=params.get("spam") == "yes",
                      search=text("q", MAX_SEARCH)), problems


def shown(value: str, limit: int = 40) -> str:
    """A typed value quoted back in a message: printable, and short."""
    printable = _CONTROL.sub("?", value)
    return printable if len(printable) <= limit else printable[:limit] + "..."


def where(lead_filter: LeadFilter) -> tuple[str, list[object]]:
    """A WHERE clause (with ``?`` placeholders) and its arguments."""
    clauses = ["spam = ?"]
    args: list[object] = [int(lead_filter.spam)]
    if lead_filter.since:
        clauses.append("created_at >= ?")
        args.append(lead_filter.since)
    end = day_after(lead_filter.until) if lead_filter.until else None
    if end:
        clauses.append("created_at < ?")
        args.append(end)
    for column in ("office", "treatment", "town", "status"):
        value = getattr(lead_filter, column)
        if value:
            clauses.append(f"{column} = ?")
            args.append(value)
    if lead_filter.offices is not None:  # a staff member limited to some offices: never another office's lead
        clauses.append(f"office IN ({', '.join('?' * len(lead_filter.offices))})" if lead_filter.offices else "1 = 0")
        args += lead_filter.offices
    search = (lead_filter.search or "").strip()
    if search:
        parts = ["LOWER(name) LIKE ? ESCAPE '\\'", "LOWER(email) LIKE ? ESCAPE '\\'"]
        args += [_like(search.lower()), _like(search.lower())]
        digits = re.sub(r"\D", "", search)
        if len(digits) >= 3:
            parts.append("phone LIKE ? ESCAPE '\\'")
            args.append(_like(digits))
        clauses.append("(" + " OR ".join(parts) + ")")
    return " AND ".join(clauses), args


def filter_query(lead_filter: LeadFilter) -> dict[str, str]:
    """The filter back as query parameters (for links to pages and to the CSV)."""
    values = {"since": lead_filter.since, "until": lead_filter.until, "office": lead_filter.office,
              "treatment": lead_filter.treatment, "town": lead_filter.town, "status": lead_filter.status,
              "q": lead_filter.search, "spam": "yes" if lead_filter.spam else None}
    return {key: value for key, value in values.items() if value}


def filter_detail(lead_filter: LeadFilter) -> str:
    """The filter as an audit log entry shows it: its query string, or 'all leads', and the offices a staff
    member was limited to."""
    detail = urlencode(filter_query(lead_filter)) or "all leads"
    if lead_filter.offices is not None:
        detail += f" (limited to offices: {', '.join(lead_filter.offices) or 'none'})"
    return detail
