"""The CSV export's cells: none a spreadsheet could run as a formula, and the fast path writes what csv.writer
writes."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random

import pytest

from landing.leads.export import EXPORT_COLUMNS, csv_block, neutralize
from landing.leads.model import LEAD_COLUMNS
from landing.leads.store import lead_row
from tests.leads_helpers import a_lead

PREFIXES = ["=", "+", "-", "@", "＝", "＋", "－", "＠"]  # ASCII, and the full-width forms Excel also accepts
BLANKS = ["", " ", "   ", "\t", "\n", "\r\n", " \n ", "\u3000", "\xa0"]


def expected_cell(value: str) -> str:
    """The rule, written out: a leading tab or carriage return, or a formula prefix as the first character
    that is not blank, gets an apostrophe."""
    first = value.lstrip()[:1]
    return "'" + value if value[:1] in ("\t", "\r") or (first and first in PREFIXES) else value


@pytest.mark.parametrize("blank", BLANKS)
@pytest.mark.parametrize("prefix", PREFIXES)
def test_a_formula_prefix_after_any_blanks_is_neutralized(prefix: str, blank: str) -> None:
    cell = f'{blank}{prefix}HYPERLINK("http://evil.example","Click")'
    assert neutralize(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["", "Hello", " Hello", "\nHello", "Back pain, since May", "a=b", "1-2", "me@x",
                                  "(847) 555-0142", "Zoë 😀", "\u3000Hello", "x＝1"])
def test_text_that_cannot_be_a_formula_is_left_as_it_is(cell: str) -> None:
    assert neutralize(cell) == cell


@pytest.mark.parametrize("cell", ["\tHello", "\rHello", "\t", "\r"])
def test_a_leading_tab_or_carriage_return_is_always_neutralized(cell: str) -> None:
    assert neutralize(cell) == "'" + cell


def rows_with(cells: list[str]) -> list[tuple[object, ...]]:
    """Rows in EXPORT_COLUMNS order, as a store reads them, with ``cells`` as names, messages and campaigns."""
    rows = []
    for n, cell in enumerate(cells):
        lead = a_lead(name=cell, message=cells[-n - 1], utm_campaign=cell[::-1], spam=n % 2 == 0,
                      phone="+18475550142" if n % 3 else cell)
        values = dict(zip(LEAD_COLUMNS, lead_row(lead)))
        revoked = "2026-11-27T14:30:00.000000+00:00" if n % 4 == 0 else ""  # consent_revoked_at, read last
        rows.append((*(values[column] for column in EXPORT_COLUMNS), revoked))
    return rows


def written_by_csv_writer(rows: list[tuple[object, ...]]) -> str:
    """What csv.writer writes for the rows, cells made safe by the rule above."""
    spam, phone = EXPORT_COLUMNS.index("spam"), EXPORT_COLUMNS.index("phone")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        cells = [str(value) for value in row[:-1]]
        cells[spam] = "yes" if row[spam] else "no"
        if len(cells[phone]) == 12 and cells[phone].startswith("+1") and cells[phone][2:].isdigit():
            cells[phone] = f"({cells[phone][2:5]}) {cells[phone][5:8]}-{cells[phone][8:]}"
        created = dt.datetime.fromisoformat(cells[EXPORT_COLUMNS.index("created_at")])
        cells.append(created.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"))  # created_at_local
        cells.append(str(row[-1]))  # consent_revoked_at
        writer.writerow([expected_cell(cell) for cell in cells])
    return out.getvalue()


def test_the_fast_path_agrees_with_csv_writer_on_every_awkward_cell() -> None:
    awkward = [f"{blank}{prefix}1+1" for blank in BLANKS for prefix in PREFIXES]
    awkward += ["plain", "", "a,b", 'say "hi"', "line\nbreak", "cr\rhere", "trailing ", ",", '"', "\r\n", "Zoë 😀"]
    rows = rows_with(awkward)
    assert csv_block(rows) == written_by_csv_writer(rows)


def test_the_fast_path_agrees_with_csv_writer_on_random_cells() -> None:
    alphabet = ["a", "Z", "é", "😀", "1", ",", '"', "\n", "\r", " ", "\t", "\u3000", *PREFIXES]
    chance = random.Random(12)  # the same cells every run: a failure can be reproduced
    cells = ["".join(chance.choices(alphabet, k=chance.randint(0, 6))) for _ in range(3000)]
    rows = rows_with(cells)
    assert csv_block(rows) == written_by_csv_writer(rows)
