"""Publishing towns: an uploaded locations.csv or workbook checked as `landing check` checks a file, previewed
against what is served, and published as a version in the lead store's database (landing/leads/site_versions.py).

Plain Python: the staff area (landing/web/site_admin.py) and `landing site ...` (landing/admin/site_commands.py)
both call it. The towns of a version are written to a private temporary file and loaded exactly as the file
on disk is (catalog, renderer, check), so there is one loader and one validator for both.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import io
import os
import re
import secrets
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from landing import check, quality
from landing.build import site_fingerprint
from landing.errors import ConfigError, LandingError
from landing.leads.site_versions import SiteVersion
from landing.locations import decode_csv
from landing.settings import Settings
from landing.workbook import is_workbook, workbook_csv

T = TypeVar("T")
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # how an .xls (and other old Office files) begins
MAX_UPLOAD = 20 * 1024 * 1024  # bytes: a CSV of 100,000 towns is about 10 MiB
_staging: tempfile.TemporaryDirectory[str] | None = None
_lock = threading.Lock()  # the staging folder's creation, and the kept results below
_PROBLEM = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+): (?:column '(?P<column>[^']+)': )?(?P<message>.*)$", re.S)


# -- files ----------------------------------------------------------------------------------------------

def staging_folder() -> Path:
    """This process's private folder for the towns of versions and uploads (0700; removed when it exits)."""
    global _staging
    with _lock:
        if _staging is None:
            _staging = tempfile.TemporaryDirectory(prefix="landing-towns-")
        return Path(_staging.name)


def staged(text: str, name: str = "locations.csv", modified: float | None = None) -> Path:
    """``text`` written to a new file called ``name`` (what problems are reported against), whole, with the
    modification time ``modified`` (a version's publication: the pages' lastmod)."""
    folder = staging_folder() / secrets.token_hex(8)
    folder.mkdir(mode=0o700)
    path = folder / safe_name(name)
    path.write_text(text, encoding="utf-8", newline="")
    if modified is not None:
        os.utime(path, (modified, modified))
    return path


def safe_name(name: str) -> str:
    """An uploaded file's name as a plain file name (what its problems are reported against)."""
    plain = re.sub(r"[^\w.\- ]", "_", name.replace("\\", "/").rsplit("/", 1)[-1])[:100].strip(". ")
    return plain or "locations.csv"


def unstage(path: Path) -> None:
    """Remove a file ``staged`` wrote (and its folder); any other path is left alone."""
    if path.parent.parent == staging_folder():
        shutil.rmtree(path.parent, ignore_errors=True)


@contextlib.contextmanager
def staged_for(text: str, name: str = "locations.csv") -> Iterator[Path]:
    """``staged``, removed afterwards: for a check or a preview."""
    path = staged(text, name)
    try:
        yield path
    finally:
        unstage(path)


def upload_text(name: str, data: bytes) -> str:
    """The CSV text of an uploaded locations.csv or Excel workbook (its first sheet); ConfigError when it cannot be
    read, saying how to save it right."""
    if len(data) > MAX_UPLOAD:
        raise ConfigError([f"{name}: the file is {len(data) / 2**20:.1f} MiB; at most {MAX_UPLOAD // 2**20} MiB can be "
                           "uploaded (a CSV of 100,000 towns is about 10 MiB)"])
    if is_workbook(name, data):
        return workbook_csv(data, name)
    if name.lower().endswith(".xls") or data.startswith(OLE_MAGIC):
        raise ConfigError([f"{name}: is an Excel 97-2003 workbook (.xls), which cannot be read here; open it in Excel "
                           "and save it as 'Excel Workbook (.xlsx)' or 'CSV UTF-8 (Comma delimited) (.csv)'"])
    return decode_csv(data, name).lstrip("\ufeff")


def version_settings(settings: Settings, version: SiteVersion) -> Settings:
    """The settings that load a published version's towns (and the site's other files from disk)."""
    published = dt.datetime.fromisoformat(version.published_at).timestamp()
    return settings.replace(locations_file=staged(version.locations, "locations.csv", published))


