"""Slow clients are closed: a connection that sends nothing, half a request's headers or half its body holds a
socket, a parser and (once the headers are in) a task for as long as it likes, and a few thousand of them
are cheap to open. uvicorn times out only idle kept-alive connections; this protocol gives every request
LANDING_CLIENT_TIMEOUT seconds, from the connection opening (or the request's first byte on a kept-alive
connection) to its last body byte, then answers 408 and closes.

Each connection only notes when its request began (a timer per request would cost 5 us of the 100 a cached
page costs); one sweep a fraction of the limit apart closes those past it, while there are connections.

A proxy in front should enforce its own limits too (README: Deployment): it buffers a request before it
reaches the service, so there the service's limit catches only a proxy that does not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from landing.settings import Settings

_MESSAGE = b"The request was not sent in time.\n"
REQUEST_TIMEOUT = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
                   b"content-length: " + str(len(_MESSAGE)).encode() + b"\r\nconnection: close\r\n\r\n" + _MESSAGE)
SWEEPS_PER_LIMIT = 4  # a slow connection is closed between the limit and a quarter more (at most a second more)


class SlowClientsClosed(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a deadline for each request to arrive whole."""

    # Set by landing serve; a worker process of `landing serve --workers N` reads LANDING_CLIENT_TIMEOUT itself.
    timeout: float | None = None
    began: float | None = None  # when the request being received began (loop time); None once it is all in

    @classmethod
    def limit(cls) -> float:
        if cls.timeout is None:
            cls.timeout = Settings.from_env().client_timeout
        return cls.timeout

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.began = self.loop.time()
        state = self.server_state
        if not getattr(state, "sweeping", False):  # the first connection since the last one closed
            state.sweeping = True  # type: ignore[attr-defined]
            self.loop.call_later(self._every(), _sweep, self.loop, state, self.limit())

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.began is None:  # the next request on a kept-alive connection
            self.began = self.loop.time()

    def on_message_complete(self) -> None:
        self.began = None
        super().on_message_complete()

    def _every(self) -> float:
        return min(1.0, self.limit() / SWEEPS_PER_LIMIT)

    def too_slow(self) -> None:
        self.began = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        # No answer has begun: the headers are not all in (cycle is the previous request's, or none), or the
        # body is not (the app is still reading it; it hears of the disconnection and answers no one).
        if cycle is None or cycle.response_complete or not cycle.response_started:
            self.transport.write(REQUEST_TIMEOUT)
        self.transport.close()


def _sweep(loop: asyncio.AbstractEventLoop, state: object, limit: float) -> None:
    """Close every connection whose request began ``limit`` seconds ago or more; again later while any are open."""
    connections: Collection[object] = state.connections  # type: ignore[attr-defined]
    now = loop.time()
    for protocol in list(connections):
        began = getattr(protocol, "began", None)
        if began is not None and now - began >= limit and isinstance(protocol, SlowClientsClosed):
            protocol.too_slow()
    if connections:
        loop.call_later(min(1.0, limit / SWEEPS_PER_LIMIT), _sweep, loop, state, limit)
    else:
        state.sweeping = False  # type: ignore[attr-defined]
