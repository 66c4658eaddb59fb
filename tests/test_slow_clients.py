"""Connections that send nothing, half a request or half a body are answered 408 and closed after
LANDING_CLIENT_TIMEOUT, and cost the visitors who do send their requests nothing meanwhile. A real `landing serve`,
real sockets."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port, start_server, stop, wait_until_up

pytestmark = pytest.mark.slow

STALLS = {
    "nothing": b"",
    "half a request line": b"GET /intrathecal-pump-the",
    "half the headers": b"GET / HTTP/1.1\r\nHost: pain.example.com\r\nUser-Agent: slo",
    "half a body": (b"POST /leads HTTP/1.1\r\nHost: pain.example.com\r\ncontent-type: application/x-www-form-urlencoded\r\n"
                    b"content-length: 400\r\n\r\ntreatment=intrathecal-pump-therapy&town=ca"),
}


async def stall(port: int, sent: bytes) -> tuple[bytes, float]:
    """Send ``sent``, then nothing: what comes back, and after how long the server closed the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    start = time.monotonic()
    writer.write(sent)
    await writer.drain()
    try:
        answer = await asyncio.wait_for(reader.read(), timeout=10)  # until the server closes
    finally:
        writer.close()
    return answer, time.monotonic() - start


async def test_stalling_connections_get_408_and_are_closed_while_others_are_served(site_dir: Path) -> None:
    port = free_port()
    server = start_server(site_dir, port, client_timeout="1")
    try:
        await wait_until_up(port, server)
        stalling = {name: asyncio.create_task(stall(port, sent)) for name, sent in STALLS.items()}
        await asyncio.sleep(0.3)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            start = time.monotonic()
            assert (await client.get("/intrathecal-pump-therapy/cary-il/")).status_code == 200
            assert time.monotonic() - start < 0.5  # not held up by the stalled ones
        for name, task in stalling.items():
            answer, seconds = await task
            assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), (name, answer[:80])
            assert 0.9 <= seconds < 3, (name, seconds)
    finally:
        stop(server)


async def test_a_kept_alive_connection_that_stalls_mid_request_is_closed_too(site_dir: Path) -> None:
    port = free_port()
    server = start_server(site_dir, port, client_timeout="1")
    try:
        await wait_until_up(port, server)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: pain.example.com\r\n\r\n")
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert head.startswith(b"HTTP/1.1 200")
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
            await reader.readexactly(length)
            start = time.monotonic()
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: pain.exa")  # the next request, never finished
            await writer.drain()
            rest = await asyncio.wait_for(reader.read(), 10)
            assert rest.startswith(b"HTTP/1.1 408") and time.monotonic() - start < 3
        finally:
            writer.close()
    finally:
        stop(server)
