"""LeadFilter -> SQL WHERE clause, shared by every store and tested without a database."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlencode

from landing.leads.model import LeadFilter


def _like(text: str) -> str:
    return "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"


def day_after(value: str) -> str:
    """'until' is inclusive for a whole day: 2026-11-27 means before 2026-11-28."""
    try:
        return (dt.date.fromisoformat(value) + dt.timedelta(days=1)).isoformat()
    except ValueError:
        return value


def where(lead_filter: LeadFilter) -> tuple[str, list[object]]:
    """A WHERE clause (with ``?`` placeholders) and its arguments."""
    clauses = ["spam = ?"]
    args: list[object] = [int(lead_filter.spam)]
    if lead_filter.since:
        clauses.append("created_at >= ?")
        args.append(lead_filter.since)
    if lead_filter.until:
        clauses.append("created_at < ?")
        args.append(day_after(lead_filter.until))
    for column in ("office", "treatment", "town", "status"):
        value = getattr(lead_filter, column)
        if value:
            clauses.append(f"{column} = ?")
            args.append(value)
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
    """The filter as an audit log entry shows it: its query string, or 'all leads'."""
    return urlencode(filter_query(lead_filter)) or "all leads"
