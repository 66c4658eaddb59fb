"""/healthz tells the truth: 503, with the cause in plain words, whenever a lead could not be stored (a full disk, a
read-only database file, a lock); the notification backlog and the site version either way. The faults are real:
a tmpfs filled up, a database file bind-mounted read-only (this needs root: the tests skip, saying so, without)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from landing.leads.health import HealthCheck
from landing.leads.store import SQLiteLeadStore
from landing.settings import Settings
from landing.snapshot import site_version
from tests.conftest import ClientFactory
from tests.leads_helpers import seed, valid_form
from tests.mail import free_port

PERSONAL = ("Zebediah", "zebediah.quux", "555-0199", "5550199", "private question")


def personal_form() -> dict[str, str]:
    return valid_form(name="Zebediah Quux", email="zebediah.quux@example.com", phone="(847) 555-0199",
                      message="My private question")


def mount(*arguments: str, purpose: str) -> None:
    result = subprocess.run(["mount", *arguments], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount here ({result.stderr.strip() or 'mount failed'}; it needs root): {purpose}")


def unmount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)  # lazy: the app may still hold a file open


@contextlib.contextmanager
def small_disk(path: Path, size: str = "4m") -> Iterator[Path]:
    path.mkdir()
    mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path), purpose="the full-disk test needs a tmpfs")
    try:
        yield path
    finally:
        unmount(path)


@contextlib.contextmanager
def read_only(file: Path) -> Iterator[Path]:
    """``file`` read-only even for root: a read-only bind mount of it (its folder stays writable, as after a restore
    that left the file read-only)."""
    mount("--bind", str(file), str(file), purpose="the read-only test needs a bind mount")
    try:
        mount("-o", "remount,bind,ro", str(file), purpose="the read-only test needs a read-only bind mount")
        yield file
    finally:
        unmount(file)


def fill(folder: Path) -> Path:
    filler = folder / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(descriptor, b"\0" * 65536)
    except OSError:
        pass
    finally:
        os.close(descriptor)
    return filler


async def fresh_health(client: httpx.AsyncClient) -> httpx.Response:
    await asyncio.sleep(1.05)  # the check runs at most once a second
    return await client.get("/healthz")


def logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(f"{record.getMessage()} {record.exc_text or ''}" for record in caplog.records)


async def test_a_full_disk_is_reported_as_such_until_there_is_room_again(
    make_client: ClientFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="landing")
    with small_disk(tmp_path / "disk") as disk:
        client = await make_client(database_url=f"sqlite:///{disk / 'leads.sqlite3'}")
        assert (await client.get("/healthz")).status_code == 200
        filler = fill(disk)
        health = await fresh_health(client)
        assert health.status_code == 503
        assert health.json()["status"] == "unavailable" and health.json()["database"] == "disk full"
        lead = await client.post("/leads", data=personal_form())
        assert lead.status_code == 503 and "not saved" in lead.text
        filler.unlink()
        assert (await fresh_health(client)).status_code == 200
        assert (await client.post("/leads", data=valid_form())).status_code == 303
    text = logged(caplog)
    assert "could not store lead" in text and ": disk full; the visitor was asked to try again or call" in text
    assert "leads cannot be stored: disk full (/healthz answers 503)" in text
    assert "leads can be stored again" in text and "leads are being stored again" in text
    assert "OperationalError" not in text and "Traceback" not in text
    for secret in PERSONAL:
        assert secret not in text


async def test_a_read_only_database_file_is_reported_as_such(
    make_client: ClientFactory, site_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="landing")
    database = site_dir / "leads.sqlite3"
    await seed(database)  # created and migrated, as by an earlier run
    with read_only(database):
        client = await make_client()
        health = await client.get("/healthz")
        assert health.status_code == 503 and health.json()["database"].startswith("read-only")
        lead = await client.post("/leads", data=personal_form())
        assert lead.status_code == 503
        assert "tel:+18155550167" in lead.text  # the page tells the visitor to call instead
        assert (await client.get("/intrathecal-pump-therapy/cary-il/")).status_code == 200  # pages still served
    text = logged(caplog)
    assert "could not store lead" in text and ": read-only (the database file or its folder cannot be written)" in text
    for secret in PERSONAL:
        assert secret not in text


async def test_healthz_reports_the_notification_backlog_and_the_site_version(
    make_client: ClientFactory, settings: Settings
) -> None:
    client = await make_client(smtp_url=f"smtp://127.0.0.1:{free_port()}")  # nothing listens: notices wait
    first = await client.get("/healthz")
    assert first.json()["notifications_pending"] == 0 and first.json()["oldest_notification_seconds"] == 0
    assert first.json()["site_version"] == site_version(settings) and len(site_version(settings)) == 12
    for _ in range(2):
        assert (await client.post("/leads", data=valid_form())).status_code == 303
    await asyncio.sleep(1.5)
    found = (await client.get("/healthz")).json()
    assert found["status"] == "ok" and found["notifications_pending"] == 2
    assert 1.0 <= found["oldest_notification_seconds"] < 30


def test_the_site_version_follows_the_contents_not_the_place_or_the_times(settings: Settings, tmp_path: Path) -> None:
    import shutil

    before = site_version(settings)
    copy = tmp_path / "copy"
    shutil.copytree(settings.site_file.parent, copy)
    moved = settings.replace(site_file=copy / "site.toml", locations_file=copy / "locations.csv",
                             faqs_file=copy / "faqs.csv", templates_dir=copy / "templates", static_dir=copy / "static")
    os.utime(moved.locations_file, (0, 0))
    assert site_version(moved) == before
    with moved.locations_file.open("a", encoding="utf-8") as csv:
        csv.write("Fox River Grove,IL,McHenry County,60021,42.2009,-88.2145,,,,,,\n")
    assert site_version(moved) != before


class CountingStore(SQLiteLeadStore):
    checks = 0

    async def check_writable(self) -> None:
        CountingStore.checks += 1
        await super().check_writable()


async def test_a_flood_of_health_checks_writes_at_most_once_a_second(tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "leads.sqlite3")
    await store.open()
    try:
        health = HealthCheck(store, timeout=5)
        results = await asyncio.gather(*(health.check() for _ in range(500)))
        assert all(result.ok for result in results)
        assert CountingStore.checks == 1  # 500 at once share one check
        await asyncio.sleep(1.05)
        await health.check()
        assert CountingStore.checks == 2
    finally:
        await store.close()
