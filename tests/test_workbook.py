"""A workbook's cells read as Excel shows them (landing/workbook.py): the formats a list of towns uses."""

from __future__ import annotations

import datetime as dt

import pytest

from landing.workbook import shown


@pytest.mark.parametrize(("value", "number_format", "text"), [
    (2134, "00000", "02134"),  # a ZIP code formatted to keep its leading zero
    (21340001, "00000-0000", "02134-0001"),  # Excel's "Zip Code + 4"
    (2134, "General", "2134"),  # unformatted, Excel shows it without: the check says how to fix it
    (60010.0, "General", "60010"),
    (42.1539, "General", "42.1539"),
    (-88.13620000000001, "General", "-88.1362"),  # the 15 significant digits Excel keeps
    (0.25, "0%", "25%"),
    (1234.5, "#,##0.00", "1,234.50"),
    (3, "0.0", "3.0"),
    (dt.datetime(2026, 11, 30), "mm-dd-yy", "11/30/2026"),  # builtin format 14, as Excel shows it in the US
    (dt.datetime(2026, 1, 5, 14, 30), "yyyy-mm-dd h:mm", "2026-01-05 14:30"),
    (dt.date(2026, 1, 5), "d-mmm-yy", "5-Jan-26"),
    (True, "General", "TRUE"),
    (None, "General", ""),
    ("  Crystal Lake  ", "@", "Crystal Lake"),
    ("line one\r\nline two", "General", "line one line two"),
])
def test_a_cell_reads_as_excel_shows_it(value: object, number_format: str, text: str) -> None:
    assert shown(value, number_format) == text
