"""Page quality measured again only where pages changed.

Measuring how much each landing page is like its closest sibling (landing.quality) means rendering every
page's <main>, shingling it and comparing: about a minute of CPU at 25,000 towns, spread over every core
(``Run.render``, landing.forked). Between two loads of a site
most pages are the same, so a ``QualityCache`` keeps, for every page, a fingerprint of what its text is
made from (``text_keys``), its shingles (as their difference from its treatment's boilerplate) and its
closest sibling. A new measure renders and shingles only the pages whose fingerprint changed, and compares
only them with every page of their treatment, and the pages whose closest sibling changed again with every
page; every other page keeps its sibling unless a changed page is now closer. The cache lives in memory
for the life of the process (every reload of the service) and in a file (LANDING_QUALITY_CACHE), so that
a restart, `landing check` and `landing build` start from it.

What a page's text is made from (the fingerprint): the site's settings (site.toml, as loaded), every
template file (the site's and the package's), the code that renders and measures, and of the page itself
its town's row (all but its line number), its offices, its hub part, its nearby towns and its county's
towns (names, paths and coordinates) and its local questions. A site template that reads more of the
catalog than that (``catalog.locations``, ``catalog.pages``, ``catalog.hubs``) makes every page depend on
the whole of locations.csv, so any edit of it measures everything again.

Exactness. A page the cache measured in full (with every page when it changed, or when its sibling did)
has its exact closest sibling. A page compared only with the changed pages keeps the sibling the earlier
measure found, which is exact up to ``quality.COMPARE_ALL`` pages per treatment (so the result is the same
as measuring everything: tests compare them), and on larger sites the same lower bound as the full measure
(``quality._Search``): a figure is never overstated, so the gate never holds back a page the exact measure
would let through.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import glob
import hashlib
import logging
import math
import operator
import os
import pickle
import signal
import sys
import threading
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from itertools import chain, repeat
from pathlib import Path
from typing import TYPE_CHECKING

from landing import forked, quality
from landing.catalog import Catalog, LandingPage, Reach, files_in
from landing.geo import MILES_PER_DEGREE
from landing.locations import Location

if TYPE_CHECKING:
    from landing.pages import Renderer

log = logging.getLogger("landing.quality")

FORMAT = 3  # of the cache file; a file of another format (or Python version) is ignored and rewritten
# Past this share of a treatment's pages changed, measuring all of them again is faster than comparing
# each changed page with every page.
REMEASURE_SHARE = 0.05
SAVE_AFTER = 200  # pages measured that make the cache file worth writing again
_LOCATION_FIELDS = operator.attrgetter(*(spec.name for spec in fields(Location) if spec.name != "line"))
_CODE = Path(__file__).resolve().parent
# What a site template may read of the catalog without making its pages depend on every town.
_WHOLE_CATALOG = ("catalog.locations", "catalog.pages", "catalog.hubs", "catalog.town_pages", "catalog.redirects")

Key = bytes  # a page's fingerprint


# -- what a page's text is made from ----------------------------------------------------------------------


def shared_inputs(catalog: Catalog, templates: Path) -> bytes:
    """A digest of what every page's text depends on: settings, templates, code, Python."""
    from landing.pages import PACKAGE_TEMPLATES

    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{FORMAT}\0{sys.version}\0{catalog.site!r}\0{catalog.base_url}\0{catalog.uses_zip_data}\0".encode())
    whole_catalog = False
    for folder in (templates, PACKAGE_TEMPLATES, _CODE):
        for path in files_in(folder):
            if folder is _CODE and path.suffix not in (".py", ".html"):
                continue
            data = path.read_bytes()
            digest.update(f"{path.relative_to(folder)}\0{len(data)}\0".encode())
            digest.update(data)
            if folder is templates and any(name.encode() in data for name in _WHOLE_CATALOG):
                whole_catalog = True
    if whole_catalog:
        for location in catalog.locations:
            digest.update(repr(location).encode())
    return digest.digest()


