"""Site + locations -> one immutable Catalog: every page, hub and redirect the service answers.

A Catalog is a snapshot. Reloading builds a new one beside the old, and only a valid one replaces it,
so a marketer's broken edit never takes pages down.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from landing.errors import ConfigError
from landing.faqs import LocalFaqs, load_faqs
from landing.gazetteer import GAZETTEER
from landing.geo import GridIndex, bearing, compass, miles_between, nearest_first, radians_of
from landing.locations import Location, load_locations
from landing.site import Faq, Office, Site, Treatment, load_site

NEARBY_TOWNS = 6
HUB_PART_SIZE = 500  # towns on one page of a treatment's hub
T = TypeVar("T")
# First path segments the service uses itself; a treatment slug must not shadow them.
RESERVED = frozenset({"admin", "leads", "thank-you", "healthz", "static", "sitemaps", "sitemap.xml", "robots.txt"})


@dataclass(frozen=True, slots=True)
class SourceFiles:
    """Where a catalog is read from."""

    site: Path
    locations: Path
    templates: Path
    faqs: Path | None = None  # the local questions (optional, and the file may not exist)

    def inputs(self) -> list[Path]:
        """Every file whose change means a new catalog (the templates folder included, recursively)."""
        return [self.site, self.locations, *([self.faqs] if self.faqs else []), *files_in(self.templates)]

    def fingerprint(self) -> tuple[tuple[str, int, int], ...]:
        return stat_fingerprint(self.inputs())


def files_in(folder: Path) -> list[Path]:
    """Every file under ``folder``, recursively, sorted; none if it is not a folder."""
    return sorted(path for path in folder.rglob("*") if path.is_file()) if folder.is_dir() else []


def stat_fingerprint(paths: list[Path]) -> tuple[tuple[str, int, int], ...]:
    """Cheap change detector: names, sizes and modification times (a file gone meanwhile is left out)."""
    result = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            continue
        result.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(result)


@dataclass(frozen=True, slots=True)
class Reach:
    """An office as seen from a town: how far, and which way (straight-line distance and compass direction)."""

    office: Office
    miles: int  # rounded
    direction: str  # from the town to the office: "southeast"; "" when the office is in the town


@dataclass(frozen=True, slots=True)
class LandingPage:
    """One treatment in one town."""

    treatment: Treatment
    location: Location
    office: Office
    distance_miles: int | None  # from the town to its serving office, rounded; None without coordinates
    direction: str = ""  # from the town to its serving office ("southeast"); "" without coordinates
    # Another office nearly as close as the serving one (a patient may prefer it), if there is one.
    alternative: Reach | None = None
    others: tuple[Reach, ...] = ()  # the other offices within max_office_miles, nearest first (alternative included)
    far: bool = False  # the serving office is farther than site.toml's max_office_miles
    path: str = field(init=False)  # /{treatment}/{town}/: asked for dozens of times a render

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", f"/{self.treatment.slug}/{self.location.slug}/")

    @property
    def office_in_town(self) -> bool:
        return (self.office.town.casefold(), self.office.state) == (self.location.town.casefold(), self.location.state)

    @property
    def name(self) -> str:
        """'Intrathecal Pump Therapy Barrington, IL'."""
        return f"{self.treatment.name} {self.location.place}"


@dataclass(frozen=True)
class Hub:
    """A treatment's list of towns, by state name then town, in parts of at most HUB_PART_SIZE towns."""

    treatment: Treatment
    pages: tuple[LandingPage, ...]

    @property
    def path(self) -> str:
        return f"/{self.treatment.slug}/"

    @property
    def by_state(self) -> list[tuple[str, list[LandingPage]]]:
        return by_state(self.pages)

    @functools.cached_property
    def parts(self) -> tuple[HubPart, ...]:
        """The first part at the hub's own path, the others at /{treatment}/page/{n}/; one even with no towns."""
        starts = range(0, max(len(self.pages), 1), HUB_PART_SIZE)
        return tuple(HubPart(self, number, self.pages[start:start + HUB_PART_SIZE], start + 1)
                     for number, start in enumerate(starts, start=1))

    @functools.cached_property
    def _part_of(self) -> dict[str, HubPart]:
        return {page.path: part for part in self.parts for page in part.pages}

    def part_listing(self, page: LandingPage) -> HubPart:
        """The part that lists ``page``: where its 'all towns' link leads, among its state's towns."""
        return self._part_of.get(page.path, self.parts[0])

    def part_at(self, path: str) -> HubPart | None:
        """The part whose path this is, or None ('/{treatment}/page/1/' is not one: the first is the hub's own)."""
        if path == self.path:
            return self.parts[0]
        number = path.removeprefix(f"{self.path}page/").removesuffix("/")
        # ASCII digits only: isdigit() also takes '²' and '٢', which int() refuses or reads as 2.
        if (path.startswith(f"{self.path}page/") and path.endswith("/") and number.isascii() and number.isdecimal()
                and number[0] != "0"):
            if 2 <= int(number) <= len(self.parts):
                return self.parts[int(number) - 1]
        return None


