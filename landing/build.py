"""`landing build OUT_DIR`: the whole site as static files, for any static host or CDN.

The pages are the service's own renders (same templates, same markup), with two differences: the lead
form posts to the running service's absolute /leads (LANDING_LEAD_URL), and the form's per-visitor
fields are replaced by one token signed at build time (see FormTokens.issue_build).

Rebuilding is cheap for the host: a file whose bytes did not change is not written again (its mtime and
ETag stay), every file is written to a temporary name and renamed over the old one (a visitor gets the
old page or the new one, never half of one), and files a previous build made that the site no longer
has are removed. What was built is recorded in OUT_DIR/.landing-build.json, which `landing check
--diff OUT_DIR` compares a changed locations.csv against.
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
import hashlib
import json
import multiprocessing
import os
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from landing import forked
from landing.catalog import Catalog, LandingPage, files_in
from landing.errors import LandingError
from landing.leads.form import hidden_fields
from landing.leads.guard import FormTokens
from landing.locations import Location
from landing.pages import SLOT, Renderer
from landing.quality import town_key
from landing.settings import Settings, resolve_secret
from landing.sitemap import robots_txt, sitemap_files
from landing.snapshot import load_snapshot, source_files

MANIFEST = ".landing-build.json"
MANIFEST_VERSION = 2  # 2: a page's county_towns is the hash of the list version 1 recorded


# -- what a page is made of (recorded per build, compared by `landing check --diff`) --------------------


def page_facts(catalog: Catalog, page: LandingPage) -> dict[str, Any]:
    """What a landing page shows that comes from locations.csv and faqs.csv (directly, or through the towns
    around it): two pages with equal facts render alike (with the same site.toml and templates). Never the
    town's notes: those are not published."""
    location = page.location
    alternative = page.alternative
    return {
        "town": location.town,
        "state": location.state,
        "county": location.county,
        "zip": location.zip,
        "coordinates": [location.latitude, location.longitude] if location.has_coordinates else None,
        "intro": location.intro,
        "extra": [list(pair) for pair in location.extras],
        "office": page.office.id,
        "distance_miles": page.distance_miles,
        "direction": page.direction,
        "alternative": [alternative.office.id, alternative.miles, alternative.direction] if alternative else None,
        "nearby": [[other.path, other.location.place, round(miles)] for miles, other in catalog.nearby(page)],
        "county_towns": county_towns(catalog, page),
        "questions": [[faq.question, faq.answer] for faq in catalog.faqs_for(page)],
    }


def county_towns(catalog: Catalog, page: LandingPage) -> str:
    """A hash of the towns of the page's county that the page lists (path and name of each). A hash, worked
    out once per county: the list is the same on every page of the county, and a big county listed in full on
    each of its pages made the facts of a site grow with the square of its counties' size."""
    location = page.location
    key = (location.county or "").casefold(), location.state

    def towns() -> str:
        return towns_hash([[other.path, other.location.town] for other in catalog.county_pages(page)])

    return catalog.memo(("county towns", page.treatment.slug, key), towns)


def towns_hash(towns: list[list[str]]) -> str:
    return content_hash(json.dumps(towns, ensure_ascii=False).encode())


# One encoder for the record's compact JSON: json.dumps with options makes a new one each call, which costs
# more than encoding a page's facts does.
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def facts_json(facts: dict[str, Any]) -> str:
    """The facts as the build record holds them (page_facts fixes the key order: equal facts, equal text)."""
    return _COMPACT.encode(facts)


def page_inputs(facts: str, held_back: bool) -> str:
    """A hash of everything a landing page's bytes depend on besides the build's own inputs (build_key):
    its facts (as facts_json gives them) and whether the quality gate holds it back."""
    return content_hash(f"{facts}\0{held_back:d}".encode())