def text_keys(catalog: Catalog, templates: Path, jobs: int | None = None) -> dict[str, Key]:
    """Every landing page's fingerprint, by path: it changes whenever the page's visible text can. Worked out on
    ``jobs`` cores (default: all), as it is half of a reload's measure after a small edit."""
    shared = shared_inputs(catalog, templates)
    pages = list(catalog.pages.values())

    def work(part: range) -> bytes:
        return b"".join(hashlib.blake2b(shared + repr(page_inputs(catalog, pages[number])).encode(),
                                        digest_size=KEY_SIZE).digest() for number in part)

    data = b"".join(forked.spread(work, len(pages), jobs) or [work(range(len(pages)))])
    starts = range(0, len(data), KEY_SIZE)
    return {page.path: data[start:start + KEY_SIZE] for page, start in zip(pages, starts, strict=True)}


KEY_SIZE = 16


def page_inputs(catalog: Catalog, page: LandingPage) -> tuple[object, ...]:
    """What of the catalog a page's text is made from. Its nearby towns are found among the towns within
    nearby_miles of it: rather than finding them (as slow as rendering), the towns of every grid cell that
    reaches that far are taken (``_areas``), and its county's towns as a whole (``_counties``)."""
    location = page.location
    hub = catalog.hubs[page.treatment.slug]
    area: tuple[bytes, ...] = ()
    if location.latitude is not None and location.longitude is not None:
        cells = catalog.memo(("quality areas", page.treatment.slug), lambda: _areas(catalog, page.treatment.slug))
        reach_lat = catalog.site.locations.nearby_miles / MILES_PER_DEGREE
        reach_lon = reach_lat / max(math.cos(math.radians(min(89.9, abs(location.latitude) + reach_lat))), 1e-6)
        rows = range(math.floor((location.latitude - reach_lat) / CELL), math.floor((location.latitude + reach_lat) / CELL) + 1)
        cols = range(math.floor((location.longitude - reach_lon) / CELL), math.floor((location.longitude + reach_lon) / CELL) + 1)
        area = tuple(cells.get((row, col), b"") for row in rows for col in cols) if len(rows) * len(cols) <= 400 \
            else (catalog.memo(("quality all towns", page.treatment.slug), lambda: _all_towns(catalog, page.treatment.slug)),)
    county = b""
    if location.county:
        counties = catalog.memo(("quality counties", page.treatment.slug), lambda: _counties(catalog, page.treatment.slug))
        county = counties.get((location.county.casefold(), location.state), b"")
    return (page.treatment.slug, _LOCATION_FIELDS(location), page.office.id,
            page.distance_miles, page.direction, _reach(page.alternative), tuple(map(_reach, page.others)), page.far,
            hub.part_listing(page).path, area, county, catalog.faqs_for(page))


CELL = 0.5  # degrees: grid cells of the towns near a page


def _reach(reach: Reach | None) -> tuple[object, ...] | None:
    return (reach.office.id, reach.miles, reach.direction) if reach is not None else None


def _town(page: LandingPage) -> tuple[object, ...]:
    there = page.location
    return page.path, there.town, there.state, there.county, there.latitude, there.longitude


def _towns(catalog: Catalog, treatment: str) -> dict[str, str]:
    """Each page of a treatment (by path) as what its neighbours' pages show of it."""
    return catalog.memo(("quality towns", treatment),
                        lambda: {page.path: repr(_town(page)) for page in catalog.hubs[treatment].pages})


def _digest(towns: Iterable[str]) -> bytes:
    # Sorted, so the order of locations.csv does not matter: each starts with the town's own path.
    return hashlib.blake2b("\n".join(sorted(towns)).encode(), digest_size=KEY_SIZE).digest()


def _areas(catalog: Catalog, treatment: str) -> dict[tuple[int, int], bytes]:
    """A digest of the towns of each grid cell, for a treatment."""
    towns = _towns(catalog, treatment)
    cells: dict[tuple[int, int], list[str]] = {}
    for page in catalog.hubs[treatment].pages:
        location = page.location
        if location.latitude is not None and location.longitude is not None:
            cell = (math.floor(location.latitude / CELL), math.floor(location.longitude / CELL))
            cells.setdefault(cell, []).append(towns[page.path])
    return {cell: _digest(towns) for cell, towns in cells.items()}


def _all_towns(catalog: Catalog, treatment: str) -> bytes:
    towns = _towns(catalog, treatment)
    return _digest(towns[page.path] for page in catalog.hubs[treatment].pages if page.location.has_coordinates)


def _counties(catalog: Catalog, treatment: str) -> dict[tuple[str, str], bytes]:
    """A digest of the towns of each county, for a treatment."""
    towns = _towns(catalog, treatment)
    counties: dict[tuple[str, str], list[str]] = {}
    for page in catalog.hubs[treatment].pages:
        if page.location.county:
            counties.setdefault((page.location.county.casefold(), page.location.state), []).append(towns[page.path])
    return {county: _digest(towns) for county, towns in counties.items()}