@dataclass(frozen=True, eq=False)
class HubPart:
    """One page of a hub: a visitor scans it and a crawler reads it whole, however many towns there are."""

    hub: Hub
    number: int  # from 1
    pages: tuple[LandingPage, ...]
    first_position: int  # of its first town in the whole list, from 1

    @property
    def path(self) -> str:
        return self.hub.path if self.number == 1 else f"{self.hub.path}page/{self.number}/"

    @property
    def by_state(self) -> list[tuple[str, list[LandingPage]]]:
        return by_state(self.pages)

    @property
    def label(self) -> str:
        """Its first and last town, as a dictionary's guide words: 'Alabama: Abbeville – Arizona: Yuma'."""
        if not self.pages:
            return ""
        first, last = self.pages[0].location, self.pages[-1].location
        if first.state_name == last.state_name:
            return f"{first.state_name}: {first.town} – {last.town}"
        return f"{first.state_name}: {first.town} – {last.state_name}: {last.town}"


def by_state(pages: Sequence[LandingPage]) -> list[tuple[str, list[LandingPage]]]:
    groups: dict[str, list[LandingPage]] = defaultdict(list)
    for page in pages:
        groups[page.location.state_name].append(page)
    return sorted(groups.items())


@dataclass(frozen=True, eq=False)
class Catalog:
    site: Site
    locations: tuple[Location, ...]
    hubs: dict[str, Hub]  # by treatment slug
    pages: dict[str, LandingPage]  # by path
    redirects: dict[str, str]  # old path -> canonical path (aliases)
    lastmod: dt.date  # when the files the pages come from last changed
    local_faqs: LocalFaqs = field(default_factory=lambda: LocalFaqs(()))
    # Derived on first use and kept with the catalog they were derived from; init=False, so that
    # dataclasses.replace() starts a changed catalog with empty ones.
    _indexes: dict[str, GridIndex[LandingPage]] = field(default_factory=dict, init=False, repr=False)
    _memo: dict[Hashable, Any] = field(default_factory=dict, init=False, repr=False)

    @property
    def base_url(self) -> str:
        return self.site.practice.base_url

    def url(self, path: str) -> str:
        return self.base_url + path

    @property
    def logo_url(self) -> str:
        """The practice's logo as an absolute URL ('' without one): site.toml may give a path on this site."""
        logo = self.site.practice.logo
        return self.url(logo) if logo.startswith("/") else logo

    @property
    def uses_zip_data(self) -> bool:
        """Whether a town's county, ZIP code or coordinates come from the ZIP code data (its coordinates are
        GeoNames', under CC BY 4.0, which asks for credit)."""
        return self.memo("uses zip data", lambda: any(location.filled for location in self.locations))

    def hub_part(self, path: str) -> HubPart | None:
        """The hub page at ``path``: /{treatment}/ or /{treatment}/page/{n}/."""
        hub = self.hubs.get(path.split("/")[1]) if path.startswith("/") and path.count("/") in (2, 4) else None
        return hub.part_at(path) if hub is not None else None

    @property
    def hub_parts(self) -> list[HubPart]:
        return [part for hub in self.hubs.values() for part in hub.parts]

    @property
    def town_pages(self) -> dict[str, LandingPage]:
        """A page of each town that has one, by town slug: its serving office and distance are those of all
        the town's pages."""
        def first_of_each() -> dict[str, LandingPage]:
            first: dict[str, LandingPage] = {}
            for page in self.pages.values():
                first.setdefault(page.location.slug, page)
            return first
        return self.memo("town pages", first_of_each)

    def memo(self, key: Hashable, make: Callable[[], T]) -> T:
        """``make()`` the first time ``key`` is asked for, the same object after that: for what every page
        of this catalog shares (a structured-data node, say)."""
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]  # type: ignore[no-any-return]

    def nearby(self, page: LandingPage, k: int = NEARBY_TOWNS) -> list[tuple[float, LandingPage]]:
        """The k nearest other towns offering the same treatment within site.toml's nearby_miles, nearest
        first, with their distance: a town hundreds of miles off is nobody's neighbour.

        Worked out when first asked for, not at load (seconds for tens of thousands of towns), then kept:
        the quality gate, a page's render, `landing build` and `landing check` all ask for the same.
        """
        location = page.location
        if location.latitude is None or location.longitude is None:
            return []
        index = self.index(page.treatment.slug)
        radius = self.site.locations.nearby_miles

        def find() -> list[tuple[float, LandingPage]]:
            found = index.nearest(location.latitude, location.longitude, k,  # type: ignore[arg-type]
                                  exclude=lambda other: other is page)
            return [(miles, other) for miles, other in found if miles <= radius]

        return self.memo(("nearby", page.path, k), find)

    def county_pages(self, page: LandingPage) -> tuple[LandingPage, ...]:
        """The pages of the same treatment in the town's county (the town's own included), by town name."""
        location = page.location
        if not location.county:
            return ()
        def group() -> dict[tuple[str, str], tuple[LandingPage, ...]]:
            groups: dict[tuple[str, str], list[LandingPage]] = defaultdict(list)
            for other in self.hubs[page.treatment.slug].pages:
                if other.location.county:
                    groups[(other.location.county.casefold(), other.location.state)].append(other)
            return {key: tuple(sorted(pages, key=lambda p: p.location.town.casefold())) for key, pages in groups.items()}
        groups = self.memo(("counties", page.treatment.slug), group)
        return groups.get((location.county.casefold(), location.state), ())

    def county_neighbours(self, page: LandingPage) -> tuple[LandingPage, ...]:
        """The other pages of the same treatment in the town's county, nearest first (by town name if the town has
        no coordinates; those without coordinates last)."""
        county = self.county_pages(page)
        if not page.location.has_coordinates:
            return tuple(other for other in county if other is not page)
        points = self.memo(("county radians", id(county)), lambda: (county, [
            radians_of(other.location.latitude, other.location.longitude)  # type: ignore[arg-type]
            if other.location.has_coordinates else None for other in county]))[1]
        origin = radians_of(page.location.latitude, page.location.longitude)  # type: ignore[arg-type]
        return tuple(county[number] for number in nearest_first(origin, points) if county[number] is not page)

    def own_faqs(self, page: LandingPage) -> tuple[Faq, ...]:
        """The local questions ``page`` is the one to mark up: Google asks that a question shown on several pages
        (a county's, an office's, a town's on each of its treatments' pages) be marked up on one of them, so
        each is marked up on the first page, in the order of locations.csv and site.toml, that shows it."""
        def first_pages() -> dict[Faq, str]:
            first: dict[Faq, str] = {}
            if self.local_faqs.entries:
                for other in self.pages.values():
                    for faq in self.faqs_for(other):
                        first.setdefault(faq, other.path)
            return first
        first = self.memo("local faq pages", first_pages)
        return tuple(faq for faq in self.faqs_for(page) if first.get(faq) == page.path)

    def faqs_for(self, page: LandingPage) -> tuple[Faq, ...]:
        """The page's own questions (its town's, then its county's, then its office's), before the
        treatment's: from the local FAQ file."""
        return self.local_faqs.for_page(page.location, page.office.id, page.treatment.slug)

    def index(self, treatment: str) -> GridIndex[LandingPage]:
        if treatment not in self._indexes:
            pages = [page for page in self.hubs[treatment].pages if page.location.has_coordinates]
            self._indexes[treatment] = GridIndex(pages, lambda page: (page.location.latitude, page.location.longitude))  # type: ignore[arg-type, return-value]
        return self._indexes[treatment]


