"""locations.csv -> Location rows.

The file is the marketers' own: it comes from Excel as often as from a text editor, so BOMs, CRLF,
blank lines and padded values are normal, not errors. Everything else that is wrong is reported, all
of it at once, as ``locations.csv:LINE: column 'X': what is wrong (what to do)``.
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import io
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

from slugify import slugify

from landing.errors import ConfigError
from landing.gazetteer import Found, Gazetteer
from landing.site import Column
from landing.states import STATES

COLUMNS = ("town", "state", "county", "zip", "latitude", "longitude", "slug", "aliases", "office",
           "treatments", "intro", "notes")
REQUIRED = ("town", "state")
# What `landing check --worklist` adds to each row to say what it needs: read back, they are passed over,
# so the worklist a marketer filled in loads as it is.
WORKLIST_COLUMNS = ("priority", "similar_to", "shared_words", "what_to_add")
MAX_INTRO = 2000
FILLABLE = ("county", "zip", "latitude", "longitude")


@dataclass(frozen=True, slots=True)
class Location:
    town: str
    state: str
    slug: str
    county: str = ""
    zip: str = ""
    latitude: float | None = None
    longitude: float | None = None
    aliases: tuple[str, ...] = ()
    office: str | None = None  # None: the nearest office serves the town
    treatments: tuple[str, ...] | None = None  # None: every treatment
    intro: str = ""
    notes: str = ""  # never published
    line: int = 0
    extras: tuple[tuple[str, str], ...] = ()  # the practice's own columns (site.toml [[locations.columns]])
    timezone: str = ""  # from the ZIP code data, when the town was looked up
    filled: tuple[str, ...] = ()  # the columns filled from the ZIP code data (never a given value)
    filled_from: str = ""  # which of its records, in words
    fill_note: str = ""  # what the ZIP code data could not say for sure, and what to give instead

    @property
    def extra(self) -> dict[str, str]:
        """The practice's own columns by name, for templates: ``location.extra.hospital``."""
        return dict(self.extras)

    @property
    def place(self) -> str:
        """'Barrington, IL': how the town is named in titles and headings."""
        return f"{self.town}, {self.state}"

    @property
    def state_name(self) -> str:
        return STATES[self.state]

    @property
    def has_coordinates(self) -> bool:
        return self.latitude is not None and self.longitude is not None


_PLAIN_NAME = re.compile(r"[A-Za-z0-9 .'-]*")
_SLUG_WORD = re.compile(r"[a-z0-9]+")


def default_slug(town: str, state: str) -> str:
    """The slug a town gets unless the CSV says otherwise: 'St. Charles', 'IL' -> 'st-charles-il'.

    A plain ASCII name (nearly every US town) is slugged directly, as slugify would: its words, lower case,
    joined by dashes (tests/test_locations.py checks the two agree on every town of the ZIP code data);
    anything else (accents, '&', commas) goes through slugify itself.
    """
    text = f"{town} {state}"
    if _PLAIN_NAME.fullmatch(text):
        return "-".join(_SLUG_WORD.findall(text.lower()))
    return slugify(text)


