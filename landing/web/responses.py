"""Pre-built HTTP responses: bytes rendered once, gzipped once, answered many times.

A cached page answers in the time of a dictionary lookup and a header scan, which keeps a landing
page within a few percent of a route that returns constant bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
import zlib
from collections.abc import Callable, Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from landing.pages import SLOT

# Public pages: nothing from a third party may load, so the policy can be this strict.
PUBLIC_SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; "
     b"form-action 'self'; frame-ancestors 'none'; base-uri 'self'"),
)


SecurityHeaders = tuple[tuple[bytes, bytes], ...]

# A per-request slot's bytes, and whether they carry the visitor's own values (a referrer, campaign fields):
# such a response must never be kept by a shared cache and given to the next visitor.
Slot = tuple[bytes, bool]


# What a 304 repeats of the full response (RFC 9110, section 15.4.5).
_KEPT_ON_304 = frozenset({b"etag", b"cache-control", b"vary", b"content-location", b"expires"})


def accepts_gzip(accept_encoding: bytes) -> bool:
    """Whether an Accept-Encoding value allows gzip (an explicit q=0 refuses it)."""
    if b"gzip" not in accept_encoding and b"*" not in accept_encoding:
        return False
    for part in accept_encoding.split(b","):
        coding, _, params = part.strip().partition(b";")
        if coding.strip().lower() in (b"gzip", b"*"):
            quality = params.strip().lower()
            if quality.startswith(b"q="):
                try:
                    return float(quality[2:]) > 0
                except ValueError:
                    return False
            return True
    return False


def etag_matches(if_none_match: bytes, etag: bytes) -> bool:
    """Weak comparison, as If-None-Match uses: W/"x" matches "x"; the gzip variant matches too."""
    if if_none_match.strip() == b"*":
        return True
    tag = etag.strip(b'"')
    for candidate in if_none_match.split(b","):
        candidate = candidate.strip()
        if candidate.startswith(b"W/"):
            candidate = candidate[2:]
        candidate = candidate.strip(b'"')
        if candidate == tag or candidate == tag + b"-gzip":
            return True
    return False


Headers = list[tuple[bytes, bytes]]


def page_headers(media_type: str, cache_control: str, extra_headers: Iterable[tuple[bytes, bytes]]) -> Headers:
    """What every cached response says of itself, whatever its encoding."""
    return [(b"content-type", media_type.encode()), (b"cache-control", cache_control.encode()),
            (b"vary", b"Accept-Encoding"), *extra_headers]


def kept_on_304(headers: Headers) -> Headers:
    return [header for header in headers if header[0] in _KEPT_ON_304]


class CachedResponse:
    """An ASGI response holding a body, its gzip form and their headers, built once."""

    __slots__ = ("status", "body", "gzipped", "etag", "plain_headers", "gzip_headers", "not_modified_headers",
                 "gzip_not_modified_headers")

    def __init__(self, body: bytes, media_type: str, cache_control: str, status: int = 200,
                 extra_headers: Iterable[tuple[bytes, bytes]] = PUBLIC_SECURITY_HEADERS) -> None:
        self.status = status
        self.body = body
        self.gzipped = gzip.compress(body, compresslevel=6, mtime=0)  # 9 costs twice the time for 0.1% smaller
        digest = hashlib.blake2b(body, digest_size=12).hexdigest()
        self.etag = f'"{digest}"'.encode()
        common = page_headers(media_type, cache_control, extra_headers)
        self.plain_headers = [*common, (b"etag", self.etag), (b"content-length", str(len(body)).encode())]
        self.gzip_headers = [
            *common,
            (b"etag", f'"{digest}-gzip"'.encode()),
            (b"content-encoding", b"gzip"),
            (b"content-length", str(len(self.gzipped)).encode()),
        ]
        self.not_modified_headers = kept_on_304(self.plain_headers)
        self.gzip_not_modified_headers = kept_on_304(self.gzip_headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if_none_match = accept_encoding = b""
        for name, value in scope["headers"]:
            if name == b"accept-encoding":
                accept_encoding = value
            elif name == b"if-none-match":
                if_none_match = value
        zipped = bool(accept_encoding) and accepts_gzip(accept_encoding)
        if if_none_match and self.status == 200 and etag_matches(if_none_match, self.etag):
            await send({"type": "http.response.start", "status": 304, "headers": self.not_modified(scope, zipped)})
            await send({"type": "http.response.body", "body": b""})
            return
        headers, body = self.assemble(scope, zipped)
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    def assemble(self, scope: Scope, zipped: bool) -> tuple[list[tuple[bytes, bytes]], bytes]:
        """The headers and body to send (subclasses build them per request)."""
        return (self.gzip_headers, self.gzipped) if zipped else (self.plain_headers, self.body)

    def not_modified(self, scope: Scope, zipped: bool) -> Headers:
        """The headers of a 304 (subclasses choose them per request)."""
        return self.gzip_not_modified_headers if zipped else self.not_modified_headers


_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # no name, mtime 0, max compression, unknown OS


class SplicedResponse(CachedResponse):
    """A cached page with one per-request slot (the lead form's token and attribution fields).

    The page around the slot is rendered and compressed once. Per request, the slot's bytes go between
    them: as plain bytes, or, for gzip, as a stored (uncompressed) deflate block between the two
    precompressed halves, so a fresh token costs a join and a CRC, not a render or a compression. The
    token changes once a second and most visits carry no attribution, so the last assembly is reused
    while the slot's bytes stay the same.

    A slot carrying the visitor's own values (see Slot) makes its response, and its 304, say
    ``personal_cache_control`` (private) instead of ``cache_control``: a CDN must not hand one visitor's
    referrer or campaign to the next, who would send it with their lead. The token alone may be shared:
    any visitor may send a form with it, within the day it is valid.
    """

    __slots__ = ("slot", "prefix", "suffix", "deflated_prefix", "deflated_suffix", "prefix_crc", "plain_common",
                 "gzip_common", "personal_plain_common", "personal_gzip_common", "personal_not_modified_headers",
                 "personal_gzip_not_modified_headers", "_last_plain", "_last_gzip")

    def __init__(self, body: bytes, media_type: str, cache_control: str, slot: Callable[[Scope], Slot],
                 extra_headers: Iterable[tuple[bytes, bytes]] = PUBLIC_SECURITY_HEADERS,
                 personal_cache_control: str | None = None) -> None:
        self.status = 200
        self.slot = slot
        self.prefix, _, self.suffix = body.partition(SLOT)
        head = zlib.compressobj(6, zlib.DEFLATED, -15)
        # A full flush ends the first half on a byte boundary with no references past it.
        self.deflated_prefix = _GZIP_HEADER + head.compress(self.prefix) + head.flush(zlib.Z_FULL_FLUSH)
        tail = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.deflated_suffix = tail.compress(self.suffix) + tail.flush(zlib.Z_FINISH)
        self.prefix_crc = zlib.crc32(self.prefix)
        digest = hashlib.blake2b(self.prefix + self.suffix, digest_size=12).hexdigest()
        self.etag = f'"{digest}"'.encode()
        extra = tuple(extra_headers)
        # The body differs per request in the slot only, so the ETag is weak: same page, different token.
        self.plain_common = [*page_headers(media_type, cache_control, extra), (b"etag", b"W/" + self.etag)]
        self.gzip_common = [*self.plain_common, (b"content-encoding", b"gzip")]
        self.not_modified_headers = kept_on_304(self.plain_common)
        self.gzip_not_modified_headers = kept_on_304(self.gzip_common)
        private = personal_cache_control or cache_control.replace("public", "private")
        self.personal_plain_common = [*page_headers(media_type, private, extra), (b"etag", b"W/" + self.etag)]
        self.personal_gzip_common = [*self.personal_plain_common, (b"content-encoding", b"gzip")]
        self.personal_not_modified_headers = kept_on_304(self.personal_plain_common)
        self.personal_gzip_not_modified_headers = kept_on_304(self.personal_gzip_common)
        self._last_plain: tuple[bytes, list[tuple[bytes, bytes]], bytes] = (b"\0", [], b"")
        self._last_gzip: tuple[bytes, list[tuple[bytes, bytes]], bytes] = (b"\0", [], b"")

    def assemble(self, scope: Scope, zipped: bool) -> tuple[list[tuple[bytes, bytes]], bytes]:
        middle, personal = self.slot(scope)
        last = self._last_gzip if zipped else self._last_plain
        if last[0] == middle:  # the same bytes, so the same visitor values or none
            return last[1], last[2]
        if zipped:
            size = len(self.prefix) + len(middle) + len(self.suffix)
            crc = zlib.crc32(self.suffix, zlib.crc32(middle, self.prefix_crc))
            body = b"".join((self.deflated_prefix, *_stored_blocks(middle), self.deflated_suffix,
                             struct.pack("<II", crc, size & 0xFFFFFFFF)))
            common = self.personal_gzip_common if personal else self.gzip_common
            headers = [*common, (b"content-length", str(len(body)).encode())]
            self._last_gzip = (middle, headers, body)
        else:
            body = b"".join((self.prefix, middle, self.suffix))
            common = self.personal_plain_common if personal else self.plain_common
            headers = [*common, (b"content-length", str(len(body)).encode())]
            self._last_plain = (middle, headers, body)
        return headers, body

    def not_modified(self, scope: Scope, zipped: bool) -> Headers:
        if self.slot(scope)[1]:
            return self.personal_gzip_not_modified_headers if zipped else self.personal_not_modified_headers
        return self.gzip_not_modified_headers if zipped else self.not_modified_headers


def with_security_headers(headers: Iterable[tuple[bytes, bytes]], security: SecurityHeaders) -> list[tuple[bytes, bytes]]:
    """A response's headers, then each of the site's security headers it does not set itself (a response with its
    own policy, the staff area's, keeps it): a new list, the response's own left as they are."""
    merged = list(headers)
    present = {name.lower() for name, _ in merged}
    merged += [header for header in security if header[0] not in present]
    return merged


class AddSecurityHeaders:
    """Middleware giving every response of the app behind it the site's security headers it does not set
    itself (a response with its own policy, the staff area's, keeps it): 4xx and 5xx pages, redirects, the
    lead form's answers, /healthz, Starlette's own 404 and 405. CachedPages answers before it, with the
    headers already in its prepared responses, so the hot path pays nothing for this."""

    def __init__(self, app: ASGIApp, headers: Callable[[], SecurityHeaders]) -> None:
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": with_security_headers(message.get("headers", ()), self.headers())}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _stored_blocks(data: bytes) -> list[bytes]:
    """Deflate stored blocks (not final) holding ``data``; each holds at most 65,535 bytes."""
    blocks = []
    for start in range(0, len(data), 0xFFFF):
        chunk = data[start:start + 0xFFFF]
        blocks.append(b"\x00" + struct.pack("<HH", len(chunk), len(chunk) ^ 0xFFFF) + chunk)
    return blocks