def load_catalog(files: SourceFiles, base_url: str | None = None) -> Catalog:
    """Read, validate and index everything; raise ConfigError listing every problem found."""
    problems: list[str] = []
    site: Site | None = None
    try:
        site = load_site(files.site, base_url)
    except ConfigError as exc:
        problems.extend(exc.problems)
    locations: tuple[Location, ...] = ()
    try:
        offices = site.offices_by_id if site else ()
        treatments = site.treatments_by_slug if site else ()
        columns = site.locations.columns if site else ()
        gazetteer = GAZETTEER if site is None or site.locations.autofill else None
        locations = load_locations(files.locations, offices, treatments, columns, gazetteer)
    except ConfigError as exc:
        # Without a valid site.toml, office and treatment names cannot be checked; report the rest anyway.
        problems.extend(p for p in exc.problems if site or ("column 'office'" not in p and "column 'treatments'" not in p))
    if site:
        for treatment in site.treatments:
            if treatment.slug in RESERVED:
                problems.append(f"{files.site.name}: treatment slug '{treatment.slug}' is reserved for the service "
                                "itself (choose another slug)")
            if not (files.templates / treatment.template).is_file():
                problems.append(f"{files.site.name}: treatment '{treatment.slug}': its content template "
                                f"'{treatment.template}' does not exist in {files.templates}/ (create it, or fix "
                                "'template')")
    local_faqs = LocalFaqs(())
    if site and not problems:
        try:
            local_faqs = load_faqs(files.faqs, site.offices_by_id, site.treatments_by_slug)
        except ConfigError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    assert site is not None
    changed = max((path.stat().st_mtime for path in files.inputs() if path.exists()), default=0)
    return build_catalog(site, locations, dt.datetime.fromtimestamp(changed, dt.timezone.utc).date(), local_faqs)


