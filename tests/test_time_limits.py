"""Time limits wherever a part can hang: a lead the database cannot take in time gets 503 at once and is never
stored late; the notification worker recovers by itself; a shutdown ends in bounded time. The faults are real:
PostgreSQL behind a loopback proxy that goes silent and heals, a table lock, an outside SQLite writer."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.conftest import ClientFactory
from tests.faults import SilentProxy, silent_proxy
from tests.leads_helpers import valid_form
from tests.mail import free_port, smtp_server
from tests.servers import start_server, stop, until, wait_until_up

# Small limits, so that each fault costs the test seconds: what the settings would be in production, divided by 5.
FAST = {"lead_timeout": 1.0, "database_connect_timeout": 1.0, "database_command_timeout": 2.0,
        "database_statement_timeout": 1.0}


def through(url: str, proxy: SilentProxy) -> str:
    """The database URL ``url`` with the proxy in between."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}@{proxy.url_part}" if parts.username else proxy.url_part))


async def stored_named(postgres_url: str, name: str) -> int:
    import asyncpg

    parts = urlsplit(postgres_url)
    connection = await asyncpg.connect(urlunsplit(parts._replace(query="")), timeout=5,
                                       server_settings={"search_path": parts.query.removeprefix("search_path=")})
    try:
        return int(await connection.fetchval("SELECT COUNT(*) FROM leads WHERE name = $1", name))
    finally:
        await connection.close()


async def timed_post(client: httpx.AsyncClient, name: str) -> tuple[int, float]:
    start = time.monotonic()
    response = await client.post("/leads", data=valid_form(name=name))
    return response.status_code, time.monotonic() - start


async def test_a_silent_database_costs_a_visitor_a_second_and_a_503_and_the_lead_is_never_stored_late(
    make_client: ClientFactory, postgres_url: str
) -> None:
    async with silent_proxy("127.0.0.1", 5432) as proxy:
        client = await make_client(database_url=through(postgres_url, proxy), **FAST)
        # One lead first: the connection then holds the prepared insert, so the late one is a single message
        # that the network holds and delivers when it heals (the case a deadline must cover).
        assert (await timed_post(client, "Early Patient"))[0] == 303
        await asyncio.sleep(0.5)  # its connection back in the pool, and the notifier's round over
        proxy.hold()
        status, seconds = await timed_post(client, "Held Patient")
        assert status == 503 and seconds < 1.8, (status, seconds)  # LANDING_LEAD_TIMEOUT=1, not asyncpg's 60 s
        proxy.heal()  # what was held reaches PostgreSQL now, after the visitor was told it was not saved

        async def answered() -> bool:
            return (await timed_post(client, "Later Patient"))[0] == 303

        await until(answered, seconds=15)  # the service takes leads again by itself
    await asyncio.sleep(0.5)
    assert await stored_named(postgres_url, "Held Patient") == 0
    assert await stored_named(postgres_url, "Early Patient") == 1


async def test_the_store_never_stores_a_lead_that_reaches_the_database_after_its_deadline(postgres_url: str) -> None:
    from landing.leads.deadlines import StoreTimeouts
    from landing.leads.postgres import PostgresLeadStore
    from landing.leads.store import StoreError
    from tests.leads_helpers import a_lead

    async with silent_proxy("127.0.0.1", 5432) as proxy:
        store = PostgresLeadStore(through(postgres_url, proxy), timeouts=StoreTimeouts(lead=1, connect=1, command=2))
        await store.open()
        try:
            await store.add(a_lead(name="Prepared"), notify=True)  # the one connection now holds the prepared insert
            await asyncio.sleep(0.2)  # given back to the pool (in the background)
            proxy.hold()
            start = time.monotonic()
            with pytest.raises(StoreError, match="timed out"):
                await store.add(a_lead(name="Delivered Late"), notify=True)
            assert time.monotonic() - start < 1.5
            proxy.heal()  # the insert, held in flight, reaches PostgreSQL now: past its deadline, it stores nothing
            await asyncio.sleep(1.0)
        finally:
            await store.close()
    assert await stored_named(postgres_url, "Delivered Late") == 0
    assert await stored_named(postgres_url, "Prepared") == 1


