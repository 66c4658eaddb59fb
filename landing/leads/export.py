"""Leads as CSV for Excel and CRMs: a stable column order, UTF-8 with a BOM, and no cell that can run
as a formula (OWASP's CSV injection guidance)."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterable, Sequence
from types import SimpleNamespace
from typing import Any

from landing.clock import LocalStamps
from landing.leads.model import LeadFilter
from landing.leads.query import where

# The documented, stable order. New columns are only ever added at the end.
EXPORT_COLUMNS = (
    "id", "created_at", "status", "name", "phone", "email", "contact", "message", "treatment", "town", "office",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "gclid", "msclkid", "fbclid",
    "landing_url", "referrer", "consent_version", "spam", "spam_reason",
)
# After the lead's own columns, the ones the export adds: the arrival time in the practice's time zone
# (created_at itself stays ISO 8601 UTC), and when the patient revoked consent (ISO 8601 UTC; empty: never).
ADDED_COLUMNS = ("created_at_local", "consent_revoked_at")
FILE_COLUMNS = EXPORT_COLUMNS + ADDED_COLUMNS
_REVOKED = ("COALESCE((SELECT revoked_at FROM consent_revocations WHERE consent_revocations.lead_id = leads.id), '') "
            "AS consent_revoked_at")
EXPORT_BLOCK = 500  # rows a piece of the file holds: ~150 KB, so a few pieces in flight cost little memory
# A spreadsheet reads a cell as a formula when it starts with one of these, ASCII or full-width (Excel with
# East Asian input takes ＝ for =), also after leading blanks or line breaks, which it skips.
_FORMULA_PREFIXES = frozenset("=+-@＝＋－＠")
_FORMULA_STARTS = _FORMULA_PREFIXES | frozenset("\t\r")  # OWASP: a leading tab or CR is neutralized whatever follows
_BLANKS = frozenset(char for char in map(chr, range(0x3001)) if char.isspace())  # str.isspace(): none above U+3000
_SUSPECT = _FORMULA_STARTS | _BLANKS  # first characters worth a closer look
BOM = "\ufeff"
_SPAM = EXPORT_COLUMNS.index("spam")
_PHONE = EXPORT_COLUMNS.index("phone")
_CREATED = EXPORT_COLUMNS.index("created_at")
_READ = len(EXPORT_COLUMNS)
_COMMAS = len(FILE_COLUMNS) - 1


def us_phone(e164: str) -> str:
    """+18475550142 -> (847) 555-0142: how staff dial it, and a cell no spreadsheet takes for a formula."""
    if len(e164) == 12 and e164.startswith("+1") and e164[2:].isdigit():
        return f"({e164[2:5]}) {e164[5:8]}-{e164[8:]}"
    return e164


def neutralize(value: str) -> str:
    """A cell a spreadsheet could read as a formula gets a leading apostrophe, which shows it as text."""
    return "'" + value if risky(value) else value


def risky(value: str) -> bool:
    """Whether a spreadsheet could take the cell for a formula: its first character, or the first that is not
    blank, is a formula prefix (or it starts with a tab or carriage return)."""
    if not value:
        return False
    first = value[0]
    return first in _FORMULA_STARTS or (first in _BLANKS and value.lstrip()[:1] in _FORMULA_PREFIXES)


def export_values(values: Sequence[Any], local: Callable[[str], str] = LocalStamps(dt.timezone.utc)) -> list[str]:
    """One CSV row of FILE_COLUMNS from values in EXPORT_COLUMNS order (as a Lead or a database row holds them),
    then the revocation time (export_query's last column; empty when absent); ``local`` gives the arrival time in
    the practice's time zone."""
    row = list(values[:_READ])
    row[_SPAM] = "yes" if row[_SPAM] else "no"
    row[_PHONE] = us_phone(row[_PHONE])
    row.append(local(row[_CREATED]))
    row.append(values[_READ] if len(values) > _READ else "")
    # neutralize() with its common case inlined (most cells start with a letter or digit: one set lookup):
    # this runs for every cell of a million-row export.
    return ["'" + value if value and value[0] in _SUSPECT and risky(value) else value for value in row]


def export_query(lead_filter: LeadFilter) -> tuple[str, list[object]]:
    """What an export reads, with ``?`` placeholders: the matching leads' EXPORT_COLUMNS and revocation time, newest
    first."""
    clause, args = where(lead_filter)
    return (f"SELECT {', '.join(EXPORT_COLUMNS)}, {_REVOKED} FROM leads WHERE {clause} ORDER BY created_at DESC, id DESC",
            args)


HEADER = (BOM + ",".join(FILE_COLUMNS) + "\r\n").encode("utf-8")  # the names need no quoting


def csv_block(rows: Iterable[Sequence[Any]], zone: dt.tzinfo = dt.timezone.utc) -> str:
    """CSV lines for rows of values in EXPORT_COLUMNS order, byte for byte what csv.writer writes.

    A row with no comma, double quote or line break in any cell needs no quoting, so csv.writer would only
    join its cells with commas: joining them ourselves costs a third as much, and most rows are like that.
    The others (a message with a comma, say) go through csv.writer.
    """
    parts: list[str] = []
    write = parts.append
    writer = csv.writer(SimpleNamespace(write=write), lineterminator="\r\n")
    local = LocalStamps(zone)
    for values in rows:
        row = export_values(values, local)
        line = ",".join(row)
        # More commas than separators means a cell holds one.
        if line.count(",") == _COMMAS and '"' not in line and "\n" not in line and "\r" not in line:
            write(line + "\r\n")
        else:
            writer.writerow(row)
    return "".join(parts)


def csv_pieces(blocks: Iterable[Sequence[Sequence[Any]]],
               zone: dt.tzinfo = dt.timezone.utc) -> Generator[tuple[bytes, int], None, None]:
    """The export file from blocks of rows, as (bytes, rows they hold): the BOM and header first."""
    yield HEADER, 0
    for rows in blocks:
        yield csv_block(rows, zone).encode("utf-8"), len(rows)


async def csv_file(blocks: AsyncIterator[Sequence[Any]], counter: list[int] | None = None,
                   zone: dt.tzinfo = dt.timezone.utc) -> AsyncGenerator[bytes, None]:
    """The export file from blocks of rows as a store reads them: csv_pieces for an asynchronous reader.
    ``counter[0]`` counts the rows handed out."""
    yield HEADER
    async for rows in blocks:
        if counter is not None:
            counter[0] += len(rows)
        yield csv_block(rows, zone).encode("utf-8")
