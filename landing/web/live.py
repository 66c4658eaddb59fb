"""The live site: the snapshot being served, with its ready-to-send responses, swapped whole when the
site's files change (and only for a valid new one, read once the files have stopped changing, that does
not take down a large share of the pages unconfirmed: landing.reload_guard)."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import gc
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from starlette.types import Scope

from landing.errors import ConfigError
from landing.leads.guard import RateLimit
from landing.metrics import Metrics
from landing.pages import SLOT
from landing.reload_guard import confirmation_stamp, confirmed_version, dropped, too_large
from landing.settings import Settings
from landing.sitemap import robots_txt, sitemap_files, sitemap_paths, url_count
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
# A path that was a page until a reload a moment ago answers 404 uncached for an hour: if the reload was a
# mistake, put right, no CDN keeps the 404 meanwhile.
GONE_CACHE = "no-store"
GONE_SECONDS = 3600.0
# 404 pages listing the closest towns, at most, each second; past it (a flood of made-up URLs), the 404 page
# without them, prepared once: made-up URLs then cost what a cached page costs, and never slow the others.
SUGGESTIONS_PER_SECOND = 20
# A site with a quality gate and at least this many town pages is served at once when the service starts, its
# town pages from when they are measured (503 until then, with Retry-After): a first start measures every page
# (20 s or more at 25,000 towns), and the leads, the staff area and the rest need not wait for it.
PROVISIONAL_PAGES = 2_000
RETRY_AFTER_SECONDS = 30
GATE_RETRY_SECONDS = 60.0  # after a measure that failed


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
        self._preparing: dict[str | None, CachedResponse] = {}  # by office: see preparing
        # Here, at startup and in the reload thread, not on the event loop at the first 404 after a load.
        self.renderer.prepare_suggestions()

    def response(self, path: str) -> CachedResponse | None:
        """The finished response for a page path, or None when there is no such page.

        Only real pages enter the cache, so requests for made-up URLs cannot push pages out of it.
        """
        if not self.renderer.is_page(path):
            return None
        if self.renderer.measuring:
            page = self.catalog.pages.get(path)
            if page is not None:
                return self.preparing(page.office.id)
        return self._cached(path)

    def preparing(self, office: str | None) -> CachedResponse:
        """What a town page answers until the quality gate has measured it: 503 (search engines come back, and
        keep what they had), with ``office``'s phone for a visitor who would rather call. Built once per office."""
        response = self._preparing.get(office)
        if response is None:
            html = self.renderer.render_message(
                "This page will be ready in a moment", "We are preparing our pages. Please try again in a minute.",
                self.catalog.site.offices_by_id.get(office or ""))
            headers = ((b"retry-after", str(RETRY_AFTER_SECONDS).encode()), (b"x-robots-tag", b"noindex"),
                       *self.security_headers)
            response = self._preparing[office] = CachedResponse(html.encode(), HTML, GONE_CACHE, status=503,
                                                                extra_headers=headers)
        return response

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
    def gone(self) -> CachedResponse:
        """The same, uncached, for a path that was a page until a moment ago (LiveSite.was_page)."""
        return CachedResponse(self.not_found.body, HTML, GONE_CACHE, status=404,
                              extra_headers=((b"x-robots-tag", b"noindex"), *self.security_headers))

    def cache_counts(self) -> tuple[int, int]:
        info = self._cached.cache_info()
        return info.hits, info.misses

    @functools.cached_property
    def feeds(self) -> dict[str, CachedResponse]:
        """sitemap(s) and robots.txt, built on first request rather than at every reload."""
        if self.renderer.measuring:  # a sitemap without the town pages would tell search engines they went
            responses = {path: self.preparing(None) for path in sitemap_paths(url_count(self.catalog))}
        else:
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

    def __init__(self, settings: Settings, form_fields: FormFields | None = None, metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.form_fields = form_fields
        self.metrics = metrics
        # A broken site at startup is the caller's to report. A large gated one is measured after startup (settle).
        started = time.monotonic()
        self.current = Served(self._load(early=True), settings, form_fields)
        self.last_error: ConfigError | None = None
        self.suggestions = RateLimit(SUGGESTIONS_PER_SECOND, 1.0)
        self.gone: dict[str, float] = {}  # paths that stopped being pages at a reload -> when (monotonic)
        self.retired_cache = (0, 0)  # the page cache's hits and misses of the snapshots served before
        self.published = 0  # the published version of the towns served (landing.publish); 0: the file on disk
        self.reloading = threading.Lock()  # one reload at a time: the file watcher's or a publish's
        # Told (old snapshot, new snapshot) in the reloading thread after each swap that changes what visitors see
        # (not the catching up of a starting instance): landing/web/indexnow.py.
        self.listeners: list[Callable[[Snapshot, Snapshot], None]] = []
        if metrics is not None:
            metrics.watch_cache(self.cache_counts)
            metrics.site_loaded(self.current.snapshot.version, len(self.current.catalog.pages))
            metrics.site_measured(self.current.renderer.measuring, time.monotonic() - started)

    def cache_counts(self) -> tuple[int, int]:
        """The page cache's hits and misses since startup, over every snapshot served."""
        hits, misses = self.current.cache_counts()
        return self.retired_cache[0] + hits, self.retired_cache[1] + misses

    def was_page(self, path: str) -> bool:
        """Whether ``path`` was a page until a reload less than GONE_SECONDS ago."""
        went = self.gone.get(path) if self.gone else None
        return went is not None and time.monotonic() - went < GONE_SECONDS

    def reload(self, guard: bool = True) -> bool:
        """Load the files again; True when a new snapshot is now served. One that is invalid, read while its files
        changed, or that would remove too many pages unconfirmed (``guard``), is logged and dropped."""
        with self.reloading:
            return self._reload(guard)

    def use_locations(self, path: Path, published: int, announce: bool = True, early: bool = False) -> bool:
        """Serve the towns of ``path`` (published version ``published``, written whole) from now on, if they load;
        else keep serving the previous pages, as a file reload does. A publish was previewed and confirmed: it
        may remove any share of the pages. ``early``: at startup, a large gated site's pages are measured later
        (settle)."""
        with self.reloading:
            previous = self.settings
            self.settings = self.settings.replace(locations_file=path)
            if self._reload(guard=False, announce=announce, early=early):
                self.published = published
                return True
            self.settings = previous
            return False

    def _load(self, early: bool = False) -> Snapshot:
        """The site's files loaded, the quality gate measured, but when ``early`` for a large gated site: it is
        then measured by ``settle`` while the rest of the site is served."""
        snapshot = load_snapshot(self.settings, measure=False)
        if snapshot.renderer.measuring and not (early and len(snapshot.catalog.pages) >= PROVISIONAL_PAGES):
            snapshot.renderer = snapshot.renderer.measured()
        return snapshot

    def settle(self) -> None:
        """Measure the quality gate of the snapshot served unmeasured since startup, and serve its town pages."""
        with self.reloading:
            old = self.current
            if not old.renderer.measuring:
                return
            started = time.monotonic()
            log.info("measuring %d town pages for the quality gate; they answer 503 until then",
                     len(old.catalog.pages))
            snapshot = dataclasses.replace(old.snapshot, renderer=old.renderer.measured())
            self._serve(snapshot)
            del old
            gc.collect()
            seconds = time.monotonic() - started
            if self.metrics is not None:
                self.metrics.site_measured(False, seconds)
            log.info("quality gate measured in %.1f s: now serving %d town pages (%d held back)",
                     seconds, len(snapshot.catalog.pages), len(snapshot.renderer.held_back))

    def _serve(self, snapshot: Snapshot) -> None:
        """Serve ``snapshot`` from now on, counting the hits and misses of the page cache it replaces."""
        hits, misses = self.current.cache_counts()
        self.retired_cache = (self.retired_cache[0] + hits, self.retired_cache[1] + misses)
        self.current = Served(snapshot, self.settings, self.form_fields)

    async def measure_gate(self) -> None:
        """``settle`` in a thread until it succeeds; one that fails (it should not) is logged and tried again."""
        while self.current.renderer.measuring:
            try:
                await asyncio.to_thread(self.settle)
            except Exception:  # the town pages must not stay unserved for the life of the process
                log.exception("measuring the quality gate failed; town pages answer 503 until it succeeds (next "
                              "try in %.0f s)", GATE_RETRY_SECONDS)
                await asyncio.sleep(GATE_RETRY_SECONDS)

    def _reload(self, guard: bool, announce: bool = True, early: bool = False) -> bool:
        started = time.monotonic()
        try:
            snapshot = self._load(early)
        except ConfigError as exc:
            self.refuse(exc, "site files changed but are invalid; still serving the previous version:\n%s")
            return False
        if fingerprint(self.settings) != snapshot.fingerprint:
            log.info("site files changed while they were read; they are loaded once they stop changing")
            return False
        old = self.current
        lost = dropped(old.catalog.pages, snapshot.catalog.pages)
        maximum = self.settings.reload_max_drop
        if guard and too_large(len(old.catalog.pages), len(lost), maximum) and \
                confirmed_version(self.settings) != snapshot.version:
            self.refuse(ConfigError([
                f"site files changed but would remove {len(lost):,} of the {len(old.catalog.pages):,} town pages "
                f"({len(lost) / len(old.catalog.pages):.0%}; LANDING_RELOAD_MAX_DROP is {maximum:.0%}): a file may "
                f"be half-written or truncated. Still serving the previous version (site version {old.snapshot.version}). "
                f"If the removal is meant, run `landing confirm` in the site folder: it checks the files and "
                f"the service then loads exactly them (version {snapshot.version})."]), "%s")
            return False
        now = time.monotonic()
        lost += [part.path for part in old.catalog.hub_parts if not snapshot.renderer.is_page(part.path)]
        gone = {path: went for path, went in self.gone.items()
                if now - went < GONE_SECONDS and not snapshot.renderer.is_page(path)}
        gone.update(dict.fromkeys(lost, now))
        self.gone = gone  # before the swap: no 404 of a path that was a page just now is ever sent cacheable
        self._serve(snapshot)
        self.last_error = None
        if announce and not old.renderer.measuring:  # every page of one not measured yet counts as held back
            for listener in self.listeners:
                try:
                    listener(old.snapshot, snapshot)
                except Exception:  # telling others of a change must never undo it
                    log.exception("a listener of site changes failed; the new version is served all the same")
        # The old snapshot is held in cycles (its page cache, hubs and their parts), and the service collects
        # its oldest objects rarely (app.GC_THRESHOLD): free it now.
        del old
        gc.collect()
        if self.metrics is not None:
            self.metrics.reloads.inc()
            self.metrics.site_loaded(snapshot.version, len(snapshot.catalog.pages))
            self.metrics.site_measured(snapshot.renderer.measuring, time.monotonic() - started)
        log.info("site files changed: now serving %d pages (site version %s%s)", len(snapshot.catalog.pages),
                 snapshot.version, f"; {len(lost):,} pages removed" if lost else "")
        return True

    def refuse(self, error: ConfigError, message: str) -> None:
        """Keep the previous version serving, and say why once (not again while the same problem stands)."""
        if self.last_error is None or error.problems != self.last_error.problems:
            log.error(message, error)
        self.last_error = error
        if self.metrics is not None:
            self.metrics.reload_failures.inc()

    def stamp(self) -> tuple[object, ...]:
        """What the watcher compares: the site files, and the confirmation `landing confirm` writes."""
        return fingerprint(self.settings), confirmation_stamp(self.settings)

    async def watch(self) -> None:
        """Check for edits every ``reload_interval`` seconds, forever (cancelled at shutdown). A changed file is
        loaded only once it has kept its size and modification time for ``reload_settle_seconds``: an editor
        or an upload still writing it is waited for, not served half-written."""
        attempted: tuple[object, ...] | None = None
        while True:
            await asyncio.sleep(self.settings.reload_interval)
            try:
                stamp = self.stamp()
                if stamp[0] == self.current.snapshot.fingerprint or stamp == attempted:
                    continue
                await asyncio.sleep(self.settings.reload_settle_seconds)
                if self.stamp() != stamp:
                    continue  # still changing: look again at the next check
                attempted = stamp
                await asyncio.to_thread(self.reload)
            except Exception:  # a reload bug must not end live reload for the life of the process
                log.exception("live reload failed; still serving the previous version")