def build_key(site: str, base_url: str, form_action: str, token: bytes) -> str:
    """A hash of what every page depends on: site.toml, templates, static files (``site``, their
    site_fingerprint), this program, the base URL, where forms post and their token. Equal keys and equal
    page inputs mean equal bytes: no need to render."""
    # The program: its code, and the templates and static files the package ships.
    code = sorted(path for path in Path(__file__).resolve().parent.rglob("*")
                  if path.is_file() and "__pycache__" not in path.parts)
    digest = hashlib.blake2b(digest_size=16)
    for part in (site, base_url, form_action, token.decode()):
        digest.update(part.encode() + b"\0")
    for path in code:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def town_record(locations: tuple[Location, ...]) -> dict[str, dict[str, Any]]:
    """Each town's slug and aliases, by its identity across edits (town and state)."""
    return {town_key(location.town, location.state): {"place": location.place, "slug": location.slug,
                                                        "aliases": list(location.aliases)}
            for location in locations}


def site_fingerprint(settings: Settings) -> str:
    """A hash of everything but locations.csv that pages are made from: site.toml, templates, static files."""
    digest = hashlib.blake2b(digest_size=16)
    files = source_files(settings)
    inputs = [path for path in files.inputs() if path != files.locations] + files_in(settings.static_dir)
    for path in inputs:
        digest.update(str(path.name).encode() + b"\0")
        try:
            digest.update(path.read_bytes())
        except OSError:
            pass
    return digest.hexdigest()


# -- writing --------------------------------------------------------------------------------------------


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


FileEntry = dict[str, int]  # {"size", "mtime_ns"} of a file the build made, as its record lists it


@dataclass
class Writer:
    """Writes files under ``root`` atomically, skipping those whose bytes a previous build already wrote.
    It keeps no count: files are written by several processes, and the build adds up what each reports."""

    root: Path
    previous: dict[str, FileEntry]  # relative path -> {"size", "mtime_ns"} from the last build
    empty: bool = False  # the folder held nothing before: no file can be there already, none need be compared
    _folders: set[Path] = field(default_factory=set)

    def put(self, relative: str, data: bytes) -> tuple[FileEntry, bool]:
        """Write ``data`` unless the file holds it already: its record entry, and whether it was written."""
        path = self.root / relative
        if not self.empty and (stat := self._unchanged(relative, path, data)) is not None:
            return {"size": len(data), "mtime_ns": stat.st_mtime_ns}, False
        folder = path.parent
        if folder not in self._folders:
            folder.mkdir(parents=True, exist_ok=True)
            self._folders.add(folder)
        return {"size": len(data), "mtime_ns": write_atomically(path, data)}, True

    def keep(self, relative: str) -> FileEntry | None:
        """The previous build's entry of a file left as it wrote it, if it is there untouched; else None."""
        known = self.previous.get(relative)
        if known is None:
            return None
        try:
            stat = (self.root / relative).stat()
        except OSError:
            return None
        if (stat.st_size, stat.st_mtime_ns) != (known["size"], known["mtime_ns"]):
            return None
        return known

    def _unchanged(self, relative: str, path: Path, data: bytes) -> os.stat_result | None:
        """The file's stat if it holds ``data`` already (and, if the last build wrote it, is untouched since:
        a file changed by hand is put right). Only a page whose inputs changed gets here on a rebuild, so
        reading the old bytes back costs less than hashing every page of every build would."""
        try:
            stat = path.stat()
        except OSError:
            return None
        known = self.previous.get(relative)
        if known is not None and (known["size"], known["mtime_ns"]) != (stat.st_size, stat.st_mtime_ns):
            return None
        return stat if stat.st_size == len(data) and path.read_bytes() == data else None

    def remove_stale(self, files: Collection[str]) -> int:
        """Delete what the previous build wrote and this one (``files``) did not: never a file it did not make."""
        removed = 0
        for relative in sorted(self.previous.keys() - set(files)):
            path = self.root / relative
            try:
                path.unlink()
                removed += 1
            except FileNotFoundError:
                continue
            for folder in path.parents:  # folders left empty go too (a removed town's page folder)
                if folder == self.root or not folder.is_relative_to(self.root):
                    break
                try:
                    folder.rmdir()
                except OSError:
                    break
        return removed


