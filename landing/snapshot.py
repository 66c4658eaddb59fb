"""The live site: the current snapshot of catalog + renderer, swapped whole when site files change."""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.types import Scope

from landing.catalog import Catalog, SourceFiles, files_in, load_catalog, stat_fingerprint
from landing.errors import ConfigError
from landing.pages import Renderer, StaticAssets
from landing.responses import CachedResponse
from landing.settings import Settings
from landing.sitemap import robots_txt, sitemap_files

log = logging.getLogger("landing.reload")


def source_files(settings: Settings) -> SourceFiles:
    return SourceFiles(site=settings.site_file, locations=settings.locations_file, templates=settings.templates_dir)


@dataclass
class Snapshot:
    catalog: Catalog
    renderer: Renderer
    fingerprint: tuple[tuple[str, int, int], ...]
    loaded_at: float = field(default_factory=time.time)

    @functools.cached_property
    def feeds(self) -> dict[str, CachedResponse]:
        """sitemap(s) and robots.txt, built on first request rather than at every reload."""
        cache_control = self.renderer.cache_control
        responses = {path: CachedResponse(body, "application/xml; charset=utf-8", cache_control)
                     for path, body in sitemap_files(self.catalog, self.renderer.held_back).items()}
        responses["/robots.txt"] = CachedResponse(robots_txt(self.catalog), "text/plain; charset=utf-8", cache_control)
        return responses


def load_snapshot(settings: Settings, form_fields: Callable[[Scope], bytes] | None = None) -> Snapshot:
    files = source_files(settings)
    fingerprint = files.fingerprint() + stat_fingerprint(files_in(settings.static_dir))
    catalog = load_catalog(files, settings.base_url)
    assets = StaticAssets(settings.static_dir)
    renderer = Renderer(catalog, settings.templates_dir, assets, cache_size=settings.page_cache_size,
                        cache_seconds=settings.cache_seconds, form_fields=form_fields)
    return Snapshot(catalog=catalog, renderer=renderer, fingerprint=fingerprint)


class LiveSite:
    """Holds the snapshot being served and replaces it when its files change and the new one is valid."""

    def __init__(self, settings: Settings, form_fields: Callable[[Scope], bytes] | None = None) -> None:
        self.settings = settings
        self.form_fields = form_fields
        self.current = load_snapshot(settings, form_fields)  # a broken site at startup is the caller's to report
        self.last_error: ConfigError | None = None

    def reload(self) -> bool:
        """Load the files again; True when a new snapshot is now served. An invalid one is logged and dropped."""
        try:
            snapshot = load_snapshot(self.settings, self.form_fields)
        except ConfigError as exc:
            if self.last_error is None or exc.problems != self.last_error.problems:
                log.error("site files changed but are invalid; still serving the previous version:\n%s", exc)
            self.last_error = exc
            return False
        self.current = snapshot
        self.last_error = None
        # The old snapshot is held in cycles (its renderer's page cache, hubs and their parts), and the
        # service collects its oldest objects rarely (app.GC_THRESHOLD): free it now.
        gc.collect()
        log.info("site files changed: now serving %d pages", len(snapshot.catalog.pages))
        return True

    async def watch(self) -> None:
        """Check for edits every ``reload_interval`` seconds, forever (cancelled at shutdown)."""
        attempted: tuple[tuple[str, int, int], ...] | None = None
        while True:
            await asyncio.sleep(self.settings.reload_interval)
            try:
                files = source_files(self.settings)
                fingerprint = files.fingerprint() + stat_fingerprint(files_in(self.settings.static_dir))
                if fingerprint in (self.current.fingerprint, attempted):
                    continue
                attempted = fingerprint
                await asyncio.to_thread(self.reload)
            except Exception:  # a reload bug must not end live reload for the life of the process
                log.exception("live reload failed; still serving the previous version")