def load_locations(
    path: Path,
    offices: Collection[str] = (),
    treatments: Collection[str] = (),
    columns: Collection[Column] = (),
    gazetteer: Gazetteer | None = None,
) -> tuple[Location, ...]:
    """Read and validate a locations file; ``offices`` and ``treatments`` are the known ids and slugs,
    ``columns`` the practice's own, ``gazetteer`` (if any) fills what a town lacks."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError([f"{path.name}: cannot read the file ({exc.strerror}); check LANDING_LOCATIONS_FILE"])
    return parse_locations(data, path.name, offices, treatments, columns, gazetteer)


def parse_locations(
    data: bytes,
    name: str = "locations.csv",
    offices: Collection[str] = (),
    treatments: Collection[str] = (),
    columns: Collection[Column] = (),
    gazetteer: Gazetteer | None = None,
) -> tuple[Location, ...]:
    global _remembered
    text = decode_csv(data, name)
    if not text.strip():
        raise ConfigError([f"{name}: the file is empty (it needs a header row, e.g. {','.join(COLUMNS[:6])}, "
                           "and one row per town)"])
    rows = csv_rows(text, name)
    header_line, header = next(rows)
    reader = _RowReader(name, header_line, header, offices, treatments, columns, gazetteer)
    # Rows read as they were by the last parse with the same header and settings: a reload after a marketer's
    # one-line edit reads every other row again (at 25,000 towns, a fifth of a reload with the quality gate on).
    setting = (tuple(reader.columns), frozenset(offices), frozenset(treatments), tuple(columns), gazetteer,
               frozenset(reader.missing), frozenset(reader.misspelt))
    previous = _remembered[1] if _remembered is not None and _remembered[0] == setting else {}
    remembered: dict[tuple[int, tuple[str, ...]], tuple[Location, _Claim]] = {}
    locations = []
    for line, values in rows:
        key = (line, tuple(values))
        if (known := previous.get(key)) is not None:
            reader.rows_seen += 1
            reader.claims.append(known[1])
            locations.append(known[0])
            remembered[key] = known
            continue
        problems = len(reader.problems)
        if (location := reader.row(line, values)) is not None:
            locations.append(location)
            if len(reader.problems) == problems:
                remembered[key] = (location, reader.claims[-1])
    _remembered = (setting, remembered)
    if not reader.problems and not locations and reader.rows_seen == 0:
        reader.problems.append(f"{name}: no towns: the file has a header but no rows (add one row per town below it)")
    reader.check_slugs()
    if reader.problems:
        raise ConfigError(reader.problems)
    return tuple(locations)


# What the last parse read of each valid row (by line number and values), with the settings it was read under.
_remembered: tuple[tuple[object, ...], dict[tuple[int, tuple[str, ...]], tuple[Location, _Claim]]] | None = None


def decode_csv(data: bytes, name: str) -> str:
    """A CSV file's text: UTF-8 with or without a BOM, as Excel and Google Sheets save it; anything else is a
    ConfigError saying how to save it right."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError([
            f"{name}:{line}: the file is not UTF-8 text (byte 0x{data[exc.start]:02x} cannot be read); "
            "re-save it as UTF-8: in Excel use File > Save As > 'CSV UTF-8 (Comma delimited) (.csv)', "
            "in Google Sheets File > Download > CSV"
        ]) from None


def csv_rows(text: str, name: str = "locations.csv") -> Iterator[tuple[int, list[str]]]:
    """(first line number, values) per non-blank record; quoted fields may span lines. A record the csv module
    cannot read (a value past its size limit: nearly always a quote left open) is a ConfigError naming ``name``."""
    first_line = text.lstrip("\r\n").split("\n", 1)[0]
    # Excel in many European locales writes ';' between values.
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    while True:
        start = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ConfigError([f"{name}:{start}: this row cannot be read ({exc}): a value is far too long, which "
                               "nearly always means a double quote left open on this line or a line above, so that "
                               "the rest of the file reads as one value: close the quote"]) from None
        if any(value.strip() for value in values):
            yield start, values


@dataclass(frozen=True, slots=True)
class _Claim:
    """A row's slug and aliases, kept even when the row has other problems: a duplicate slug further down
    is still reported."""

    line: int
    place: str
    slug: str
    aliases: tuple[str, ...]


