"""Shared fixtures: a small test practice in a temporary folder, and an app client factory."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from landing.settings import Settings
from landing.web.app import create_app
from tests.parts import need

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"

ClientFactory = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
def site_dir(tmp_path: Path) -> Path:
    """The project's templates and static files, plus the test practice and its second treatment."""
    folder = tmp_path / "site"
    shutil.copytree(ROOT / "templates", folder / "templates")
    shutil.copytree(ROOT / "static", folder / "static")
    shutil.copytree(DATA / "templates", folder / "templates", dirs_exist_ok=True)
    shutil.copy(DATA / "site.toml", folder / "site.toml")
    shutil.copy(DATA / "locations.csv", folder / "locations.csv")
    shutil.copy(DATA / "faqs.csv", folder / "faqs.csv")
    return folder


@pytest.fixture
def in_site(site_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run commands from the site folder, as a marketer would, with default file names and no LANDING_*."""
    monkeypatch.chdir(site_dir)
    for name in list(os.environ):
        if name.startswith("LANDING_"):
            monkeypatch.delenv(name)
    return site_dir


@pytest.fixture
def locations_csv(site_dir: Path) -> Path:
    return site_dir / "locations.csv"


@pytest.fixture
def settings(site_dir: Path) -> Settings:
    return Settings(
        site_file=site_dir / "site.toml",
        locations_file=site_dir / "locations.csv",
        faqs_file=site_dir / "faqs.csv",
        templates_dir=site_dir / "templates",
        static_dir=site_dir / "static",
        reload_interval=0,
        database_url=f"sqlite:///{site_dir / 'leads.sqlite3'}",
        secret_key="test-secret",
    )


@pytest.fixture
async def make_client(settings: Settings) -> AsyncIterator[ClientFactory]:
    """make_client(client_url=..., client_address=..., **setting_overrides): an httpx client talking to a freshly built
    app, lifespan running, from ``client_address`` (default 127.0.0.1)."""
    async with contextlib.AsyncExitStack() as stack:

        async def factory(client_url: str = "http://testserver", client_address: str = "127.0.0.1",
                          **overrides: Any) -> httpx.AsyncClient:
            app = create_app(settings.replace(**overrides))
            manager = await stack.enter_async_context(LifespanManager(app))
            transport = httpx.ASGITransport(app=manager.app, client=(client_address, 123))
            return await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url=client_url, follow_redirects=False)
            )

        yield factory


@pytest.fixture
async def client(make_client: ClientFactory) -> httpx.AsyncClient:
    return await make_client()


POSTGRES_URL = os.environ.get("LANDING_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh schema in the test PostgreSQL database, dropped afterwards."""
    asyncpg = pytest.importorskip("asyncpg")
    try:
        connection = await asyncpg.connect(POSTGRES_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        need(f"no PostgreSQL at {POSTGRES_URL} ({type(exc).__name__}); set LANDING_TEST_POSTGRES_URL")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    await connection.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{POSTGRES_URL}?search_path={schema}"
    finally:
        await connection.execute(f"DROP SCHEMA {schema} CASCADE")
        await connection.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh SQLite file, then a fresh PostgreSQL schema: a test of both lead stores."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'leads.sqlite3'}"
    return str(request.getfixturevalue("postgres_url"))


def write_csv(path: Path, *rows: str, header: str = "town,state,county,zip,latitude,longitude") -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path