def write_atomically(path: Path, data: bytes | Iterable[bytes]) -> int:
    """Write ``data`` (bytes, or parts of them in order) to a temporary file beside ``path``, then rename it
    over ``path``: readers see old or new. Returns the file's modification time (ns), which the rename keeps."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as file:
            if isinstance(data, bytes):
                file.write(data)
            else:
                file.writelines(data)
            file.flush()
            mtime_ns = os.fstat(file.fileno()).st_mtime_ns
        os.replace(temporary, path)
        return mtime_ns
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The record of the build in ``folder``, or None if there is none (or it cannot be read)."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") not in (1, MANIFEST_VERSION):
        return None
    if data["version"] == 1:  # a build by the previous release: `landing check --diff` compares it all the same
        for facts in data.get("pages", {}).values():
            if isinstance(facts, dict) and isinstance(facts.get("county_towns"), list):
                facts["county_towns"] = towns_hash(facts["county_towns"])
    return data


# -- the build ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuildResult:
    out: Path
    pages: int  # landing pages
    files: int
    written: int
    unchanged: int
    removed: int
    size: int  # bytes of every file of the build
    seconds: float
    held_back: int  # pages the quality gate holds back (noindex, not in the sitemap)
    lead_url: str
    warnings: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        rate = self.pages / self.seconds if self.seconds else 0.0
        held = f", {self.held_back:,} held back by the quality gate" if self.held_back else ""
        return (f"built {self.pages:,} pages ({self.files:,} files, {self.size / 1_048_576:.1f} MB) into {self.out} "
                f"in {self.seconds:.1f} s ({rate:,.0f} pages/s): {self.written:,} written, {self.unchanged:,} "
                f"unchanged, {self.removed:,} removed{held}; forms post to {self.lead_url}")


def lead_url(settings: Settings, catalog: Catalog) -> str:
    """Where the static pages' forms post: LANDING_LEAD_URL, else the base URL's /leads."""
    url = settings.lead_url or catalog.url("/leads")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise LandingError(f"LANDING_LEAD_URL={url!r} must be an absolute address of the running service's "
                           "/leads, e.g. https://pain.example.com/leads")
    return url


def build_site(settings: Settings, out: Path, *, now: float | None = None,
               progress: Callable[[int], Callable[[int], object]] | None = None, jobs: int | None = None) -> BuildResult:
    """Build the site into ``out``. ``progress(total)`` returns a callable told of each finished file. ``jobs``:
    worker processes rendering pages (default: one per core); the files are the same bytes however many."""
    try:
        return _build(settings, out, time.time() if now is None else now, progress, jobs or forked.cores())
    finally:
        gc.unfreeze()


def _build(settings: Settings, out: Path, now: float,
           progress: Callable[[int], Callable[[int], object]] | None, jobs: int) -> BuildResult:
    started = time.perf_counter()
    previous = read_manifest(out)
    if previous is None and out.is_dir() and any(out.iterdir()):
        raise LandingError(f"{out} is not empty and holds no {MANIFEST} from an earlier build: build into a new "
                           "or empty folder (landing build removes files it made before, so it keeps to its own)")
    if settings.build_form_days < 1:
        raise LandingError(f"LANDING_BUILD_FORM_DAYS={settings.build_form_days} must be at least 1 (days the static "
                           "pages' forms are accepted; e.g. 30, and rebuild more often than that)")
    snapshot = load_snapshot(settings)
    # Tens of thousands of pages stay alive until the end: frozen, the garbage collector stops walking
    # all of them again and again while the build makes and drops its short-lived objects.
    gc.collect()  # not to freeze the garbage loading left
    gc.freeze()
    catalog, renderer = snapshot.catalog, snapshot.renderer
    renderer.form_action = lead_url(settings, catalog)
    warnings = []
    if not settings.secret_key:
        warnings.append("LANDING_SECRET_KEY is not set: the forms are signed with this folder's development "
                        "secret, and a service with another secret will file every static lead as spam (set "
                        "LANDING_SECRET_KEY to the service's)")
    token = FormTokens(resolve_secret(settings)).issue_build(settings.build_form_days, now)
    slot = hidden_fields(token, {})  # no campaign attribution: a static page has no request to read it from
    site = site_fingerprint(settings)
    key = build_key(site, catalog.base_url, renderer.form_action, token)
    same_build = previous is not None and previous.get("key") == key
    plan = list(outputs(catalog, renderer, slot, counted=settings.count_views))
    writer = Writer(out, (previous or {}).get("files", {}), empty=not out.is_dir() or not any(out.iterdir()))
    out.mkdir(parents=True, exist_ok=True)
    work = Work(plan, writer, catalog, frozenset(renderer.held_back),
                previous.get("inputs", {}) if previous and same_build else {})
    made = make_all(work, jobs, progress(len(plan)) if progress else None)
    files = {entry.relative: entry.file for entry in made}
    removed = writer.remove_stale(files)
    header = {
        "version": MANIFEST_VERSION,
        "built_at": dt.datetime.fromtimestamp(now, dt.timezone.utc).isoformat(timespec="seconds"),
        "base_url": catalog.base_url,
        "site": site,
        "key": key,
        "towns": town_record(catalog.locations),
    }
    write_atomically(out / MANIFEST, manifest_parts(header, made, files))
    written = sum(entry.written for entry in made)
    return BuildResult(out=out, pages=len(catalog.pages), files=len(files), written=written,
                       unchanged=len(made) - written, removed=removed,
                       size=sum(entry.file["size"] for entry in made), seconds=time.perf_counter() - started,
                       held_back=len(renderer.held_back), lead_url=renderer.form_action, warnings=tuple(warnings))


def manifest_parts(header: dict[str, Any], made: list[Made], files: dict[str, FileEntry]) -> Iterator[bytes]:
    """The build record as JSON, in parts: its pages' facts go as the text the workers made of them (not
    parsed and encoded again), one page a part (tens of megabytes at 25,000 towns, never one string)."""
    def compact(value: object) -> bytes:
        return _COMPACT.encode(value).encode()

    pages = [entry for entry in made if entry.page is not None]
    yield compact(header)[:-1] + b',"pages":{'
    for number, entry in enumerate(pages):
        yield f"{',' if number else ''}{_COMPACT.encode(entry.page)}:{entry.facts}".encode()
    yield b'},"inputs":' + compact({entry.page: entry.inputs for entry in pages})
    yield b',"files":' + compact(files) + b"}"


Output = tuple[str, Callable[[], bytes], LandingPage | None]  # relative path, its bytes, the landing page it is


class Made(NamedTuple):
    """What became of one file of the plan (in whichever process made it)."""

    relative: str
    file: FileEntry
    written: bool
    page: str | None = None  # the landing page's path; for a landing page:
    facts: str = ""  # its facts, as facts_json gives them
    inputs: str = ""  # page_inputs


@dataclass(frozen=True)
class Work:
    """What making a file of the plan needs: forked workers find it in place (_WORK)."""

    plan: list[Output]
    writer: Writer
    catalog: Catalog
    held_back: frozenset[str]
    known_inputs: dict[str, str]  # page path -> its inputs, if the last build had the same build key


def make(work: Work, number: int) -> Made:
    """Render and write the file at ``number`` of the plan, unless it is a landing page whose inputs are those
    of the file the last build left there untouched: that one is not even rendered again."""
    relative, render, page = work.plan[number]
    if page is None:
        return Made(relative, *work.writer.put(relative, render()))
    facts = facts_json(page_facts(work.catalog, page))
    inputs = page_inputs(facts, page.path in work.held_back)
    kept = work.writer.keep(relative) if work.known_inputs.get(page.path) == inputs else None
    file, written = (kept, False) if kept is not None else work.writer.put(relative, render())
    return Made(relative, file, written, page.path, facts, inputs)


PARALLEL_FROM = 400  # pages to render below which worker processes cost more than they save
CHUNK = 200  # files a worker renders and writes per task


def make_all(work: Work, jobs: int, advance: Callable[[int], object] | None) -> list[Made]:
    """Make every file of the plan, in order: what comes before the first page (stylesheets and images)
    first, then every page (by ``jobs`` worker processes, forked with the loaded site), then the rest (the
    sitemaps listing them). What became of each, in plan order."""
    plan = work.plan
    pages = [number for number, (relative, _, page) in enumerate(plan) if page is not None or relative.endswith(".html")]
    first, last = (pages[0], pages[-1]) if pages else (len(plan), len(plan) - 1)
    made: list[Made | None] = [None] * len(plan)

    def here(numbers: Iterable[int]) -> None:
        for number in numbers:
            made[number] = make(work, number)
            if advance:
                advance(1)

    here(range(first))
    if jobs > 1 and len(pages) >= PARALLEL_FROM:
        # The first page here: what every page shares (compiled templates, the catalog's indexes and
        # memos) is made once, before the fork, and the workers share it instead of each making its own.
        here(pages[:1])
        for number, entry in _make_in_workers(work, pages[1:], jobs, advance):
            made[number] = entry
    else:
        here(pages)
    here(range(last + 1, len(plan)))
    assert all(entry is not None for entry in made)
    return made  # type: ignore[return-value]


# What forked workers find in place: the work of the build that started them.
_WORK: Work | None = None


def _make_in_workers(work: Work, numbers: list[int], jobs: int,
                     advance: Callable[[int], object] | None) -> Iterator[tuple[int, Made]]:
    global _WORK
    chunks = [numbers[start:start + CHUNK] for start in range(0, len(numbers), CHUNK)]
    _WORK = work
    # What the parent made since loading (the plan, the first page's templates and memos) is frozen too:
    # a worker's garbage collector then never touches it, and its memory stays shared with the parent's.
    gc.freeze()
    try:
        # Forked: the workers share the loaded site (catalog, templates, quality measure) with this process.
        with multiprocessing.get_context("fork").Pool(min(jobs, len(chunks))) as pool:
            for results in pool.imap_unordered(_make_chunk, chunks):
                yield from results
                if advance:
                    advance(len(results))
    finally:
        _WORK = None


def _make_chunk(numbers: list[int]) -> list[tuple[int, Made]]:
    """In a worker: make these files of the plan."""
    assert _WORK is not None
    return [(number, make(_WORK, number)) for number in numbers]


def outputs(catalog: Catalog, renderer: Renderer, slot: bytes, counted: bool = False) -> Iterator[Output]:
    """Every file, in an order in which nothing links to a file not yet written: stylesheets and images,
    then pages, then the sitemaps that list them. ``counted``: each page carries its view counter."""
    def landing(path: str) -> bytes:
        return with_counter(renderer.render_path(path).encode().replace(SLOT, slot), path, counted)

    def page(path: str) -> bytes:
        return with_counter(renderer.render_path(path).encode(), path, counted)

    for fingerprinted, file in renderer.assets.files.items():
        yield f"static/{fingerprinted}", functools.partial(bytes, file.data), None
    for path, landing_page in catalog.pages.items():
        yield f"{path.strip('/')}/index.html", functools.partial(landing, path), landing_page
    for part in catalog.hub_parts:
        yield f"{part.path.strip('/')}/index.html", functools.partial(page, part.path), None
    yield "index.html", functools.partial(page, "/"), None
    yield "404.html", lambda: renderer.render_not_found("/").encode(), None
    for old, new in catalog.redirects.items():
        if old not in catalog.pages:
            yield f"{old.strip('/')}/index.html", functools.partial(moved_page, catalog.url(new)), None
    for path, body in sitemap_files(catalog, renderer.held_back).items():
        yield path.lstrip("/"), functools.partial(bytes, body), None
    yield "robots.txt", functools.partial(robots_txt, catalog), None


# The service's GET /v/<page> (landing/web/views.py), same-origin: a CDN that passes /v/ to the service lets
# the service count a view each time a browser displays the page, without JavaScript (see README: Page views).
COUNTER_PREFIX = "/v"


def with_counter(body: bytes, path: str, counted: bool) -> bytes:
    """A static page with its view counter: a hidden 1x1 image (fetched all the same) before ``</body>``."""
    if not counted:
        return body
    image = f'<img src="{escape(COUNTER_PREFIX + path, quote=True)}" alt="" width="1" height="1" hidden>\n'.encode()
    head, end, tail = body.rpartition(b"</body>")
    return head + image + end + tail if end else body


def moved_page(url: str) -> bytes:
    """A town's former address on a static host, which cannot answer 301: a page search engines and
    browsers follow at once to the current one (and which is never indexed itself)."""
    link = escape(url, quote=True)
    return (
        '<!doctype html>\n<html lang="en-US">\n<head>\n<meta charset="utf-8">\n<title>This page has moved</title>\n'
        f'<meta name="robots" content="noindex, follow">\n<link rel="canonical" href="{link}">\n'
        f'<meta http-equiv="refresh" content="0; url={link}">\n</head>\n<body>\n'
        f'<p>This page has moved to <a href="{link}">{link}</a>.</p>\n</body>\n</html>\n'
    ).encode()
