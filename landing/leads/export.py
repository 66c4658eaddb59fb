"""Leads as CSV for Excel and CRMs: a stable column order, UTF-8 with a BOM, and no cell that can run
as a formula (OWASP's CSV injection guidance)."""

from __future__ import annotations

import csv
import io
import operator
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from landing.leads.model import Lead

# The documented, stable order. New columns are only ever added at the end.
EXPORT_COLUMNS = (
    "id", "created_at", "status", "name", "phone", "email", "contact", "message", "treatment", "town", "office",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "gclid", "msclkid", "fbclid",
    "landing_url", "referrer", "consent_version", "spam", "spam_reason",
)
_FORMULA_STARTS = frozenset("=+-@\t\r")
BOM = "\ufeff"
_values = operator.attrgetter(*EXPORT_COLUMNS)
_SPAM = EXPORT_COLUMNS.index("spam")
_PHONE = EXPORT_COLUMNS.index("phone")


def us_phone(e164: str) -> str:
    """+18475550142 -> (847) 555-0142: how staff dial it, and a cell no spreadsheet takes for a formula."""
    if len(e164) == 12 and e164.startswith("+1") and e164[2:].isdigit():
        return f"({e164[2:5]}) {e164[5:8]}-{e164[8:]}"
    return e164


def neutralize(value: str) -> str:
    """A cell a spreadsheet could read as a formula gets a leading apostrophe, which shows it as text."""
    return "'" + value if value and value[0] in _FORMULA_STARTS else value


def export_row(lead: Lead) -> list[str]:
    return export_values(_values(lead))


def export_values(values: Sequence[Any]) -> list[str]:
    """One CSV row from values in EXPORT_COLUMNS order (as a Lead or a database row holds them)."""
    row = list(values)
    row[_SPAM] = "yes" if row[_SPAM] else "no"
    row[_PHONE] = us_phone(row[_PHONE])
    # Inlined neutralize(): this runs for every cell of a million-row export.
    return ["'" + value if value and value[0] in _FORMULA_STARTS else value for value in row]


def csv_lines(rows: Iterable[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


async def csv_chunks(rows: AsyncIterator[Sequence[Any]], counter: list[int] | None = None,
                     chunk: int = 500) -> AsyncIterator[bytes]:
    """The CSV in pieces: BOM and header first, then ``chunk`` rows at a time. ``counter[0]`` counts rows.

    ``rows`` hold EXPORT_COLUMNS in order: ``store.iter_rows(filter, EXPORT_COLUMNS)``.
    """
    yield (BOM + csv_lines([list(EXPORT_COLUMNS)])).encode("utf-8")
    pending: list[list[str]] = []
    async for values in rows:
        pending.append(export_values(values))
        if counter is not None:
            counter[0] += 1
        if len(pending) >= chunk:
            yield csv_lines(pending).encode("utf-8")
            pending = []
    if pending:
        yield csv_lines(pending).encode("utf-8")