# Where a town's serving office is worked out once, before its pages (one per treatment) are made.
_NO_TREATMENT = Treatment(slug="", name="", description="", template="", faqs=())


def build_catalog(site: Site, locations: tuple[Location, ...], lastmod: dt.date,
                  local_faqs: LocalFaqs | None = None) -> Catalog:
    located_offices = [office for office in site.offices if office.latitude is not None]
    pages: dict[str, LandingPage] = {}
    by_treatment: dict[str, list[LandingPage]] = {treatment.slug: [] for treatment in site.treatments}
    for location in locations:
        served = _serving_office(site, located_offices, location)
        offered = location.treatments or tuple(by_treatment)
        for slug in offered:
            # Not dataclasses.replace: at tens of thousands of pages its field-by-field copy is a tenth of a load.
            page = LandingPage(site.treatments_by_slug[slug], location, served.office, served.distance_miles,
                               served.direction, served.alternative, served.others, served.far)
            pages[page.path] = page
            by_treatment[slug].append(page)
    hubs = {}
    for treatment in site.treatments:
        ordered = sorted(by_treatment[treatment.slug], key=lambda p: (p.location.state_name, p.location.town.casefold()))
        hubs[treatment.slug] = Hub(treatment, tuple(ordered))
    redirects = {}
    for page in pages.values():
        for alias in page.location.aliases:
            redirects[f"/{page.treatment.slug}/{alias}/"] = page.path
    return Catalog(site=site, locations=locations, hubs=hubs, pages=pages, redirects=redirects, lastmod=lastmod,
                   local_faqs=local_faqs or LocalFaqs(()))


def _serving_office(site: Site, located: list[Office], location: Location) -> LandingPage:
    """The CSV's office if named, else the nearest office with coordinates, else the only office; with its
    distance and direction, and another office nearly as close, if any (a page without its treatment yet)."""
    limit = site.quality.max_office_miles
    distances: list[tuple[float, Office]] = []
    if location.latitude is not None and location.longitude is not None:
        latitude, longitude = location.latitude, location.longitude
        distances = [(miles_between(latitude, longitude, office.latitude, office.longitude), office)  # type: ignore[arg-type]
                     for office in located]
        distances.sort(key=_first)  # stable: of two offices equally far, the first in site.toml
    if location.office:
        office = site.offices_by_id[location.office]
    elif distances:
        office = distances[0][1]
    else:
        office = site.offices[0]
    exact = next((found for found, other in distances if other is office), None)
    if exact is None:
        return LandingPage(_NO_TREATMENT, location, office, None)
    serving = _reach(location, office, exact)
    miles = serving.miles
    # Which way each office is, only for those the page names (a bearing costs more than a distance).
    others = tuple(_reach(location, other, found) for found, other in distances
                   if other is not office and round(found) <= limit)
    # Nearly as close: at most a quarter farther, or 3 miles, whichever is more (a patient 2 miles from one
    # office and 4 from another has a real choice; one 40 from one and 60 from the other less so).
    slack = max(3, miles // 4)
    alternative = next((reach for reach in others if reach.miles <= miles + slack), None)
    return LandingPage(_NO_TREATMENT, location, office, miles, serving.direction, alternative, others,
                       far=miles > limit)


def _first(pair: tuple[float, Office]) -> float:
    return pair[0]


def _reach(location: Location, office: Office, miles: float) -> Reach:
    """``office`` as seen from ``location``, ``miles`` away."""
    assert location.latitude is not None and location.longitude is not None
    assert office.latitude is not None and office.longitude is not None
    here = (office.town.casefold(), office.state) == (location.town.casefold(), location.state)
    direction = "" if here or miles < 1 else compass(bearing(location.latitude, location.longitude,
                                                              office.latitude, office.longitude))
    return Reach(office, round(miles), direction)
