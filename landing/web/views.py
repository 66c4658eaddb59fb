"""GET /v/<page>: the page view counter of a static build's pages (landing.build puts it in each page as a
1x1 image), for pages a CDN serves without asking the origin. Answered with a transparent GIF that no cache
may keep, so every display of the page asks again."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from landing.pageviews import ViewCounter
from landing.web.leads import client_address, site

COUNTER_PREFIX = "/v"
PIXEL = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00"
         b"\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
COUNTER_HEADERS = {"cache-control": "no-store", "x-robots-tag": "noindex"}


def counter_url(path: str) -> str:
    """The counter's address for a page path: /v/ followed by the page's own path."""
    return COUNTER_PREFIX + path


async def count_view(request: Request) -> Response:
    page = "/" + request.path_params["page"]
    views: ViewCounter | None = request.state.views
    if views is not None and request.method == "GET" and site(request).current.renderer.is_page(page):
        # The image's Referer is the page's own address, query and all (a same-origin request): its campaign.
        referer = request.headers.get("referer", "")
        parts = urlsplit(referer) if referer else None
        query = parts.query.encode("latin-1", "replace") if parts and parts.path == page else b""
        views.count(page, client_address(request), request.headers.get("user-agent", "").encode("latin-1", "replace"),
                    query)
    return Response(PIXEL, media_type="image/gif", headers=COUNTER_HEADERS)


def routes() -> list[BaseRoute]:
    return [Route(COUNTER_PREFIX + "/{page:path}", count_view, methods=["GET", "HEAD"], name="count_view")]
