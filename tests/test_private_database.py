"""The SQLite lead database, its write-ahead log and its shared memory file are readable by their owner alone."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from landing.leads.store import SQLiteLeadStore
from tests.leads_helpers import a_lead, valid_form
from tests.servers import free_port, start_server, stop, wait_until_up


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive umask there is (0o000), for this process and the children it starts."""
    old = os.umask(0o000)
    try:
        yield
    finally:
        os.umask(old)


def modes(folder: Path) -> dict[str, int]:
    return {path.name: stat.S_IMODE(path.stat().st_mode) for path in folder.glob("leads.sqlite3*")}


async def test_a_new_database_and_its_wal_and_shm_are_0600(tmp_path: Path, open_umask: None) -> None:
    store = SQLiteLeadStore(tmp_path / "leads.sqlite3")
    await store.open()
    try:
        await store.add(a_lead(), notify=True)
        assert modes(tmp_path) == {"leads.sqlite3": 0o600, "leads.sqlite3-wal": 0o600, "leads.sqlite3-shm": 0o600}
    finally:
        await store.close()


async def test_an_older_database_readable_by_others_is_made_private(tmp_path: Path) -> None:
    database = tmp_path / "leads.sqlite3"
    store = SQLiteLeadStore(database)
    await store.open()
    await store.close()
    for path in tmp_path.glob("leads.sqlite3*"):
        path.chmod(0o644)
    store = SQLiteLeadStore(database)
    await store.open()
    try:
        await store.add(a_lead(), notify=False)
        assert set(modes(tmp_path).values()) == {0o600}
    finally:
        await store.close()


@pytest.mark.slow
async def test_the_running_service_keeps_its_lead_files_private(site_dir: Path, open_umask: None) -> None:
    port = free_port()
    server = start_server(site_dir, port)
    try:
        await wait_until_up(port, server)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            assert (await client.post("/leads", data=valid_form())).status_code == 303
        assert modes(site_dir) == {"leads.sqlite3": 0o600, "leads.sqlite3-wal": 0o600, "leads.sqlite3-shm": 0o600}
    finally:
        stop(server)


async def test_a_file_that_is_not_a_database_is_refused_clearly_and_nothing_is_left_running(tmp_path: Path) -> None:
    import threading

    from landing.leads.store import StoreError

    database = tmp_path / "leads.sqlite3"
    database.write_bytes(b"a spreadsheet saved over the database " * 100)
    before = set(threading.enumerate())  # other tests' connections may still be closing: only new ones count
    with pytest.raises(StoreError, match=r"\(file is not a database\): check LANDING_DATABASE_URL"):
        await SQLiteLeadStore(database).open()
    started = [thread for thread in set(threading.enumerate()) - before if "connection_worker" in thread.name]
    for thread in started:  # a closed connection's thread ends just after close() returns
        thread.join(timeout=5)
    assert [thread.name for thread in started if thread.is_alive()] == []