class _RowReader:
    def __init__(self, name: str, header_line: int, header: list[str], offices: Collection[str],
                 treatments: Collection[str], columns: Collection[Column] = (),
                 gazetteer: Gazetteer | None = None) -> None:
        self.name = name
        self.offices = offices
        self.treatments = treatments
        self.own = {column.name: column for column in columns}
        self.gazetteer = gazetteer
        self.problems: list[str] = []
        self.rows_seen = 0
        self.claims: list[_Claim] = []
        self.columns = [column.strip().lower() for column in header]
        self.missing: set[str] = set()
        # Known columns missing from the header whose name is misspelt in it ('lattitude'): reported once
        # there, not again on every row as an empty value.
        self.misspelt: set[str] = set()
        self._check_header(header_line)

    def problem(self, line: int, column: str | None, message: str) -> None:
        where = f"{self.name}:{line}: column '{column}'" if column else f"{self.name}:{line}"
        self.problems.append(f"{where}: {message}")

    def _check_header(self, line: int) -> None:
        # Rows are still checked after a header problem, so one run shows everything to fix.
        known = [*COLUMNS, *self.own, *WORKLIST_COLUMNS]
        seen: set[str] = set()
        for column in self.columns:
            if column in seen:
                self.problem(line, column, "appears twice in the header (keep one of them)")
            seen.add(column)
            if column not in known:
                close = difflib.get_close_matches(column, known, n=1, cutoff=0.6)
                if close and close[0] not in self.columns:
                    self.misspelt.add(close[0])
                hint = (f"did you mean '{close[0]}'?" if close else f"known columns: {', '.join(known)}; a column "
                        "of your own must be declared in site.toml under [[locations.columns]]")
                self.problem(line, column or "(blank)", f"unknown column ({hint})")
        for column in REQUIRED:
            if column not in seen:
                self.problem(line, column, f"required column is missing from the header (add a '{column}' column)")
                self.missing.add(column)

    def row(self, line: int, values: list[str]) -> Location | None:
        self.rows_seen += 1
        if len(values) != len(self.columns):
            self.problem(line, None, f"has {len(values)} values but the header has {len(self.columns)} columns "
                         "(check for a missing or extra comma; put values that contain commas in double quotes)")
            return None
        raw = {column: value.strip() for column, value in zip(self.columns, values)}
        before = len(self.problems)
        town = raw.get("town", "")
        state = raw.get("state", "").upper()
        if not town and "town" not in self.missing:
            self.problem(line, "town", "is empty (every row needs the town's name)")
        if not state and "state" in self.missing:
            pass
        elif not state:
            self.problem(line, "state", "is empty (add the USPS code, e.g. IL)")
        elif state not in STATES:
            self.problem(line, "state", f"'{raw['state']}' is not a US state or territory code (expected e.g. IL)")
        zip_code = self._zip(line, raw.get("zip", ""))
        latitude = self._coordinate(line, "latitude", raw.get("latitude", ""), 90)
        longitude = self._coordinate(line, "longitude", raw.get("longitude", ""), 180)
        if ((latitude is None) != (longitude is None) and not (raw.get("latitude") and raw.get("longitude"))
                and not self.misspelt & {"latitude", "longitude"}):
            missing = "longitude" if latitude is not None else "latitude"
            self.problem(line, missing, "is empty but the other coordinate is given (give both, or neither)")
        slug = raw.get("slug", "")
        if slug and slug != slugify(slug):
            self.problem(line, "slug", f"'{slug}' is not a valid slug (use lower case letters, digits and dashes, "
                         f"e.g. '{slugify(slug)}')")
        aliases = self._list(raw.get("aliases", ""))
        for alias in aliases:
            if alias != slugify(alias):
                self.problem(line, "aliases", f"'{alias}' is not a valid slug (e.g. '{slugify(alias)}')")
        slug = slug or (default_slug(town, state) if town and state else "")
        if town and state:
            self.claims.append(_Claim(line, f"{town}, {state}", slug, aliases))
        office = raw.get("office", "") or None
        if office and office not in self.offices:
            self.problem(line, "office", f"'{office}' is not an office id in site.toml{self._hint(office, self.offices)}")
        offered = self._list(raw.get("treatments", "")) or None
        for treatment in offered or ():
            if treatment not in self.treatments:
                self.problem(line, "treatments", f"'{treatment}' is not a treatment slug in site.toml"
                             f"{self._hint(treatment, self.treatments)}")
        intro = raw.get("intro", "")
        if len(intro) > MAX_INTRO:
            self.problem(line, "intro", f"is {len(intro)} characters long (keep it under {MAX_INTRO})")
        extras = []
        for name, column in self.own.items():
            value = raw.get(name, "")
            if len(value) > column.max_length:
                self.problem(line, name, f"is {len(value)} characters long (keep it under {column.max_length}, or "
                             "raise max_length in site.toml)")
            extras.append((name, value))
        if len(self.problems) > before or self.missing:
            return None
        location = Location(
            town=town, state=state, slug=slug, county=raw.get("county", ""),
            zip=zip_code, latitude=latitude, longitude=longitude, aliases=aliases, office=office,
            treatments=offered, intro=intro, notes=raw.get("notes", ""), line=line, extras=tuple(extras),
        )
        filled = self._fill(location, raw)
        if filled is None:
            return None
        if (office is None and not filled.has_coordinates and len(self.offices) > 1
                and not self.misspelt & {"latitude", "longitude"}):
            self.problem(line, "office", "is empty and the town has no coordinates, so its nearest office cannot be "
                         "found (add latitude and longitude, or name the office)")
            return None
        return filled

    def _fill(self, location: Location, raw: dict[str, str]) -> Location | None:
        """The town with what it lacks (county, ZIP, coordinates) from the ZIP code data; None, with the
        problem recorded, when the town must be found there (it has no coordinates) and cannot be."""
        lacking = [column for column in FILLABLE if not raw.get(column) and column not in self.misspelt]
        if self.gazetteer is None or not lacking:
            return location
        found = self.gazetteer.find(location.town, location.state, county=location.county, zip_code=location.zip,
                                    latitude=location.latitude, longitude=location.longitude)
        if not isinstance(found, Found):
            if not location.has_coordinates:
                self.problem(location.line, found.column, found.message)
                return None
            return location  # the town's own coordinates are enough; its county or ZIP stay empty
        values: dict[str, object] = {}
        if "county" in lacking and found.county:
            values["county"] = found.county
        if "zip" in lacking and found.zip:
            values["zip"] = found.zip
        if not location.has_coordinates and found.latitude is not None and found.longitude is not None:
            values["latitude"], values["longitude"] = found.latitude, found.longitude
        return dataclasses.replace(location, **values, timezone=found.timezone,  # type: ignore[arg-type]
                                   filled=tuple(column for column in FILLABLE if column in values),
                                   filled_from=found.source if values else "",
                                   fill_note=found.note if "county" in lacking else "")

    def _zip(self, line: int, value: str) -> str:
        if not value or re.fullmatch(r"\d{5}", value):
            return value
        if re.fullmatch(r"\d{5}-\d{4}", value):
            return value[:5]
        if re.fullmatch(r"\d{3,4}", value):
            self.problem(line, "zip", f"'{value}' has lost its leading zero (Excel drops them; format the column as "
                         f"Text and write '{value.zfill(5)}')")
        else:
            self.problem(line, "zip", f"'{value}' is not a 5-digit ZIP code (e.g. 60010)")
        return ""

    def _coordinate(self, line: int, column: str, value: str, limit: int) -> float | None:
        if not value:
            return None
        try:
            number = float(value.replace(",", "."))
        except ValueError:
            self.problem(line, column, f"'{value}' is not a number (use decimal degrees, e.g. 42.1539)")
            return None
        if not -limit <= number <= limit:
            self.problem(line, column, f"{value} is out of range (it must be between -{limit} and {limit}; "
                         "check that latitude and longitude are not swapped)")
            return None
        return number

    @staticmethod
    def _list(value: str) -> tuple[str, ...]:
        return tuple(item.strip() for item in value.split(";") if item.strip())

    @staticmethod
    def _hint(value: str, known: Collection[str]) -> str:
        close = difflib.get_close_matches(value, list(known), n=1, cutoff=0.6)
        if close:
            return f" (did you mean '{close[0]}'?)"
        return f" (known: {', '.join(sorted(known))})" if known else ""

    def check_slugs(self) -> None:
        """Each slug and alias names one town only: two rows with one URL would hide one of them."""
        owner: dict[str, _Claim] = {}
        for claim in self.claims:
            for slug, column in [(claim.slug, "slug"), *((alias, "aliases") for alias in claim.aliases)]:
                other = owner.get(slug)
                if other is None:
                    owner[slug] = claim
                    continue
                if other is claim:
                    self.problem(claim.line, column, f"'{slug}' is both the slug and an alias of this town "
                                 "(remove it from aliases)")
                    continue
                fix = (f"set a different slug on one of them, e.g. '{slug}-2', or remove the duplicate row"
                       if column == "slug" else "remove the alias, or give the other town a different slug")
                self.problem(claim.line, column,
                             f"'{slug}' is already used by {other.place} on line {other.line} ({fix})")
