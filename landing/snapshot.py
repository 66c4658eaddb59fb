"""A snapshot of the site: the catalog and its renderer, loaded from the site's files as one unit.

Plain Python: `landing check` and `landing build` load one; the service (landing.web.live) keeps the
current one and swaps it whole when the files change.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

from landing.catalog import (
    Catalog,
    SourceFiles,
    files_in,
    load_catalog,
    stat_fingerprint,
)
from landing.pages import Renderer, StaticAssets
from landing.quality_cache import cache_for
from landing.settings import Settings

Fingerprint = tuple[tuple[str, int, int], ...]


def source_files(settings: Settings) -> SourceFiles:
    return SourceFiles(site=settings.site_file, locations=settings.locations_file, templates=settings.templates_dir,
                       faqs=settings.faqs_file)


def fingerprint(settings: Settings) -> Fingerprint:
    """What changes when any file the site is made from changes (names, sizes, modification times)."""
    return source_files(settings).fingerprint() + stat_fingerprint(files_in(settings.static_dir))


def site_version(settings: Settings) -> str:
    """A digest of the contents of every file the site is made from: the same files give the same version on every
    instance, wherever the site folder is and whatever the files' modification times, so an operator can tell
    which edit each instance serves."""
    named = [("site.toml", settings.site_file), ("locations.csv", settings.locations_file),
             ("faqs.csv", settings.faqs_file)]
    for folder, root in (("templates", settings.templates_dir), ("static", settings.static_dir)):
        named += [(f"{folder}/{path.relative_to(root).as_posix()}", path) for path in files_in(root)]
    digest = hashlib.blake2b(digest_size=6)
    for name, path in named:
        try:
            data = path.read_bytes()
        except OSError:  # an optional file that is not there (faqs.csv), or one gone meanwhile
            continue
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


@dataclass
class Snapshot:
    catalog: Catalog
    renderer: Renderer
    fingerprint: Fingerprint
    version: str = ""
    loaded_at: float = field(default_factory=time.time)


def load_snapshot(settings: Settings, *, measure: bool = True) -> Snapshot:
    """Load and validate the site's files; raises ConfigError listing every problem. ``measure=False`` leaves
    the quality gate to be measured later (Renderer.measured)."""
    stamp = fingerprint(settings)
    version = site_version(settings)
    catalog = load_catalog(source_files(settings), settings.base_url)
    renderer = Renderer(catalog, settings.templates_dir, StaticAssets(settings.static_dir),
                        quality_cache=cache_for(settings.quality_cache, settings.site_file), measure=measure)
    return Snapshot(catalog=catalog, renderer=renderer, fingerprint=stamp, version=version)
