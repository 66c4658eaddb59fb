"""Public routes: each parses the request, asks the current snapshot, and answers."""

from __future__ import annotations

import re
import time

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from landing.leads.health import HealthCheck
from landing.metrics import Metrics
from landing.pages import Renderer
from landing.pageviews import ViewCounter
from landing.web.live import GONE_CACHE, NOT_FOUND_CACHE, LiveSite

NOT_FOUND_HEADERS = {"cache-control": NOT_FOUND_CACHE, "x-robots-tag": "noindex"}
GONE_HEADERS = {"cache-control": GONE_CACHE, "x-robots-tag": "noindex"}
CATCH_ALL = "/{path:path}"
SUGGESTED = "404"  # the one key of LiveSite.suggestions


class CachedPages:
    """Middleware answering GET and HEAD of a page straight from the render cache, before routing.

    A landing page is the hot path; matching it against every route first would cost more than
    sending it. So is a flood of made-up URLs once the suggestion budget is spent: a path no route but
    the catch-all claims, and no other spelling of a page, gets the prepared 404 page here. Anything
    else goes on to the router as usual.
    """

    def __init__(self, app: ASGIApp, site: LiveSite, claimed: tuple[str, ...] = (), metrics: Metrics | None = None,
                 views: ViewCounter | None = None) -> None:
        self.app = app
        self.site = site
        self.views = views  # counts each GET of a page answered here (a 304 too): landing.pageviews
        self.claimed = claimed  # the path prefixes of the routes other than the catch-all
        # Told the seconds each answer given here took, by family (bound once: this is the hot path).
        self.timers = {family: metrics.latency.timer(family) for family in ("page", "not_found")} if metrics else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            start = time.perf_counter()
            served = self.site.current
            path = scope["path"]
            response = served.response(path)
            family = "page"
            if response is None and not path.startswith(self.claimed) and not self.site.suggestions.room(
                    SUGGESTED, time.monotonic()) and canonical_path(path, served.renderer) is None:
                response = served.gone if self.site.was_page(path) else served.not_found
                family = "not_found"
            if response is not None:
                await response(scope, receive, send)
                # (not a town page's 503 while the quality gate measures it: nobody saw the page)
                if self.views is not None and family == "page" and scope["method"] == "GET" and response.status == 200:
                    self.views.count_request(scope)
                if self.timers is not None:
                    self.timers[family](time.perf_counter() - start)
                return
        await self.app(scope, receive, send)


def claimed_prefixes(routes: list[BaseRoute]) -> tuple[str, ...]:
    """What each route's path starts with, but the catch-all's: paths the router may give to another route."""
    return tuple(dict.fromkeys(route.path.split("{")[0] for route in routes
                                 if isinstance(route, Route) and route.path != CATCH_ALL))


def live_site(request: Request) -> LiveSite:
    return request.state.site  # type: ignore[no-any-return]


async def page(request: Request) -> ASGIApp:
    """Everything CachedPages did not answer: a redirect to the canonical URL, else 404."""
    return not_found_or_redirect(request, live_site(request))


def canonical_path(path: str, renderer: Renderer) -> str | None:
    """Where another spelling of a page lives: capitals, a missing trailing slash, doubled slashes, an alias."""
    candidate = re.sub(r"/{2,}", "/", path.lower())
    if not candidate.endswith("/"):
        candidate += "/"
    if renderer.is_page(candidate):
        return candidate if candidate != path else None
    return renderer.catalog.redirects.get(candidate)


def not_found_or_redirect(request: Request, site: LiveSite) -> ASGIApp:
    served = site.current
    target = canonical_path(request.scope["path"], served.renderer)
    if target is not None:
        query = request.scope.get("query_string", b"").decode("latin-1")
        return RedirectResponse(target + (f"?{query}" if query else ""), status_code=301)
    was_page = site.was_page(request.scope["path"])
    if not site.suggestions.hit(SUGGESTED):
        return served.gone if was_page else served.not_found
    html = served.renderer.render_not_found(request.scope["path"])
    return HTMLResponse(html, status_code=404, headers=GONE_HEADERS if was_page else NOT_FOUND_HEADERS)


async def feed(request: Request) -> ASGIApp:
    """sitemap.xml, /sitemaps/N.xml and robots.txt."""
    snapshot = live_site(request).current
    response = snapshot.feeds.get(request.scope["path"])
    return response if response is not None else not_found_or_redirect(request, live_site(request))


async def static_file(request: Request) -> ASGIApp:
    name = request.path_params.get("name") or request.url.path.lstrip("/")  # /favicon.ico is static/favicon.ico
    response = live_site(request).current.static.get(name)
    if response is None:
        return Response("Not found", status_code=404, media_type="text/plain")
    return response


async def healthz(request: Request) -> Response:
    """For load balancers and monitors: 200 when a lead could be stored now (landing.leads.health), else 503 with
    the cause; the notification backlog and the site version served, either way."""
    site = live_site(request)
    catalog = site.current.catalog
    health: HealthCheck = request.state.leads.health
    found = await health.check()
    return JSONResponse(
        {
            "status": "ok" if found.ok else "unavailable",
            "database": found.database,
            "notifications_pending": found.pending,
            "oldest_notification_seconds": found.oldest_seconds,
            "site_version": site.current.snapshot.version,
            "towns_version": site.published,  # the published version of the towns served; 0: the file on disk
            "pages": len(catalog.pages),
            "towns": len(catalog.locations),
            "treatments": len(catalog.hubs),
            "loaded_seconds_ago": round(time.time() - site.current.loaded_at, 1),
            "reload_error": site.last_error is not None,
            "measuring": site.current.renderer.measuring,  # town pages answer 503 until the quality gate is measured
        },
        status_code=200 if found.ok else 503,
        headers={"cache-control": "no-store"},
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/healthz", healthz, name="healthz"),
        Route("/robots.txt", feed, name="robots"),
        Route("/sitemap.xml", feed, name="sitemap"),
        Route("/sitemaps/{number:int}.xml", feed, name="sitemap_part"),
        Route("/static/{name:path}", static_file, name="static"),
        Route("/favicon.ico", static_file, name="favicon"),
        Route("/apple-touch-icon.png", static_file, name="touch_icon"),
        Route(CATCH_ALL, page, name="page"),
    ]
