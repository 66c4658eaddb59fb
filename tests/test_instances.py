"""Two real `landing serve` processes on one PostgreSQL (and Redis): what a load-balanced practice relies on."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.leads_helpers import valid_form
from tests.mail import lead_ids, smtp_server
from tests.servers import (
    free_port,
    landing_environment,
    start_server,
    stop,
    until,
    wait_until_up,
)

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"


@pytest.fixture
async def two_instances(site_dir: Path, postgres_url: str):  # type: ignore[no-untyped-def]
    smtp_port = free_port()
    settings = {"database_url": postgres_url, "smtp_url": f"smtp://127.0.0.1:{smtp_port}",
                "notify_retry_seconds": "0.2", "notify_lease_seconds": "2", "base_url": "http://127.0.0.1"}
    ports = [free_port(), free_port()]
    servers = [start_server(site_dir, port, **settings) for port in ports]
    try:
        await asyncio.gather(*(wait_until_up(port, server) for port, server in zip(ports, servers)))
        yield ports, servers, smtp_port, settings
    finally:
        for server in servers:
            stop(server)


async def test_each_notice_is_sent_once_with_two_instances_sending(two_instances) -> None:  # type: ignore[no-untyped-def]
    ports, _, smtp_port, _ = two_instances
    with smtp_server(smtp_port) as inbox:
        async with httpx.AsyncClient(timeout=10) as client:
            for n in range(30):
                port = ports[n % 2]
                response = await client.post(f"http://127.0.0.1:{port}/leads", data=valid_form(name=f"P{n}"))
                assert response.status_code == 303
        await until(lambda: len(inbox.messages) >= 30)
        await asyncio.sleep(1.0)  # time for any duplicate to show up
    ids = lead_ids(inbox)
    assert len(ids) == 30 and len(set(ids)) == 30


async def test_staff_sessions_and_sign_in_throttling_work_on_either_instance(two_instances, site_dir: Path) -> None:  # type: ignore[no-untyped-def]
    ports, _, _, settings = two_instances
    env = landing_environment(LANDING_DATABASE_URL=settings["database_url"])
    subprocess.run([sys.executable, "-m", "landing", "users", "add", "staff@example.com"], input=PASSWORD + "\n",
                   text=True, env=env, check=True, capture_output=True, timeout=60)
    from tests.test_admin import sign_in

    a, b = (httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") for port in ports)
    strangers = [httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") for port in ports]
    async with a, b, strangers[0], strangers[1]:
        assert (await sign_in(a)).status_code == 303
        b.cookies.set("landing_session", a.cookies["landing_session"])
        assert (await b.get("/admin/leads")).status_code == 200  # a session from A works on B
        for n in range(5):  # failures spread over both instances count together
            response = await sign_in(strangers[n % 2], email="other@example.com", password="wrong password!!")
            assert response.status_code == 401
        assert (await sign_in(strangers[0], email="other@example.com", password="wrong password!!")).status_code == 429
        assert (await sign_in(strangers[1], email="other@example.com", password="wrong password!!")).status_code == 429


async def test_killing_one_instance_mid_load_loses_no_lead_and_announces_each_once(two_instances, site_dir: Path) -> None:  # type: ignore[no-untyped-def]
    ports, servers, smtp_port, settings = two_instances
    acknowledged: list[str] = []
    done = asyncio.Event()

    async def sender(worker: int, client: httpx.AsyncClient) -> None:
        for n in range(100_000):
            if done.is_set():
                return
            port = ports[(worker + n) % 2]  # alternate between the instances
            name = f"Patient {worker}-{n}"
            try:
                response = await client.post(f"http://127.0.0.1:{port}/leads", data=valid_form(name=name))
            except httpx.TransportError:
                continue  # that instance is gone; this lead was never acknowledged
            if response.status_code == 303:
                acknowledged.append(name)

    # The mail server is down during the load, so nothing is sent before the kill; notices wait in the outbox.
    async with httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=16)) as client:
        senders = [asyncio.create_task(sender(worker, client)) for worker in range(16)]
        await until(lambda: len(acknowledged) >= 200)
        servers[0].send_signal(signal.SIGKILL)
        killed_at = len(acknowledged)
        await until(lambda: len(acknowledged) >= killed_at + 100)  # the survivor goes on taking leads
        done.set()
        await asyncio.wait_for(asyncio.gather(*senders), timeout=60)
    survivor = ports[1]

    env = landing_environment(LANDING_DATABASE_URL=settings["database_url"])
    exported = subprocess.run([sys.executable, "-m", "landing", "leads", "export"], env=env, capture_output=True,
                              text=True, check=True, timeout=120).stdout
    names = {line.split(",")[3] for line in exported.splitlines()[1:]}
    assert set(acknowledged) <= names, f"{len(set(acknowledged) - names)} acknowledged leads were lost"

    with smtp_server(smtp_port) as inbox:  # the mail server comes back: the survivor sends everything
        await until(lambda: len(inbox.messages) >= len(names), seconds=120)
        await asyncio.sleep(1.5)
    ids = lead_ids(inbox)
    assert len(ids) == len(set(ids)) == len(names)  # every stored lead announced, each exactly once
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"http://127.0.0.1:{survivor}/healthz")).status_code == 200
