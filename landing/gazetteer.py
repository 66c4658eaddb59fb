"""Towns looked up in a real, offline dataset: the county, ZIP code, coordinates and time zone of a town a
marketer gave by name and state only.

The data is the `zipcodes` package (MIT licence; its records come from USPS ZIP code lists, county and
time zone data of unitedstateszipcodes.org, and GeoNames coordinates under CC BY 4.0). It is US ZIP codes,
not town boundaries, so what it says of a town is what it says of the town's ZIP codes: the coordinates
are those of the ZIP code area (the mean of the town's ZIP codes when it has several), and the county is
the one each ZIP code is filed under. `landing check` lists every value filled, so a marketer can check
them; a value given in locations.csv always wins and is never replaced.

Each state's towns are indexed on first use (the package decompresses its data on its first query, about
half a second), then kept for the life of the process: a live reload does not pay again.
"""

from __future__ import annotations

import functools
import math
import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from landing.geo import miles_between

# Abbreviations marketers write that the USPS names spell out ("St. Charles" is filed as "Saint Charles").
_SPELLED = {"st": "saint", "ste": "sainte", "mt": "mount", "ft": "fort", "pt": "point"}
_WORD = re.compile(r"[a-z0-9]+")
_KINDS = {"STANDARD": 0, "PO BOX": 1, "UNIQUE": 2}  # which ZIP codes speak for a town first
# ZIP code areas of one name closer than this are one town that crosses a county line; farther apart, two
# towns of the same name.
SAME_TOWN_MILES = 25.0


def town_key(name: str) -> str:
    """A town's name as the index compares it: no case, accents, punctuation or spaces, abbreviations
    spelled out ('St. Charles', 'Saint Charles' and 'ST CHARLES' are one town; 'LaGrange' is 'La Grange')."""
    return "".join(_SPELLED.get(word, word) for word in _words(name))


def _words(name: str) -> list[str]:
    # The index is built from tens of thousands of names at every start: plain Unicode decomposition is ten
    # times faster than slugify's transliteration, and place names in the US data are Latin letters.
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()
    return _WORD.findall(plain)


@functools.lru_cache(maxsize=8192)  # a few thousand counties, asked about for every town
def county_key(name: str) -> str:
    """'Lake County', 'lake' and 'Lake Co.' name one county; so do 'Anchorage Municipality' and 'Municipality of
    Anchorage', as the ZIP code data writes the same one both ways."""
    words = _words(name)
    for prefix in (["city", "and", "borough", "of"], ["municipality", "of"], ["city", "of"]):
        if words[:len(prefix)] == prefix:
            words = words[len(prefix):]
    while words and words[-1] in ("county", "co", "parish", "borough", "census", "area", "municipality"):
        words.pop()
    return "".join(words)


@dataclass(frozen=True, slots=True)
class ZipArea:
    """One ZIP code of the dataset."""

    zip: str
    city: str
    county: str
    latitude: float | None
    longitude: float | None
    timezone: str
    kind: str  # STANDARD | PO BOX | UNIQUE


@dataclass(frozen=True, slots=True)
class Found:
    """What the dataset says of a town: each value may be empty when it cannot say it for sure."""

    county: str
    zip: str
    latitude: float | None
    longitude: float | None
    timezone: str
    source: str  # in words, for `landing check`: "ZIP code 60010" or "the ZIP codes of Saint Charles, IL"
    note: str = ""  # what it could not fill, and how to give it


@dataclass(frozen=True, slots=True)
class NotFound:
    """Why a town cannot be looked up, worded for the marketer with the fix."""

    column: str  # the column to fix
    message: str


@dataclass
class _State:
    by_town: dict[str, list[ZipArea]] = field(default_factory=dict)  # primary city names
    by_zip: dict[str, ZipArea] = field(default_factory=dict)
    # Other names the USPS accepts for a ZIP code ('Kildeer' for Barrington's): (names, area) as read, indexed
    # only when a town is not found by its primary name, which is rare.
    other_names: list[tuple[tuple[str, ...], ZipArea]] = field(default_factory=list)
    _by_other_name: dict[str, list[ZipArea]] | None = None

    def by_other_name(self, key: str) -> list[ZipArea]:
        if self._by_other_name is None:
            self._by_other_name = {}
            for names, area in self.other_names:
                for other in {town_key(name) for name in names} - {town_key(area.city)}:
                    self._by_other_name.setdefault(other, []).append(area)
        return self._by_other_name.get(key, [])