def described(version: SiteVersion | None, settings: Settings) -> str:
    """Which towns are in use, in words: what `landing check` and `landing build` say they read."""
    if version is None:
        return f"{settings.locations_file} on disk (nothing has been published from the staff area)"
    return (f"published version {version.number} ({version.published_at[:16].replace('T', ' ')} UTC, by "
            f"{version.author}) in the database, not {settings.locations_file.name} on disk")


# -- problems as rows ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    """One problem of an upload, as the staff area shows it: row (line), column and what to do."""

    file: str
    row: int | None
    column: str
    message: str


def problems_of(error: ConfigError) -> list[Problem]:
    found = []
    for text in error.problems:
        match = _PROBLEM.match(text)
        if match:
            found.append(Problem(match["file"], int(match["line"]), match["column"] or "", match["message"]))
        else:
            file, _, rest = text.partition(": ")
            found.append(Problem(file if rest else "", None, "", rest or text))
    return found


# -- preview -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HeldTown:
    path: str
    place: str
    why: str


@dataclass(frozen=True)
class Preview:
    """What publishing a draft would change, against what is served now."""

    diff: check.SiteDiff
    towns: int
    pages: int
    before: dict[str, quality.Distribution]  # similarity by treatment, now
    after: dict[str, quality.Distribution]  # and with the draft
    held_back: tuple[HeldTown, ...]  # the draft's pages the gate or the distance limit keeps out of search
    findings: tuple[str, ...]
    lines: dict[str, int]  # the draft's line of each town, by slug (for the one-click alias)

    @property
    def summary(self) -> str:
        return change_summary(self.diff)

    @property
    def unaliased(self) -> tuple[check.Move, ...]:
        return tuple(move for move in self.diff.moves if not move.aliased)


def change_summary(diff: check.SiteDiff) -> str:
    parts = [_count(len(diff.added), "page added", "pages added"),
             _count(len(diff.removed), "page removed", "pages removed"),
             _count(len(diff.changed), "page changed", "pages changed")]
    if diff.moves:
        parts.append(_count(len(diff.moves), "town with a new slug", "towns with a new slug"))
    return ", ".join(parts)


def _count(number: int, one: str, many: str) -> str:
    return f"{number:,} {one if number == 1 else many}"


def towns_key(settings: Settings) -> str:
    """What a check's outcome depends on: the towns' text and the site's other files (their digest)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(site_fingerprint(settings).encode())
    with contextlib.suppress(OSError):
        digest.update(settings.locations_file.read_bytes())
    return digest.hexdigest()


class _Recent(OrderedDict[str, T]):
    """The few most recent results, by key (a check of a large site takes a minute: it is not made twice)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def keep(self, key: str, value: T) -> T:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)
        return value


_similarity: _Recent[dict[str, quality.Distribution]] = _Recent(8)  # by towns_key: a preview's "before" and "after"
_previews: _Recent[Preview] = _Recent(4)  # by the two sides' towns_key


def preview(current: Settings, draft: Settings) -> Preview:
    """Check the draft's towns exactly as `landing check` does (ConfigError listing every problem), and compare
    them with the current ones. Kept a while: the preview page shown again, or the towns published and then
    compared with the next upload, are not checked again."""
    current_key, draft_key = towns_key(current), towns_key(draft)
    with _lock:
        kept = _previews.get(f"{current_key}:{draft_key}")
    if kept is not None:
        return kept
    report = check.check_site(draft)
    found = report.quality
    assert found is not None and report.catalog is not None
    diff = check.diff_site(draft, current.locations_file, report.catalog)
    diff = check.SiteDiff(current.locations_file.name, diff.added, diff.removed, diff.changed, diff.moves)
    with _lock:
        _similarity.keep(draft_key, found.similarity)
        before = _similarity.get(current_key)
    if before is None:
        try:
            before_quality = check.check_site(current).quality
            before = before_quality.similarity if before_quality else {}
        except ConfigError:
            before = {}  # what is served was loaded before an edit of site.toml or a template that broke it
        with _lock:
            _similarity.keep(current_key, before)
    catalog = report.catalog
    similar = {item.path: item for item in found.pages}
    held = []
    for path in sorted(found.held_back):
        page = catalog.pages[path]
        if path in found.far:
            why = (f"{page.distance_miles} miles from {page.office.name}: farther than max_office_miles "
                   f"({catalog.site.quality.max_office_miles:g})")
        elif path in similar:
            why = f"quality gate: {quality.percent(similar[path].similarity)} alike {similar[path].twin or 'a sibling'}"
        else:
            why = "quality gate"
        held.append(HeldTown(path, page.location.place, why))
    findings = tuple(finding.message for finding in found.findings if finding.kind != "slug-changed")
    made = Preview(diff=diff, towns=report.towns, pages=report.pages, before=before, after=found.similarity,
                   held_back=tuple(held), findings=findings,
                   lines={location.slug: location.line for location in catalog.locations})
    with _lock:
        return _previews.keep(f"{current_key}:{draft_key}", made)


