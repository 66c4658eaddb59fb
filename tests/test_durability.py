"""Every lead that got its 303 survives the server being killed mid-load (a real process, SIGKILL)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx
import pytest

from tests.leads_helpers import rows, valid_form
from tests.servers import free_port, start_server, stop, wait_until_up


@pytest.mark.slow
async def test_every_acknowledged_lead_survives_sigkill_mid_load(site_dir: Path) -> None:
    port = free_port()
    server = start_server(site_dir, port)
    acknowledged: list[str] = []
    try:
        await wait_until_up(port, server)

        async def sender(worker: int, client: httpx.AsyncClient) -> None:
            for n in range(10_000):
                name = f"Patient {worker}-{n}"
                try:
                    response = await client.post("/leads", data=valid_form(name=name))
                except httpx.TransportError:
                    return  # the server is gone: this lead was never acknowledged
                if response.status_code == 303:
                    acknowledged.append(name)

        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10,
                                     limits=httpx.Limits(max_connections=32)) as client:
            senders = [asyncio.create_task(sender(worker, client)) for worker in range(32)]
            while len(acknowledged) < 300:
                await asyncio.sleep(0.01)
                assert server.poll() is None
            server.send_signal(signal.SIGKILL)  # mid-load: requests are in flight
            await asyncio.wait_for(asyncio.gather(*senders), timeout=30)
    finally:
        stop(server)

    restarted = start_server(site_dir, port)
    try:
        await wait_until_up(port, restarted)
        names = {row["name"] for row in rows(site_dir / "leads.sqlite3")}
        notices = len(rows(site_dir / "leads.sqlite3", "outbox"))
    finally:
        stop(restarted)
    assert len(acknowledged) >= 300
    assert set(acknowledged) <= names, f"{len(set(acknowledged) - names)} acknowledged leads were lost"
    assert notices == len(names)  # every stored lead has its notice waiting