# -- the cache ------------------------------------------------------------------------------------


# The path of the one page with a shingle, or of each of several: a tuple, not a set, as there are a few hundred
# thousand of them. A tuple of strings is left out of the garbage collector's rounds (sets never are): each full
# collection of the service would visit them all, pausing every answer meanwhile.
Holders = str | tuple[str, ...]


class _Index:
    """Which pages have each shingle a page differs by, to compare one page with all others exactly and fast.

    As in ``quality._Search``: a shingle many pages have (an office's, a county's) is a bit, so two pages'
    shared frequent shingles are one popcount; a shingle few have is listed with its pages (most are on one
    page only, kept as its path alone: a set each would double the index's memory). Which shingles are
    frequent is settled when the index is made; a shingle first seen later is listed (either way the count
    is exact).
    """

    def __init__(self, own_bit: dict[int, int], lacks_bit: dict[int, int], own_lists: dict[int, Holders],
                 lacks_lists: dict[int, Holders], bits: dict[str, tuple[int, int, int, int]]) -> None:
        self.own_bit = own_bit
        self.lacks_bit = lacks_bit
        self.own_lists = own_lists
        self.lacks_lists = lacks_lists
        self.bits = bits  # path -> own bits, lacks bits, own size, lacks size

    @classmethod
    def of(cls, pages: dict[str, quality._Page], rare: int = quality.RARE_SHARE) -> _Index:
        counts: Counter[int] = Counter(chain.from_iterable(page.own for page in pages.values()))
        missing: Counter[int] = Counter(chain.from_iterable(page.lacks for page in pages.values()))
        index = cls({shingle: 1 << number for number, shingle in
                     enumerate(sorted(shingle for shingle, count in counts.items() if count > rare))},
                    {shingle: 1 << number for number, shingle in
                     enumerate(sorted(shingle for shingle, count in missing.items() if count > rare))}, {}, {}, {})
        for path, page in pages.items():
            index.file(path, page)
        return index

    @classmethod
    def of_search(cls, search: quality._Search, paths: list[str]) -> _Index:
        """The index of the pages ``search`` was made of (``paths``, in its order), from what it worked out."""
        lacking = quality.LACKS
        own_bit = {key: bit for key, bit in search.bit.items() if key < lacking}
        lacks_bit = {key - lacking: bit for key, bit in search.bit.items() if key >= lacking}
        own_lists: dict[int, Holders] = {}
        lacks_lists: dict[int, Holders] = {}
        for key, numbers in search.rare.items():
            holders = tuple(paths[number] for number in numbers)
            if key < lacking:
                own_lists[key] = holders
            else:
                lacks_lists[key - lacking] = holders
        shared = search.shared
        for path, page in zip(paths, search.pages, strict=True):
            own_lists.update(zip(page.own - shared, repeat(path)))  # on this page only
            for number in page.lacks:
                if lacking + number not in shared:
                    lacks_lists[number] = path
        bits = {path: (own_bits, lacks_bits, *size) for path, own_bits, lacks_bits, size in
                zip(paths, search.own_bits, search.lacks_bits, search.sizes, strict=True)}
        return cls(own_bit, lacks_bit, own_lists, lacks_lists, bits)

    def file(self, path: str, page: quality._Page) -> None:
        self.bits[path] = (_file(path, page.own, self.own_bit, self.own_lists),
                           _file(path, page.lacks, self.lacks_bit, self.lacks_lists), len(page.own), len(page.lacks))

    def unfile(self, path: str, page: quality._Page) -> None:
        _unfile(path, page.own, self.own_lists)
        _unfile(path, page.lacks, self.lacks_lists)
        del self.bits[path]

    def compare(self, path: str, page: quality._Page, base: int) -> dict[str, float]:
        shared_own = _holding(page.own, self.own_lists)
        shared_lacks = _holding(page.lacks, self.lacks_lists)
        own_bits, lacks_bits, own, lacks = self.bits[path]
        get_own, get_lacks = shared_own.get, shared_lacks.get
        found = {}
        # quality._jaccard, written out: this runs for every page of the treatment, for each page compared
        for other, (other_own_bits, other_lacks_bits, other_own, other_lacks) in self.bits.items():
            both_own = get_own(other, 0) + (own_bits & other_own_bits).bit_count()
            both_lack = get_lacks(other, 0) + (lacks_bits & other_lacks_bits).bit_count()
            union = base - both_lack + own + other_own - both_own
            found[other] = (base - (lacks + other_lacks - both_lack) + both_own) / union if union > 0 else 0.0
        del found[path]
        return found


