"""Real `landing serve` processes for tests: start on a free loopback port, wait until up, stop."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from tests.leads_helpers import SECRET


def landing_environment(**variables: str) -> dict[str, str]:
    """This process's environment without any LANDING_* setting of the machine's, plus ``variables``: what a
    `landing` child process of a test runs with."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("LANDING_")}, **variables}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_environment(site_dir: Path, **settings: str) -> dict[str, str]:
    """What a test's `landing` process runs with: its database in ``site_dir``, the tests' secret, no live
    reload, limits no test reaches by accident, and ``settings`` (by name: base_url=... is LANDING_BASE_URL)."""
    return landing_environment(**{
        "LANDING_DATABASE_URL": f"sqlite:///{site_dir / 'leads.sqlite3'}",
        "LANDING_SECRET_KEY": SECRET,
        "LANDING_RELOAD_INTERVAL": "0",
        "LANDING_LEADS_PER_ADDRESS": "1000000",
        "LANDING_LEADS_PER_MINUTE": "1000000",
        **{f"LANDING_{key.upper()}": value for key, value in settings.items()},
    })


def start_server(site_dir: Path, port: int, *options: str, log: Path | None = None,
                 **settings: str) -> subprocess.Popen[bytes]:
    """`landing serve --port PORT *options` in ``site_dir``; its output into ``log`` when given."""
    env = server_environment(site_dir, **settings)
    with open(log, "wb") if log else contextlib.nullcontext(subprocess.DEVNULL) as errors:
        return subprocess.Popen([sys.executable, "-m", "landing", "serve", "--port", str(port), *options],
                                cwd=site_dir, env=env, stdout=subprocess.DEVNULL, stderr=errors)


def wait_until_ready(port: int, server: subprocess.Popen[bytes], seconds: float = 30, log: Path | None = None) -> None:
    """Block until the server at ``port`` answers /healthz with 200; fail the test (with its ``log``, if any)
    if it stops or does not answer in time."""
    deadline = time.monotonic() + seconds
    with httpx.Client() as client:
        while True:
            try:
                if client.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                said = log.read_text(errors="replace") if log and log.exists() else "(no log kept)"
                pytest.fail(f"landing serve did not start:\n{said}")
            time.sleep(0.1)


async def wait_until_up(port: int, server: subprocess.Popen[bytes], seconds: float = 30,
                        log: Path | None = None) -> None:
    """wait_until_ready, for async tests (the event loop stays free meanwhile)."""
    await asyncio.to_thread(wait_until_ready, port, server, seconds, log)


def stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=10)


async def until(check: Callable[[], bool | Awaitable[bool]], seconds: float = 30.0) -> None:
    """Wait until ``check()`` (or what it returns, awaited) is true, failing the test after ``seconds``."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not await _value(check()):
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"not true within {seconds} s")
        await asyncio.sleep(0.05)


async def _value(result: bool | Awaitable[bool]) -> bool:
    return await result if inspect.isawaitable(result) else bool(result)