async def test_a_table_lock_gets_503_within_the_lead_timeout_and_healthz_says_so(
    make_client: ClientFactory, postgres_url: str
) -> None:
    import asyncpg

    client = await make_client(database_url=postgres_url, **FAST)
    assert (await client.get("/healthz")).status_code == 200
    parts = urlsplit(postgres_url)
    locker = await asyncpg.connect(urlunsplit(parts._replace(query="")),
                                   server_settings={"search_path": parts.query.removeprefix("search_path=")})
    try:
        transaction = locker.transaction()
        await transaction.start()
        await locker.execute("LOCK TABLE leads IN ACCESS EXCLUSIVE MODE")
        status, seconds = await timed_post(client, "Locked Out")
        assert status == 503 and seconds < 1.8, (status, seconds)
        await asyncio.sleep(1.1)  # past the health check's one-second memory
        health = await client.get("/healthz")
        assert health.status_code == 503 and health.json()["database"].startswith("timed out")
        await transaction.rollback()
    finally:
        await locker.close()
    await asyncio.sleep(1.1)
    assert (await client.get("/healthz")).status_code == 200
    assert (await timed_post(client, "After The Lock"))[0] == 303
    assert await stored_named(postgres_url, "Locked Out") == 0


async def test_the_notification_worker_recovers_by_itself_when_the_database_heals(
    make_client: ClientFactory, postgres_url: str
) -> None:
    smtp_port = free_port()
    with smtp_server(smtp_port) as inbox:
        async with silent_proxy("127.0.0.1", 5432) as proxy:
            client = await make_client(database_url=through(postgres_url, proxy), smtp_url=f"smtp://127.0.0.1:{smtp_port}",
                                       notify_retry_seconds=0.2, **FAST)
            proxy.hold()
            await asyncio.sleep(3 * FAST["database_command_timeout"])  # the worker's polls hang, then time out
            proxy.heal()
            assert (await timed_post(client, "After The Partition"))[0] == 303
            await until(lambda: len(inbox.messages) == 1, seconds=15)


async def test_a_lead_behind_an_outside_sqlite_writer_gets_503_and_is_never_stored_late(
    make_client: ClientFactory, site_dir: Path
) -> None:
    import sqlite3

    client = await make_client(**FAST)
    assert (await timed_post(client, "Before"))[0] == 303
    outside = sqlite3.connect(site_dir / "leads.sqlite3", isolation_level=None, check_same_thread=False)
    try:
        outside.execute("BEGIN IMMEDIATE")  # another process holds the write lock for 3 s
        status, seconds = await timed_post(client, "Behind The Lock")
        assert status == 503 and seconds < 1.8, (status, seconds)
        await asyncio.sleep(2)
        outside.execute("COMMIT")
    finally:
        outside.close()
    assert (await timed_post(client, "After"))[0] == 303  # queued behind it: the writer has moved on
    from tests.leads_helpers import rows

    names = [row["name"] for row in rows(site_dir / "leads.sqlite3")]
    assert "Behind The Lock" not in names and names.count("After") == 1


@pytest.mark.slow
async def test_sigterm_ends_the_service_in_bounded_time_while_the_database_is_silent(
    site_dir: Path, postgres_url: str
) -> None:
    async with silent_proxy("127.0.0.1", 5432) as proxy:
        port = free_port()
        server = start_server(site_dir, port, database_url=through(postgres_url, proxy), shutdown_timeout="2",
                              **{key: str(value) for key, value in FAST.items()})
        try:
            await wait_until_up(port, server)
            proxy.hold()
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                posting = asyncio.create_task(client.post("/leads", data=valid_form(name="In Flight")))
                await asyncio.sleep(0.3)
                start = time.monotonic()
                server.send_signal(signal.SIGTERM)
                while server.poll() is None and time.monotonic() - start < 30:
                    await asyncio.sleep(0.1)
                seconds = time.monotonic() - start
                assert server.poll() is not None, "landing serve was still running 30 s after SIGTERM"
                # Requests in flight get LANDING_SHUTDOWN_TIMEOUT (2 s), the notifier as long, the pool its
                # command timeout (2 s): well within 10 s, however long the database stays silent.
                assert seconds < 10, seconds
                response = await posting
                assert response.status_code == 503  # its 1 s lead timeout came first: told to call
        finally:
            stop(server)


@pytest.mark.slow
async def test_a_database_that_accepts_connections_but_never_answers_stops_startup_with_the_cause(
    site_dir: Path, postgres_url: str
) -> None:
    import subprocess

    from tests.servers import landing_environment

    async with silent_proxy("127.0.0.1", 5432) as proxy:
        proxy.hold()
        env = landing_environment(LANDING_DATABASE_URL=through(postgres_url, proxy), LANDING_DATABASE_CONNECT_TIMEOUT="1",
                                  LANDING_SECRET_KEY="x", LANDING_RELOAD_INTERVAL="0")
        start = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "landing", "serve", "--port", str(free_port()), cwd=site_dir, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, errors = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode != 0 and time.monotonic() - start < 15
    assert "cannot reach the PostgreSQL database (timed out" in errors.decode()