def _file(path: str, shingles: frozenset[int], bits: dict[int, int], lists: dict[int, Holders]) -> int:
    """List ``path`` under each of ``shingles`` that has no bit; the bits of the others."""
    found = 0
    for shingle in shingles:
        if (bit := bits.get(shingle)) is not None:
            found |= bit
        elif (holders := lists.get(shingle)) is None:
            lists[shingle] = path
        elif isinstance(holders, str):
            if holders != path:
                lists[shingle] = (holders, path)
        elif path not in holders:
            lists[shingle] = (*holders, path)
    return found


def _unfile(path: str, shingles: frozenset[int], lists: dict[int, Holders]) -> None:
    for shingle in shingles:
        holders = lists.get(shingle)
        if holders == path:
            del lists[shingle]
        elif isinstance(holders, tuple) and path in holders:
            rest = tuple(holder for holder in holders if holder != path)
            if rest:
                lists[shingle] = rest
            else:
                del lists[shingle]


def _holding(shingles: frozenset[int], lists: dict[int, Holders]) -> Counter[str]:
    """How many of ``shingles`` each listed page has."""
    found: Counter[str] = Counter()
    for shingle in shingles:
        if (holders := lists.get(shingle)) is not None:
            if isinstance(holders, str):
                found[holders] += 1
            else:
                found.update(holders)
    return found


# A page's shingles as kept between measures: the number of its own ones, its own ones, then the boilerplate's it
# lacks, as 8-byte ints. Kept as two frozensets, 25,000 pages took some 200 MB, and every full collection of the
# garbage collector walked through their 2.5 million entries (a quarter of a second, in which the service
# answered nothing); bytes are a tenth of the size, and nothing for the collector to walk.
Packed = bytes


def pack(page: quality._Page) -> Packed:
    return array("q", (len(page.own), *page.own, *page.lacks)).tobytes()


def unpack(packed: Packed) -> quality._Page:
    values = array("q")
    values.frombytes(packed)
    own = values[0] + 1
    return quality._Page(frozenset(values[1:own]), frozenset(values[own:]))


@dataclass
class _Group:
    """One treatment's pages as last measured."""

    boilerplate: dict[quality.Shingle, int]  # shingle -> its number (what a page lacks is kept as numbers)
    pages: dict[str, Packed]  # by path
    keys: dict[str, Key]
    results: dict[str, float]  # by path: the similarity to the closest sibling
    twins: dict[str, str | None]  # by path: that sibling
    # Made when a page is first compared, then kept up (and in the cache file).
    index: _Index | None = None

    def remove(self, path: str) -> None:
        packed = self.pages.pop(path)
        if self.index is not None:
            self.index.unfile(path, unpack(packed))
        del self.keys[path], self.results[path], self.twins[path]

    def add(self, path: str, key: Key, page: quality._Page) -> None:
        self.pages[path] = pack(page)
        self.keys[path] = key
        self.results[path] = 0.0
        self.twins[path] = None
        if self.index is not None:
            self.index.file(path, page)

    def compare(self, path: str) -> dict[str, float]:
        """The page's similarity to every other page of the group, exactly."""
        if self.index is None:
            self.index = _Index.of({path: unpack(packed) for path, packed in self.pages.items()})
        return self.index.compare(path, unpack(self.pages[path]), len(self.boilerplate))

    def state(self) -> tuple[object, ...]:
        return self.boilerplate, self.pages, self.keys, self.results, self.twins, self.index


