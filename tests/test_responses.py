"""Pre-built responses: content negotiation, validators, and the per-visitor slot inside gzip."""

from __future__ import annotations

import gzip
import zlib

import pytest

from landing.pages import SLOT
from landing.web.responses import SplicedResponse, accepts_gzip, etag_matches


@pytest.mark.parametrize(
    ("header", "expected"),
    [(b"gzip", True), (b"gzip, deflate, br", True), (b"br;q=1.0, gzip;q=0.8", True), (b"*", True),
     (b"identity", False), (b"gzip;q=0", False), (b"gzip;q=0.0, identity", False), (b"", False), (b"deflate", False)],
)
def test_accepts_gzip_follows_the_q_values(header: bytes, expected: bool) -> None:
    assert accepts_gzip(header) is expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [(b'"abc"', True), (b'W/"abc"', True), (b'"x", "abc"', True), (b'"abc-gzip"', True), (b"*", True),
     (b'"abcd"', False), (b'"x"', False)],
)
def test_if_none_match_uses_weak_comparison(header: bytes, expected: bool) -> None:
    assert etag_matches(header, b'"abc"') is expected


PAGE = b"<html><body>" + b"<p>Local pain care in Barrington.</p>" * 500 + SLOT + b"<footer>end</footer>" * 200 + b"</body></html>"


@pytest.mark.parametrize("slot_size", [0, 40, 70_000])
def test_the_gzip_stream_with_a_spliced_slot_is_valid_and_equals_the_plain_page(slot_size: int) -> None:
    response = SplicedResponse(PAGE, "text/html", "public", lambda scope: (b"t" * slot_size, False))
    _, zipped = response.assemble({}, zipped=True)
    _, plain = response.assemble({}, zipped=False)
    assert plain == PAGE.replace(SLOT, b"t" * slot_size)
    inflater = zlib.decompressobj(wbits=31)  # strict: checks the CRC and the length trailer
    assert inflater.decompress(zipped) == plain and inflater.eof and inflater.unused_data == b""
    assert gzip.decompress(zipped) == plain


async def test_head_sends_the_headers_of_get_without_a_body() -> None:
    response = SplicedResponse(PAGE, "text/html", "public", lambda scope: (b"slot", False))
    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    async def receive() -> dict[str, object]:
        return {}

    await response({"method": "HEAD", "headers": []}, receive, send)  # type: ignore[arg-type]
    headers = dict(sent[0]["headers"])  # type: ignore[arg-type]
    assert int(headers[b"content-length"]) == len(PAGE.replace(SLOT, b"slot"))
    assert sent[1]["body"] == b""
