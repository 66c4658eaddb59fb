"""An Excel workbook (.xlsx) of towns -> the text of a locations.csv, read by openpyxl.

The first sheet, row for row (row 14 of the sheet is line 14 of the CSV, so every problem names the row Excel
shows), each value as Excel shows it: a number formatted `00000` keeps its leading zeros (ZIP 02134), a
whole number has no `.0`, a date reads as its format says (11/30/2026). A line break inside a cell becomes a
space (a town's intro is one paragraph). Formulas give the value Excel last calculated and saved.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from typing import Any

from landing.errors import ConfigError

MAX_UNPACKED = 200 * 1024 * 1024  # an .xlsx is a ZIP of XML: refuse one that unpacks past this (a "zip bomb")
XLSX_MAGIC = b"PK\x03\x04"


def is_workbook(name: str, data: bytes) -> bool:
    return name.lower().endswith((".xlsx", ".xlsm")) or data.startswith(XLSX_MAGIC)


def workbook_csv(data: bytes, name: str) -> str:
    """The first sheet of the workbook ``data`` as CSV text; ConfigError naming ``name`` and the fix when it cannot
    be read."""
    from openpyxl import load_workbook  # only when a workbook is uploaded

    def unreadable(why: str) -> ConfigError:
        return ConfigError([f"{name}: cannot be read as an Excel workbook ({why}); open it in Excel and save it "
                            "again as 'Excel Workbook (.xlsx)', or as 'CSV UTF-8 (Comma delimited) (.csv)'"])

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if sum(member.file_size for member in archive.infolist()) > MAX_UNPACKED:
                raise unreadable(f"it unpacks to more than {MAX_UNPACKED // 2**20} MiB")
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a damaged file; all mean the same here
        raise unreadable(type(exc).__name__ if not str(exc) else str(exc)[:200]) from None
    try:
        if not book.worksheets:
            raise unreadable("it has no sheet")
        sheet = book.worksheets[0]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        width = 0  # the header's: every row gets as many values (a CSV from Excel has them too)
        for row in sheet.iter_rows():
            values = [shown(cell.value, getattr(cell, "number_format", "General") or "General") for cell in row]
            while values and values[-1] == "":
                values.pop()
            width = width or len(values)
            if values:
                values += [""] * (width - len(values))
            writer.writerow(values)
        return out.getvalue()
    finally:
        book.close()


def shown(value: Any, number_format: str = "General") -> str:
    """A cell's value as Excel shows it with ``number_format`` (the formats a list of towns uses)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        return " ".join(value.replace("\r\n", "\n").split("\n")).strip()
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return _date(value, number_format)
    if isinstance(value, (int, float)):
        return _number(value, number_format)
    return str(value)


def _number(value: float, number_format: str) -> str:
    fmt = number_format.split(";")[0].strip()
    if fmt in ("General", "@", ""):
        if float(value).is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.15g}"  # what Excel keeps: 15 significant digits
    if fmt == "00000-0000" and float(value).is_integer():  # Excel's "Zip Code + 4"
        digits = f"{int(value):09d}"
        return f"{digits[:5]}-{digits[5:]}"
    percent = fmt.endswith("%")
    body = re.sub(r'"[^"]*"|\\.|[^0#.,?]', "", fmt.rstrip("%"))
    if percent:
        value = value * 100
    whole, _, decimals = body.partition(".")
    places = len(decimals)
    text = f"{value:,.{places}f}" if "," in whole else f"{value:.{places}f}"
    zeros = whole.replace(",", "").count("0")
    if zeros > 1:  # a padded format: 00000 keeps a ZIP code's leading zeros
        sign = "-" if text.startswith("-") else ""
        digits, dot, rest = text.lstrip("-").partition(".")
        text = sign + digits.zfill(zeros) + dot + rest
    return text + ("%" if percent else "")


_DATE_TOKEN = re.compile(r"yyyy|yy|mmmm|mmm|mm|m|dddd|ddd|dd|d|hh|h|ss|s|am/pm|\"[^\"]*\"|\\.|.", re.IGNORECASE)
_BUILTIN_DATES = {"mm-dd-yy": "m/d/yyyy", "d-mmm-yy": "d-mmm-yy", "d-mmm": "d-mmm", "mmm-yy": "mmm-yy"}


def _date(value: dt.date | dt.time, number_format: str) -> str:
    fmt = _BUILTIN_DATES.get(number_format.lower(), number_format)
    if fmt in ("General", "@", ""):
        fmt = "yyyy-mm-dd hh:mm:ss" if isinstance(value, dt.datetime) else (
            "yyyy-mm-dd" if isinstance(value, dt.date) else "hh:mm:ss")
    tokens = _DATE_TOKEN.findall(re.sub(r"\[[^\]]*\]", "", fmt.split(";")[0]))
    parts = []
    for index, token in enumerate(tokens):
        low = token.lower()
        # 'm' is minutes after an hour or before seconds, a month elsewhere.
        near = [t.lower() for t in tokens[max(0, index - 2):index] + tokens[index + 1:index + 3]]
        minutes = low in ("m", "mm") and any(t.startswith(("h", "s")) for t in near)
        parts.append(_date_part(value, low, token, minutes))
    return "".join(parts)


def _date_part(value: dt.date | dt.time, low: str, token: str, minutes: bool) -> str:
    date = value if isinstance(value, dt.date) else None
    time = value if isinstance(value, dt.time) else (value.time() if isinstance(value, dt.datetime) else None)
    if minutes and time is not None:
        return f"{time.minute:02d}" if low == "mm" else str(time.minute)
    if date is not None and low in ("yyyy", "yy", "mmmm", "mmm", "mm", "m", "dddd", "ddd", "dd", "d"):
        return {"yyyy": f"{date.year:04d}", "yy": f"{date.year % 100:02d}", "mmmm": date.strftime("%B"),
                "mmm": date.strftime("%b"), "mm": f"{date.month:02d}", "m": str(date.month),
                "dddd": date.strftime("%A"), "ddd": date.strftime("%a"), "dd": f"{date.day:02d}",
                "d": str(date.day)}[low]
    if time is not None and low in ("hh", "h", "ss", "s"):
        return {"hh": f"{time.hour:02d}", "h": str(time.hour), "ss": f"{time.second:02d}", "s": str(time.second)}[low]
    if low == "am/pm" and time is not None:
        return "AM" if time.hour < 12 else "PM"
    if token.startswith('"'):
        return token[1:-1]
    if token.startswith("\\"):
        return token[1:]
    return token