class QualityCache:
    """Each page's fingerprint, shingles and closest sibling, per site, in memory and (with ``file``) on disk."""

    def __init__(self, file: Path | None = None) -> None:
        self.file = file
        self.groups: dict[str, _Group] = {}
        self.lock = threading.Lock()  # one measure at a time (a reload thread and a check, say)
        self.read = False
        self.measured = 0  # pages rendered and shingled by the last measure (the rest came from the cache)
        self.on_disk = False  # the file holds a measure of this site (perhaps a few edits behind)
        self.unsaved = 0  # pages measured since the file was written
        self.seconds = 0.0  # CPU seconds the last measure took, rendering not included (benchmarks/reload.py)

    def measure(self, renderer: Renderer) -> dict[str, quality.Measured]:
        """Every landing page's closest sibling; a page's <main> is rendered only when its fingerprint is not in
        the cache, and many pages are rendered on every core (``Run.render``)."""
        with self.run(renderer) as run:
            run.render(renderer)
        return run.results

    @contextlib.contextmanager
    def run(self, renderer: Renderer) -> Iterator[Run]:
        """One measure, for a caller that renders the pages itself (landing check renders every page anyway):
        ``run.add(page, html)`` each page ``run.wants``, in catalog order; ``run.results`` once the block ends."""
        with self.lock, _no_collection():
            started = time.process_time()
            if not self.read:
                self.read = True
                self._load()
            run = Run(self, renderer.catalog, functools.partial(text_keys, renderer.catalog, renderer.templates))
            before = time.process_time()
            yield run
            resumed = time.process_time()
            run.finish()
            run.release()
            if run.added >= BACKGROUND_SAVE:
                _give_back_memory()
            self.measured = run.added
            # Written when much was measured: a few pages measured since the file was written are measured
            # again at a restart (in less time than writing the file at every small edit would take).
            self.unsaved += run.added
            if self.unsaved > SAVE_AFTER or (self.unsaved and not self.on_disk):
                self._save()
            # CPU time of the measure itself: this, the shingling in run.add, not the caller's rendering
            self.seconds = before - started + time.process_time() - resumed + run.seconds

    def _load(self) -> None:
        if self.file is None:
            return
        _wait_for_writer(self.file)
        try:
            with open(self.file, "rb") as stored:
                data = _CacheUnpickler(stored).load()
        except FileNotFoundError:
            return
        except Exception as exc:  # a damaged or foreign file: measure afresh and replace it
            log.warning("quality cache %s could not be read (%s); measuring every page again", self.file, exc)
            return
        if not isinstance(data, dict) or data.get("format") != (FORMAT, sys.version):
            return
        self.groups = {slug: _Group(*state) for slug, state in data["groups"].items()}
        self.on_disk = True

    def _save(self) -> None:
        if self.file is None:
            return
        _wait_for_writer(self.file)  # one writer at a time: the file never goes back to an earlier measure
        state = {"format": (FORMAT, sys.version), "groups": {slug: group.state() for slug, group in self.groups.items()}}
        pages = sum(len(group.pages) for group in self.groups.values())
        file = self.file
        # Pickling 25,000 pages takes most of a second and holds the GIL all along: in the service, the event loop
        # would answer nothing meanwhile. A forked child writes a copy of the state as it is now instead.
        child = forked.detach(lambda: _write_to_end(file, state).encode()) if pages >= BACKGROUND_SAVE else None
        if child is None:
            failure = _write(file, state)
            if failure:
                log.warning("quality cache %s could not be written (%s)", file, failure)
            else:
                self.on_disk, self.unsaved = True, 0
            return
        saved, self.on_disk, self.unsaved = self.unsaved, True, 0

        def reap() -> None:
            answer = child.result()
            if answer != b"":
                log.warning("quality cache %s could not be written (%s)", file,
                            answer.decode() if answer else "its writing process failed")
                self.on_disk = False  # written again at the next measure
                self.unsaved += saved

        # Not a daemon: an exiting `landing check` waits for the file, as it did when it wrote the file itself.
        writer = threading.Thread(target=reap, name="quality cache writer")
        writer.start()
        with _WRITERS_LOCK:
            _WRITERS[file.resolve()] = (writer, child.pid)


BACKGROUND_SAVE = 2_000  # pages from which the cache file is written by a forked child (smaller ones: at once)
# cache file -> the thread waiting for the child writing it, and the child's pid
_WRITERS: dict[Path, tuple[threading.Thread, int]] = {}
_WRITERS_LOCK = threading.Lock()


def _wait_for_writer(file: Path) -> None:
    """Until the file a child of this process is writing is in place (at once when none is)."""
    with _WRITERS_LOCK:
        writer = _WRITERS.pop(file.resolve(), None)
    if writer is not None:
        writer[0].join()


