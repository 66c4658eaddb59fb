"""POST /leads without Starlette's request machinery: the lead form's hot path.

The route (leads.submit_lead) answers the same post the same way, but through three middlewares that each wrap
``send``, the exception middleware, the router, a Request and its header parsing: together more CPU than the
checks and the insert of a lead. LeadIntake reads what leads.answer_lead needs straight from the ASGI scope and
does in one ``send`` what RequestContext and AddSecurityHeaders would add (the request id, the route family's
timing, the site's security headers). Every other request, GET /leads too (its 405), goes on to the app.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable

from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from landing.logs import REQUEST_ID, valid_request_id
from landing.metrics import Metrics
from landing.web.leads import LeadDesk, Posted, answer_lead
from landing.web.live import LiveSite
from landing.web.responses import SecurityHeaders, with_security_headers

PATH = "/leads"
FAMILY = "lead"  # observe.FAMILY_OF_ROUTE of the route it stands in for


def posted_from(scope: Scope) -> tuple[Posted, str]:
    """The post's Posted (the first of each header, as Starlette's Headers.get) and its X-Request-ID."""
    content_type = content_length = user_agent = request_id = None
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = content_type if content_type is not None else value
        elif name == b"content-length":
            content_length = content_length if content_length is not None else value
        elif name == b"user-agent":
            user_agent = user_agent if user_agent is not None else value
        elif name == b"x-request-id":
            request_id = request_id if request_id is not None else value
    client = scope.get("client")
    posted = Posted((content_type or b"").decode("latin-1"), (content_length or b"").decode("latin-1"),
                    (user_agent or b"").decode("latin-1"), client[0] if client else "unknown")
    return posted, (request_id or b"").decode("latin-1")


async def body_chunks(receive: Receive) -> AsyncIterator[bytes]:
    """The request body as Starlette's Request.stream() gives it: ClientDisconnect when the client goes away."""
    while True:
        message = await receive()
        if message["type"] == "http.request":
            body = message.get("body", b"")
            if body:
                yield body
            if not message.get("more_body", False):
                return
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()


def response_headers(response: Response, security: SecurityHeaders, request_id: str) -> list[tuple[bytes, bytes]]:
    """The headers the route's answer leaves the app with: its own, the security headers it does not set itself
    (AddSecurityHeaders), then the request id (RequestContext)."""
    headers = with_security_headers(response.raw_headers, security)
    headers.append((b"x-request-id", request_id.encode()))
    return headers


class LeadIntake:
    """Middleware answering POST /leads itself (see the module's doc); placed after CachedPages, before
    RequestContext, so that what it does not answer meets the app as before."""

    def __init__(self, app: ASGIApp, site: LiveSite, metrics: Metrics,
                 headers: Callable[[], SecurityHeaders]) -> None:
        self.app = app
        self.site = site
        self.headers = headers
        self.timer = metrics.latency.timer(FAMILY)  # bound once: this is the hot path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        posted, request_id = posted_from(scope)
        if not valid_request_id(request_id):
            request_id = os.urandom(8).hex()
        token = REQUEST_ID.set(request_id)
        try:
            leads: LeadDesk = scope["state"]["leads"]
            response = await answer_lead(leads, self.site, posted, body_chunks(receive))
            await send({"type": "http.response.start", "status": response.status_code,
                        "headers": response_headers(response, self.headers(), request_id)})
            await send({"type": "http.response.body", "body": response.body})
        finally:
            REQUEST_ID.reset(token)
            self.timer(time.perf_counter() - start)
