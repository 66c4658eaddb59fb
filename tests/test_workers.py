"""`landing serve --workers 4` on a new database: every worker starts, and the migrations run once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from landing.leads.migrations import MIGRATIONS
from landing.leads.store import SQLStore, store_for
from tests.servers import free_port, start_server, stop, until, wait_until_up

pytestmark = pytest.mark.slow
WORKERS = 4


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_database(request: pytest.FixtureRequest, site_dir: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{site_dir / 'leads.sqlite3'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.mark.parametrize("attempt", range(3))  # a race: give it several chances to show
async def test_four_workers_starting_together_on_a_new_database_all_start(site_dir: Path, fresh_database: str,
                                                                         tmp_path: Path, attempt: int) -> None:
    log = tmp_path / "serve.log"
    port = free_port()
    server = start_server(site_dir, port, "--workers", str(WORKERS), log=log, database_url=fresh_database)
    try:
        await wait_until_up(port, server, seconds=60)
        await until(lambda: log.read_text().count("Application startup complete.") >= WORKERS, 60)
        async with httpx.AsyncClient() as client:  # answered by whichever workers take the connections
            answers = await asyncio.gather(*(client.get(f"http://127.0.0.1:{port}/healthz") for _ in range(20)))
        assert {answer.status_code for answer in answers} == {200}
    finally:
        stop(server)
    text = log.read_text()
    assert text.count("Application startup complete.") == WORKERS, text  # none died and was started again
    assert "Traceback" not in text and "already exists" not in text and "died" not in text, text
    store = store_for(fresh_database)
    await store.open()
    try:
        assert isinstance(store, SQLStore)
        applied = [row[0] for row in await store.fetch("SELECT name FROM schema_migrations ORDER BY name")]
        assert applied == [name for name, _ in MIGRATIONS]
    finally:
        await store.close()