def _write_to_end(file: Path, state: Mapping[str, object]) -> str:
    """``_write``, in the forked writer: it finishes what it started (a second or two) when the service is stopped,
    as systemd stops every process of it at once; its parent waits for it before exiting."""
    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(number, signal.SIG_IGN)
    return _write(file, state)


def _write(file: Path, state: Mapping[str, object]) -> str:
    """The cache file written whole or not at all; what went wrong, or "" when nothing did. It may run in a forked
    child (QualityCache._save), so it never logs."""
    temporary = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    _remove_stale(file)
    try:
        with open(temporary, "wb") as stored:
            pickle.dump(state, stored, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, file)
        return ""
    except OSError as exc:  # a read-only folder: the cache still works in memory
        with contextlib.suppress(OSError):  # no temporary file, or no folder for one
            temporary.unlink()
        return str(exc)


def _give_back_memory() -> None:
    """Hand the memory a large measure freed back to the system. The C library keeps freed blocks for later use, so
    a service that measured 25,000 pages held about 610 MB for good instead of about 370 (glibc's malloc_trim: 15
    ms; nothing where the C library has no such call)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


def _remove_stale(file: Path) -> None:
    """Temporary files of the cache file left by a writer that was killed on its way (its process is gone)."""
    with contextlib.suppress(OSError):  # no folder, or one that cannot be read: nothing to remove
        for stale in file.parent.glob(f".{glob.escape(file.name)}.*.tmp"):
            pid = stale.name.removeprefix(f".{file.name}.").removesuffix(".tmp")
            if pid.isdigit() and not _running(int(pid)):
                with contextlib.suppress(OSError):
                    stale.unlink()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


@contextlib.contextmanager
def _no_collection() -> Iterator[None]:
    """No cyclic garbage collection meanwhile: a measure makes millions of sets and lists and no cycles, and each
    full collection it would trigger visits them all (a third of a cold measure's time at 25,000 pages). In the
    service this pauses collection for the process during a reload, which frees its old snapshot at the end."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _CacheUnpickler(pickle.Unpickler):
    """Reads only what the cache writes: containers, numbers, strings, bytes and the two classes of its records.
    Whoever could write the file could otherwise make the service run any code as it loads it (pickle's
    "Restricting Globals"); a file naming anything else is refused like a damaged one."""

    ALLOWED = {("landing.quality_cache", "_Index")}

    def find_class(self, module: str, name: str) -> type:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"the cache file names {module}.{name}, which a cache never holds")
        return super().find_class(module, name)  # type: ignore[no-any-return]


