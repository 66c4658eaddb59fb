"""What an operator sees of the requests: an id per request on every log line (and in X-Request-ID), the
latency of each by route family, and /metrics for the addresses allowed to read it."""

from __future__ import annotations

import ipaddress
import os
import time

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from landing.leads.health import HealthCheck
from landing.logs import REQUEST_ID, valid_request_id
from landing.metrics import CONTENT_TYPE, Metrics

# Route names -> the family their latency is counted in (the routes' own names, see app.py and public.py).
FAMILY_OF_ROUTE = {"submit_lead": "lead", "thank_you": "thank_you", "healthz": "health", "metrics": "metrics",
                   "robots": "feed", "sitemap": "feed", "sitemap_part": "feed", "static": "static",
                   "favicon": "static", "touch_icon": "static"}


def family(scope: Scope, status: int) -> str:
    route = scope.get("route")
    name = getattr(route, "name", "")
    if getattr(route, "path", "").startswith("/admin"):
        return "admin"
    if name == "page":  # what CachedPages did not answer: another spelling of a page, or nothing
        return "redirect" if 300 <= status < 400 else "not_found"
    return FAMILY_OF_ROUTE.get(name, "other")


class RequestContext:
    """Middleware (behind CachedPages, whose cached answers log nothing and time themselves): gives each request an
    id (the proxy's X-Request-ID when it is well-formed, else a new one) for its log lines and its response, and
    times it by route family."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")
                break
        if not valid_request_id(request_id):
            request_id = os.urandom(8).hex()
        token = REQUEST_ID.set(request_id)
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", request_id.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)
            self.metrics.observe(family(scope, status), time.perf_counter() - start)


class Allowed:
    """Client addresses or networks (LANDING_METRICS_ALLOW, already checked by the setting's parser)."""

    def __init__(self, listed: str) -> None:
        self.networks = [ipaddress.ip_network(item.strip(), strict=False) for item in listed.split(",") if item.strip()]

    def __contains__(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:  # "unknown", a Unix socket's peer
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.networks)


def metrics_route(metrics: Metrics, allowed: Allowed) -> BaseRoute:
    async def read_metrics(request: Request) -> Response:
        # The client address is the one uvicorn believes: behind a trusted proxy, the visitor's, never the proxy's.
        if request.client is None or request.client.host not in allowed:
            return PlainTextResponse("Not allowed from this address (LANDING_METRICS_ALLOW)", status_code=403,
                                     headers={"cache-control": "no-store"})
        health: HealthCheck = request.state.leads.health
        found = await health.check()
        metrics.health(found.ok, found.pending, found.oldest_seconds)
        return Response(metrics.render(), media_type=CONTENT_TYPE, headers={"cache-control": "no-store"})

    return Route("/metrics", read_metrics, name="metrics")
