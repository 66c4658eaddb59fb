"""A snapshot of the site: the catalog and its renderer, loaded from the site's files as one unit.

Plain Python: `landing check` and `landing build` load one; the service (landing.web.live) keeps the
current one and swaps it whole when the files change.
"""

from __future__ import annotations

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
from landing.settings import Settings

Fingerprint = tuple[tuple[str, int, int], ...]


def source_files(settings: Settings) -> SourceFiles:
    return SourceFiles(site=settings.site_file, locations=settings.locations_file, templates=settings.templates_dir,
                       faqs=settings.faqs_file)


def fingerprint(settings: Settings) -> Fingerprint:
    """What changes when any file the site is made from changes (names, sizes, modification times)."""
    return source_files(settings).fingerprint() + stat_fingerprint(files_in(settings.static_dir))


@dataclass
class Snapshot:
    catalog: Catalog
    renderer: Renderer
    fingerprint: Fingerprint
    loaded_at: float = field(default_factory=time.time)


def load_snapshot(settings: Settings) -> Snapshot:
    """Load and validate the site's files; raises ConfigError listing every problem."""
    stamp = fingerprint(settings)
    catalog = load_catalog(source_files(settings), settings.base_url)
    renderer = Renderer(catalog, settings.templates_dir, StaticAssets(settings.static_dir))
    return Snapshot(catalog=catalog, renderer=renderer, fingerprint=stamp)