class Run:
    """One measure: which pages need their text, then the results."""

    def __init__(self, cache: QualityCache, catalog: Catalog, keys: Callable[[int | None], dict[str, Key]]) -> None:
        self.cache = cache
        self.catalog = catalog
        self._keys: dict[str, Key] | None = None
        self._make_keys = keys
        self.added = 0
        self.seconds = 0.0  # CPU time spent in add()
        self.results: dict[str, quality.Measured] = {}
        self.shingler = quality.Shingler()
        self.fresh: dict[str, quality.Siblings] = {}  # groups measured in full, as SimilarityMeter does
        self.fresh_paths: dict[str, list[str]] = {}
        self.changed: dict[str, list[str]] = {}  # groups measured incrementally: their changed pages
        self.removed: dict[str, set[str]] = {}
        for slug, hub in catalog.hubs.items():
            group = cache.groups.get(slug)
            paths = [page.path for page in hub.pages]
            if group is None:
                self.fresh[slug], self.fresh_paths[slug] = quality.Siblings(), []
                continue
            gone = {path for path in group.pages if self.keys.get(path) != group.keys[path]}
            changed = [path for path in paths if group.keys.get(path) != self.keys[path]]
            if len(changed) + len(gone) > REMEASURE_SHARE * max(len(paths), 1) and len(changed) > 1:
                self.fresh[slug], self.fresh_paths[slug] = quality.Siblings(), []
                continue
            self.changed[slug], self.removed[slug] = changed, gone
        self.wanted = {path for paths in self.changed.values() for path in paths}
        self.same: set[str] = set()  # wanted pages whose text turned out the same
        self.fresh_slugs = set(self.fresh)

    @property
    def keys(self) -> dict[str, Key]:
        """Every page's fingerprint. Worked out when first needed: on a first measure, only once the pages are
        rendered, so a measure in worker processes works it out here meanwhile."""
        if self._keys is None:
            self._keys = self._make_keys(None)
        return self._keys

    def _keys_here(self) -> None:
        """The fingerprints worked out in this process alone, while the cores render in worker processes."""
        if self._keys is None:
            self._keys = self._make_keys(1)

    def wants(self, page: LandingPage) -> bool:
        return page.treatment.slug in self.fresh_slugs or page.path in self.wanted

    def add(self, page: LandingPage, html: str) -> None:
        started = time.process_time()
        try:
            self._add(page, html)
        finally:
            self.seconds += time.process_time() - started

    def render(self, renderer: Renderer) -> None:
        """Render and ``add`` every page this run wants. Past a few hundred, they are rendered and shingled in
        forked processes (landing.forked), one slice of the pages each, and each page comes back as its
        difference from its treatment's boilerplate: a fresh treatment's first pages are added here first, to
        settle that boilerplate (and to work out, before the fork, what every page of the catalog shares)."""
        rest: list[LandingPage] = []
        for page in self.catalog.pages.values():
            if self.wants(page):
                if self._boilerplate(page.treatment.slug) is None:
                    self.add(page, renderer.render_main(page))
                else:
                    rest.append(page)
        boilerplates = {slug: self._boilerplate(slug) for slug in {page.treatment.slug for page in rest}}
        shingler = self.shingler

        def work(part: range) -> bytes:
            sizes, values = array("q"), array("q")
            for page in map(rest.__getitem__, part):
                shingles = shingler(renderer.render_main(page), own_names(page), (page.treatment.name,))
                found = quality.difference(shingles, boilerplates[page.treatment.slug] or {})
                sizes.extend((len(found.own), len(found.lacks)))
                values.extend(found.own)
                values.extend(found.lacks)
            return len(sizes).to_bytes(8, "little") + sizes.tobytes() + values.tobytes()

        answers = forked.spread(work, len(rest), meanwhile=self._keys_here)
        if answers is None:  # a small site, one core, or a worker that failed: all of it here
            for page in rest:
                self.add(page, renderer.render_main(page))
            return
        started = time.process_time()
        for page, found in zip(rest, _differences(answers), strict=True):
            self._file(page, found)
        self.seconds += time.process_time() - started

    def _boilerplate(self, slug: str) -> dict[quality.Shingle, int] | None:
        """What a page of the treatment is compared as its difference from; None while not settled."""
        return self.fresh[slug].boilerplate if slug in self.fresh else self.cache.groups[slug].boilerplate

    def _add(self, page: LandingPage, html: str) -> None:
        shingles = self.shingler(html, own_names(page), (page.treatment.name,))
        slug = page.treatment.slug
        boilerplate = self._boilerplate(slug)
        if boilerplate is None:  # one of a fresh treatment's first pages
            self.added += 1
            self.fresh[slug].add(shingles)
            self.fresh_paths[slug].append(page.path)
            return
        self._file(page, quality.difference(shingles, boilerplate))

    def _file(self, page: LandingPage, difference: quality._Page) -> None:
        self.added += 1
        slug = page.treatment.slug
        if slug in self.fresh:
            self.fresh[slug].add_difference(difference)
            self.fresh_paths[slug].append(page.path)
            return
        group = self.cache.groups[slug]
        if (old := group.pages.get(page.path)) is not None:
            if unpack(old) == difference:  # what the page's text is made from changed, but not its text
                group.keys[page.path] = self.keys[page.path]
                self.same.add(page.path)
                return
            group.remove(page.path)
        group.add(page.path, self.keys[page.path], difference)

    def finish(self) -> None:
        groups = self.cache.groups
        for slug, siblings in self.fresh.items():
            paths = self.fresh_paths[slug]
            # The index of the pages, for the next edit (and kept in the file), is made from what the search worked
            # out: here, while the worker processes find the twins.
            made: list[_Index] = []

            def index(siblings: quality.Siblings = siblings, paths: list[str] = paths,
                      made: list[_Index] = made) -> None:
                assert siblings.search is not None
                made.append(_Index.of_search(siblings.search, paths))

            twins = siblings.nearest(functools.partial(_twins_in_workers, meanwhile=index))
            if not made:  # found in this process
                index()
            assert siblings.boilerplate is not None
            packed = {path: pack(page) for path, page in zip(paths, siblings._pages)}
            groups[slug] = _Group(siblings.boilerplate, packed,
                                  {path: self.keys[path] for path in paths},
                                  {path: twin.similarity for path, twin in zip(paths, twins)},
                                  {path: paths[twin.index] if twin.index is not None else None
                                   for path, twin in zip(paths, twins)}, made[0])
        for slug, changed in self.changed.items():
            group = groups[slug]  # a page wanted but not given (a template error in landing check) is left as it was
            self._update(group, [path for path in changed if group.keys.get(path) == self.keys[path] and path not in self.same],
                         self.removed[slug] - self.same)
        for slug in [slug for slug in groups if slug not in self.catalog.hubs]:
            del groups[slug]
        found = {}
        for slug, hub in self.catalog.hubs.items():
            group = groups[slug]
            for page in hub.pages:
                found[page.path] = quality.Measured(page.path, group.twins.get(page.path), group.results.get(page.path, 0.0))
        self.results = {path: found[path] for path in self.catalog.pages}  # in catalog order, as SimilarityMeter gives

    def release(self) -> None:
        """Let go of the measure's working data (25,000 pages' shingle sets, the twin search's tables, the shingler's
        memory) a piece at a time, before the Run goes (``quality.drain``)."""
        for siblings in self.fresh.values():
            siblings.release()
        self.shingler.release()

    def _update(self, group: _Group, changed: list[str], gone: set[str]) -> None:
        """Compare the changed pages with every page, and every page whose sibling changed or went."""
        for path in gone:
            if path in group.pages and path not in self.keys:
                group.remove(path)  # a page that is no more (a changed one was replaced in add())
        stale = gone | set(changed)
        again = [path for path, twin in group.twins.items() if twin in stale and path not in stale]
        for path in changed:
            scores = group.compare(path)
            self._best(group, path, scores)
            for other, value in scores.items():  # a changed page may now be another's closest sibling
                if value > group.results[other] and other not in stale:
                    group.results[other], group.twins[other] = value, path
        for path in again:
            self._best(group, path, group.compare(path))

    @staticmethod
    def _best(group: _Group, path: str, scores: dict[str, float]) -> None:
        best, twin = -1.0, None
        for other, value in scores.items():
            if value > best:
                best, twin = value, other
        group.results[path], group.twins[path] = max(best, 0.0), twin


