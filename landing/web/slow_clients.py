"""Slow clients are closed: a connection that sends nothing, half a request's headers or half its body holds a
socket, a parser and (once the headers are in) a task for as long as it likes, and a few thousand of them
are cheap to open. uvicorn times out only idle kept-alive connections; this protocol gives every request
LANDING_CLIENT_TIMEOUT seconds, from the connection opening (or the request's first byte on a kept-alive
connection) to its last body byte, then answers 408 and closes.

A proxy in front should enforce its own limits too (README: Deployment): it buffers a request before it
reaches the service, so there the service's limit catches only a proxy that does not.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from landing.settings import Settings

_MESSAGE = b"The request was not sent in time.\n"
REQUEST_TIMEOUT = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
                   b"content-length: " + str(len(_MESSAGE)).encode() + b"\r\nconnection: close\r\n\r\n" + _MESSAGE)


class SlowClientsClosed(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a deadline for each request to arrive whole."""

    # Set by landing serve; a worker process of `landing serve --workers N` reads LANDING_CLIENT_TIMEOUT itself.
    timeout: float | None = None
    _deadline: asyncio.TimerHandle | None = None

    @classmethod
    def limit(cls) -> float:
        if cls.timeout is None:
            cls.timeout = Settings.from_env().client_timeout
        return cls.timeout

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:  # the next request on a kept-alive connection
            self._arm()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._deadline = self.loop.call_later(self.limit(), self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        # No answer has begun: the headers are not all in (cycle is the previous request's, or none), or the
        # body is not (the app is still reading it; it hears of the disconnection and answers no one).
        if cycle is None or cycle.response_complete or not cycle.response_started:
            self.transport.write(REQUEST_TIMEOUT)
        self.transport.close()