def summarize(current: Settings, new: Settings) -> str:
    """What replacing the current towns with the new ones changes, in a few words (the history's summary);
    ConfigError when the new ones do not load."""
    return change_summary(check.diff_site(new, current.locations_file))


# -- one-click fixes -------------------------------------------------------------------------------------

def add_alias(text: str, line: int, alias: str) -> str:
    """The CSV ``text`` with ``alias`` added to the aliases of the town on ``line`` (a column added when the
    file has none); every other row and line number as they were."""
    first = text.lstrip("\r\n").split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    records: list[tuple[int, list[str]]] = []
    while True:
        start = reader.line_num + 1
        try:
            records.append((start, next(reader)))
        except StopIteration:
            break
    header_at = next((index for index, (_, values) in enumerate(records) if any(v.strip() for v in values)), None)
    if header_at is None:
        raise LandingError("the file has no header row")
    header = [value.strip().lower() for value in records[header_at][1]]
    if "aliases" not in header:
        records[header_at][1].append("aliases")
        header.append("aliases")
    column = header.index("aliases")
    target = next((values for start, values in records if start == line), None)
    if target is None:
        raise LandingError(f"no town on line {line}")
    target.extend([""] * (column + 1 - len(target)))
    aliases = [value.strip() for value in target[column].split(";") if value.strip()]
    if alias not in aliases:
        target[column] = ";".join([*aliases, alias])
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    for _, values in records:
        writer.writerow(values)
    return out.getvalue()


# -- the command line's way to the database -----------------------------------------------------------------

def database_may_hold_versions(settings: Settings) -> bool:
    """False for a SQLite file that does not exist yet (`landing check` in a new site folder creates none)."""
    url = settings.database_url
    return not url.startswith("sqlite:///") or Path(url.removeprefix("sqlite:///")).exists()


def current_source(settings: Settings) -> tuple[Settings, SiteVersion | None]:
    """The settings that load the towns in use (the newest published version, else the file), and the version."""
    if not database_may_hold_versions(settings):
        return settings, None
    from landing.admin.commands import with_store

    version = with_store(settings, lambda store: store.site_version())
    return (version_settings(settings, version), version) if version else (settings, None)


def publish_lines(preview_: Preview, shown: int = 20) -> list[str]:
    """The preview in plain words, as `landing site publish` prints it."""
    diff = preview_.diff
    lines = [check.diff_text(diff, shown)]
    lines.append("Page similarity to the closest sibling (half of the pages at most / nine in ten at most / the "
                 "most alike), now -> after:")
    for slug in sorted(set(preview_.before) | set(preview_.after)):
        lines.append(f"  {slug}: {_distribution(preview_.before.get(slug))} -> {_distribution(preview_.after.get(slug))}")
    lines.append(f"{len(preview_.held_back):,} page{'s' if len(preview_.held_back) != 1 else ''} held back (noindex, "
                 "not in the sitemap, never submitted to search engines)" + (":" if preview_.held_back else ""))
    lines += [f"  {town.path} ({town.place}): {town.why}" for town in preview_.held_back[:shown]]
    return lines


def _distribution(found: quality.Distribution | None) -> str:
    if found is None or not found.pages:
        return "no pages"
    return f"{quality.percent(found.median)} / {quality.percent(found.p90)} / {quality.percent(found.max)}"