def _differences(answers: list[bytes]) -> Iterator[quality._Page]:
    """The pages ``Run.render``'s workers sent, in order."""
    for data in answers:
        count = int.from_bytes(data[:8], "little")
        sizes, values = array("q"), array("q")
        sizes.frombytes(data[8:8 + 8 * count])
        values.frombytes(data[8 + 8 * count:])
        start = 0
        for number in range(0, count, 2):
            middle = start + sizes[number]
            end = middle + sizes[number + 1]
            yield quality._Page(frozenset(values[start:middle]), frozenset(values[middle:end]))
            start = end


def _twins_in_workers(find: Callable[[int], quality.Twin], count: int,
                      meanwhile: Callable[[], object] | None = None) -> list[quality.Twin]:
    """``quality.in_order``, spread over forked processes: finding twins is most of a fresh measure's own work.
    ``meanwhile()`` runs here while they work (not at all when the twins are found in this process)."""
    def work(part: range) -> bytes:
        indexes, values = array("q"), array("d")
        for twin in map(find, part):
            indexes.append(-1 if twin.index is None else twin.index)
            values.append(twin.similarity)
        return indexes.tobytes() + values.tobytes()

    answers = forked.spread(work, count, meanwhile=meanwhile)
    if answers is None:
        return quality.in_order(find, count)
    twins = []
    for data in answers:
        indexes, values = array("q"), array("d")
        indexes.frombytes(data[:len(data) // 2])
        values.frombytes(data[len(data) // 2:])
        twins += [quality.Twin(None if index < 0 else index, value) for index, value in zip(indexes, values)]
    return twins


def own_names(page: LandingPage) -> tuple[str, ...]:
    location = page.location
    return quality.own_names(location.town, location.state, location.state_name, page.treatment.name)


_CACHES: dict[tuple[Path | None, Path], QualityCache] = {}
_CACHES_LOCK = threading.Lock()


def cache_for(file: Path | None, site: Path) -> QualityCache:
    """The process's cache of one site (by its site.toml) and file."""
    key = (file.resolve() if file else None, site.resolve())
    with _CACHES_LOCK:
        if key not in _CACHES:
            _CACHES[key] = QualityCache(file)
        return _CACHES[key]
