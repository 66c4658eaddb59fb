"""The live site: the snapshot being served, with its ready-to-send responses, swapped whole when the
site's files change (and only for a valid new one)."""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
from collections.abc import Callable

from starlette.types import Scope

from landing.errors import ConfigError
from landing.leads.guard import RateLimit
from landing.pages import SLOT
from landing.settings import Settings
from landing.sitemap import robots_txt, sitemap_files
from landing.snapshot import Snapshot, fingerprint, load_snapshot
from landing.web.responses import (
    PUBLIC_SECURITY_HEADERS,
    CachedResponse,
    SecurityHeaders,
    Slot,
    SplicedResponse,
)

log = logging.getLogger("landing.reload")

FormFields = Callable[[Scope], Slot]
HTML = "text/html; charset=utf-8"
STATIC_CACHE = "public, max-age=31536000, immutable"
PLAIN_STATIC_CACHE = "public, max-age=86400"
NOT_FOUND_CACHE = "public, max-age=60"
# 404 pages listing the closest towns, at most, each second; past it (a flood of made-up URLs), the 404 page
# without them, prepared once: made-up URLs then cost what a cached page costs, and never slow the others.
SUGGESTIONS_PER_SECOND = 20


class Served:
    """One snapshot and the responses made from it: pages (rendered on first request, then kept, bounded),
    the sitemaps and robots.txt, and the static files."""

    def __init__(self, snapshot: Snapshot, settings: Settings, form_fields: FormFields | None = None) -> None:
        self.snapshot = snapshot
        self.catalog = snapshot.catalog
        self.renderer = snapshot.renderer
        self.loaded_at = snapshot.loaded_at
        self.form_fields = form_fields
        self.cache_control = f"public, max-age={settings.cache_seconds}, stale-while-revalidate=86400"
        self.security_headers: SecurityHeaders = PUBLIC_SECURITY_HEADERS
        if self.catalog.base_url.startswith("https://"):
            self.security_headers += ((b"strict-transport-security", b"max-age=31536000; includeSubDomains"),)
        self._cached = functools.lru_cache(maxsize=settings.page_cache_size)(self._response)
        # Here, at startup and in the reload thread, not on the event loop at the first 404 after a load.
        self.renderer.prepare_suggestions()

    def response(self, path: str) -> CachedResponse | None:
        """The finished response for a page path, or None when there is no such page.

        Only real pages enter the cache, so requests for made-up URLs cannot push pages out of it.
        """
        if not self.renderer.is_page(path):
            return None
        return self._cached(path)

    def _response(self, path: str) -> CachedResponse:
        body = self.renderer.render_path(path).encode()
        if self.form_fields is not None and SLOT in body:
            return SplicedResponse(body, HTML, self.cache_control, self.form_fields, extra_headers=self.security_headers)
        return CachedResponse(body.replace(SLOT, b""), HTML, self.cache_control, extra_headers=self.security_headers)

    @functools.cached_property
    def not_found(self) -> CachedResponse:
        """The 404 page without suggestions, for when the suggestion budget is spent."""
        return CachedResponse(self.renderer.render_not_found("/", suggest=False).encode(), HTML, NOT_FOUND_CACHE,
                              status=404, extra_headers=((b"x-robots-tag", b"noindex"), *self.security_headers))

    @functools.cached_property
    def feeds(self) -> dict[str, CachedResponse]:
        """sitemap(s) and robots.txt, built on first request rather than at every reload."""
        responses = {path: CachedResponse(body, "application/xml; charset=utf-8", self.cache_control,
                                          extra_headers=self.security_headers)
                     for path, body in sitemap_files(self.catalog, self.renderer.held_back).items()}
        responses["/robots.txt"] = CachedResponse(robots_txt(self.catalog), "text/plain; charset=utf-8",
                                                  self.cache_control, extra_headers=self.security_headers)
        return responses

    @functools.cached_property
    def static(self) -> dict[str, CachedResponse]:
        """The static files by fingerprinted name, cached for a year (a changed file gets a new name), and by
        their own name for a day: the address the markup gives for the logo, and /favicon.ico."""
        assets = self.renderer.assets
        responses = {name: CachedResponse(file.data, file.media_type, STATIC_CACHE, extra_headers=self.security_headers)
                     for name, file in assets.files.items()}
        for name, url in assets.urls.items():
            file = assets.files[url.removeprefix("/static/")]
            responses.setdefault(name, CachedResponse(file.data, file.media_type, PLAIN_STATIC_CACHE,
                                                      extra_headers=self.security_headers))
        return responses


class LiveSite:
    """Holds the site being served and replaces it when its files change and the new one is valid."""

    def __init__(self, settings: Settings, form_fields: FormFields | None = None) -> None:
        self.settings = settings
        self.form_fields = form_fields
        # A broken site at startup is the caller's to report.
        self.current = Served(load_snapshot(settings), settings, form_fields)
        self.last_error: ConfigError | None = None
        self.suggestions = RateLimit(SUGGESTIONS_PER_SECOND, 1.0)

    def reload(self) -> bool:
        """Load the files again; True when a new snapshot is now served. An invalid one is logged and dropped."""
        try:
            snapshot = load_snapshot(self.settings)
        except ConfigError as exc:
            if self.last_error is None or exc.problems != self.last_error.problems:
                log.error("site files changed but are invalid; still serving the previous version:\n%s", exc)
            self.last_error = exc
            return False
        self.current = Served(snapshot, self.settings, self.form_fields)
        self.last_error = None
        # The old snapshot is held in cycles (its page cache, hubs and their parts), and the service collects
        # its oldest objects rarely (app.GC_THRESHOLD): free it now.
        gc.collect()
        log.info("site files changed: now serving %d pages", len(snapshot.catalog.pages))
        return True

    async def watch(self) -> None:
        """Check for edits every ``reload_interval`` seconds, forever (cancelled at shutdown)."""
        attempted: tuple[tuple[str, int, int], ...] | None = None
        while True:
            await asyncio.sleep(self.settings.reload_interval)
            try:
                stamp = fingerprint(self.settings)
                if stamp in (self.current.snapshot.fingerprint, attempted):
                    continue
                attempted = stamp
                await asyncio.to_thread(self.reload)
            except Exception:  # a reload bug must not end live reload for the life of the process
                log.exception("live reload failed; still serving the previous version")