class Gazetteer:
    """The dataset, indexed by state and town name on first use."""

    def __init__(self) -> None:
        self._states: dict[str, _State] = {}
        self._lock = threading.Lock()  # a live reload looks towns up in a thread of its own

    @staticmethod
    def version() -> str:
        import zipcodes

        return str(zipcodes.__version__)

    def _state(self, state: str) -> _State:
        with self._lock:
            if state not in self._states:
                self._states[state] = _index(state)
            return self._states[state]

    def find(self, town: str, state: str, *, county: str = "", zip_code: str = "", latitude: float | None = None,
             longitude: float | None = None) -> Found | NotFound:
        """What the dataset says of ``town`` in ``state``; ``county``, ``zip_code`` and the coordinates, when
        given, choose among several ZIP codes of the town (a given ZIP code decides alone)."""
        index = self._state(state)
        place = f"{town}, {state}"
        if zip_code and zip_code in index.by_zip:
            area = index.by_zip[zip_code]
            return _found([area], f"ZIP code {zip_code}")
        key = town_key(town)
        areas, source = index.by_town.get(key, []), f"the ZIP codes of {place}"
        if not areas:
            with self._lock:
                areas = index.by_other_name(key)
            names = sorted({area.city for area in areas})
            source = f"the ZIP codes that serve {place} (filed under {', '.join(names)})"
        if county:
            wanted = county_key(county)
            areas = [area for area in areas if county_key(area.county) == wanted]
        if not areas:
            where = f" in {county}" if county else ""
            return NotFound("town", f"{place}{where} is not in the ZIP code data: check the spelling (as the USPS writes "
                                    "it, e.g. 'Saint Charles'), or give the town's zip, or its latitude and longitude")
        best = min(_KINDS.get(area.kind, 3) for area in areas)
        areas = [area for area in areas if _KINDS.get(area.kind, 3) == best]
        if latitude is not None and longitude is not None and len(areas) > 1:
            # The given position picks the town's ZIP code area it lies in (nearest), hence its county.
            nearest = min(areas, key=lambda area: _miles(area, latitude, longitude))
            areas = [area for area in areas if county_key(area.county) == county_key(nearest.county)]
        counties = sorted({county_key(area.county): area.county for area in areas if area.county}.values())
        if len(counties) > 1:
            if _spread(areas) > SAME_TOWN_MILES:  # two towns of one name, far apart: which one is meant?
                return NotFound("county", f"{place} names places in {len(counties)} counties ({', '.join(counties)}) "
                                          "far apart: give its county, or its zip")
            # One town across a county line: its position is clear, its county is the marketer's to say.
            return replace(_found(areas, source), county="",
                           note=f"its ZIP codes are in {' and '.join(counties)}; give its county")
        return _found(areas, source)


def _found(areas: list[ZipArea], source: str) -> Found:
    located = [area for area in areas if area.latitude is not None and area.longitude is not None]
    latitude = round(sum(area.latitude for area in located) / len(located), 4) if located else None  # type: ignore[misc]
    longitude = round(sum(area.longitude for area in located) / len(located), 4) if located else None  # type: ignore[misc]
    counties = {county_key(area.county): area.county for area in areas if area.county}
    return Found(county=next(iter(counties.values())) if len(counties) == 1 else "",
                 zip=areas[0].zip if len(areas) == 1 else "",  # a town with several ZIP codes has no one ZIP
                 latitude=latitude, longitude=longitude, timezone=areas[0].timezone, source=source)


def _spread(areas: list[ZipArea]) -> float:
    """The greatest distance between two of the ZIP code areas, in miles."""
    located = [area for area in areas if area.latitude is not None and area.longitude is not None]
    return max((_miles(a, b.latitude, b.longitude) for a in located for b in located), default=0.0)  # type: ignore[arg-type]


def _miles(area: ZipArea, latitude: float, longitude: float) -> float:
    if area.latitude is None or area.longitude is None:
        return math.inf
    return miles_between(latitude, longitude, area.latitude, area.longitude)


def _number(text: object) -> float | None:
    try:
        value = float(str(text))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


_NAME = re.compile(r"\s+")


def _index(state: str) -> _State:
    import zipcodes

    index = _State()
    for record in zipcodes.filter_by_state(state):  # type: ignore[no-untyped-call]
        if not record.get("active", True):
            continue
        area = ZipArea(zip=str(record["zip_code"]), city=_NAME.sub(" ", str(record["city"])).strip(),
                       county=str(record.get("county") or ""), latitude=_number(record.get("lat")),
                       longitude=_number(record.get("long")), timezone=str(record.get("timezone") or ""),
                       kind=str(record.get("zip_code_type") or ""))
        index.by_zip[area.zip] = area
        index.by_town.setdefault(town_key(area.city), []).append(area)
        others: Iterable[str] = record.get("acceptable_cities") or ()
        if others:
            index.other_names.append((tuple(others), area))
    return index


GAZETTEER = Gazetteer()
