"""A large site with a quality gate starts serving at once: its town pages answer 503 until the gate has measured
them, and everything else (the form's leads above all) is served meanwhile."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from landing.leads.store import SQLStore, store_for
from landing.pages import Renderer
from landing.settings import Settings
from landing.snapshot import Snapshot, load_snapshot
from landing.web import live
from landing.web.live import LiveSite
from tests.conftest import ClientFactory
from tests.html import Page
from tests.leads_helpers import LANDING, rows, valid_form
from tests.servers import until
from tests.test_admin import staff  # noqa: F401 - the signed-in client fixture
from tests.test_metrics import scrape
from tests.test_pageviews import BROWSER, page_counts
from tests.test_quality import a_gate_holding_back_some, add_quality

WAIT_SECONDS = 60.0


@pytest.fixture
def gated_site(site_dir: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> float:
    """The test site with a gate that holds back some pages, counted as large (measured after startup)."""
    gate = a_gate_holding_back_some(settings)
    add_quality(site_dir, f"gate = {gate}")
    monkeypatch.setattr(live, "PROVISIONAL_PAGES", 1)
    return gate


@pytest.fixture
def held_measure(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Measuring the gate waits until the event is set (the measure itself is the real one)."""
    go = threading.Event()
    measure = Renderer.measure_similarity

    def waiting(renderer: Renderer):  # type: ignore[no-untyped-def]
        assert go.wait(WAIT_SECONDS), "the test never let the measure go on"
        return measure(renderer)

    monkeypatch.setattr(Renderer, "measure_similarity", waiting)
    yield go
    go.set()  # a measure still waiting at the end of a test ends with it


async def test_town_pages_answer_503_until_measured_while_the_rest_is_served(
        make_client: ClientFactory, settings: Settings, site_dir: Path, gated_site: float,
        held_measure: threading.Event) -> None:
    client = await make_client()
    waiting = await client.get(LANDING)
    assert waiting.status_code == 503
    assert waiting.headers["retry-after"] == "30" and waiting.headers["cache-control"] == "no-store"
    assert "Please try again in a minute" in waiting.text
    assert "(847) 555-0142" in waiting.text  # the town's office, for a visitor who would rather call
    assert (await client.get("/sitemap.xml")).status_code == 503  # never a sitemap without the town pages
    assert (await client.get("/")).status_code == 200
    assert (await client.get("/intrathecal-pump-therapy/")).status_code == 200
    health = await client.get("/healthz")
    assert health.status_code == 200 and health.json()["measuring"] is True
    assert (await scrape(client))[("landing_site_measuring", ())] == 1
    lead = await client.post("/leads", data=valid_form())
    assert lead.status_code == 303 and len(rows(site_dir / "leads.sqlite3")) == 1

    held_measure.set()

    async def served() -> bool:
        return (await client.get(LANDING)).status_code == 200

    await until(served)
    assert (await client.get("/healthz")).json()["measuring"] is False
    figures = await scrape(client)
    assert figures[("landing_site_measuring", ())] == 0 and figures[("landing_site_load_seconds", ())] > 0
    measured = load_snapshot(settings).renderer
    assert measured.held_back and len(measured.held_back) < len(measured.catalog.pages)
    sitemap = await client.get("/sitemap.xml")
    assert sitemap.status_code == 200
    for path in measured.catalog.pages:  # exactly the pages measuring before serving holds back
        page = await client.get(path)
        assert page.status_code == 200, path
        held = path in measured.held_back
        assert Page(page.text).meta("robots") == ("noindex, follow" if held else "index, follow"), path
        assert (f"https://pain.example.com{path}<" in sitemap.text) is not held, path


async def test_a_small_gated_site_is_measured_before_it_is_served(
        make_client: ClientFactory, site_dir: Path, settings: Settings) -> None:
    add_quality(site_dir, f"gate = {a_gate_holding_back_some(settings)}")
    client = await make_client()
    assert (await client.get(LANDING)).status_code == 200
    assert (await client.get("/sitemap.xml")).status_code == 200


async def test_a_measure_that_fails_is_logged_and_tried_again(
        make_client: ClientFactory, gated_site: float, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(live, "GATE_RETRY_SECONDS", 0.05)
    measure = Renderer.measure_similarity
    failures = [MemoryError("out of memory")]

    def failing_once(renderer: Renderer):  # type: ignore[no-untyped-def]
        if failures:
            raise failures.pop()
        return measure(renderer)

    monkeypatch.setattr(Renderer, "measure_similarity", failing_once)
    client = await make_client()

    async def served() -> bool:
        return (await client.get(LANDING)).status_code == 200

    await until(served)
    assert "measuring the quality gate failed; town pages answer 503 until it succeeds" in caplog.text


def test_a_reload_before_the_measure_tells_no_listener_of_every_page(
        settings: Settings, site_dir: Path, gated_site: float) -> None:
    # Until measured, every town page counts as held back: comparing with that would announce all of them as new
    # (IndexNow would submit the whole site). The reload measures its own pages, and is served as a startup's is.
    site = LiveSite(settings)
    assert site.current.renderer.measuring
    told: list[tuple[Snapshot, Snapshot]] = []
    site.listeners.append(lambda old, new: told.append((old, new)))
    locations = site_dir / "locations.csv"
    locations.write_text(locations.read_text(encoding="utf-8").replace("Cary", "Cary Park"), encoding="utf-8")
    assert site.reload(guard=False)
    assert not site.current.renderer.measuring and site.current.response(LANDING) is None
    assert told == []
    renamed = site.current.response("/intrathecal-pump-therapy/cary-park-il/")
    assert renamed is not None and renamed.status == 200



async def test_a_town_page_answered_503_is_not_counted_as_a_view(
        make_client: ClientFactory, tmp_path: Path, gated_site: float, held_measure: threading.Event) -> None:
    path = tmp_path / "views.sqlite3"
    client = await make_client(database_url=f"sqlite:///{path}", views_flush_seconds=0.1)
    browser = {"user-agent": BROWSER.decode()}
    assert (await client.get(LANDING, headers=browser)).status_code == 503
    held_measure.set()

    async def served() -> bool:
        return (await client.get(LANDING, headers=browser)).status_code == 200

    await until(served)
    store = store_for(f"sqlite:///{path}")
    await store.open()
    try:
        assert isinstance(store, SQLStore)

        async def counted() -> bool:
            return sum(counts[0] for counts in (await page_counts(store)).values()) >= 1

        await until(counted)
        await asyncio.sleep(0.3)  # a flush or two more: a 503 counted would be in one of them
        assert sum(counts[0] for counts in (await page_counts(store)).values()) == 1
    finally:
        await store.close()


async def test_the_coverage_map_says_the_pages_are_still_being_measured(
        staff, gated_site: float, held_measure: threading.Event) -> None:  # type: ignore[no-untyped-def]
    signed_in = await staff()
    notice = "is still measuring the town pages for the quality gate"
    assert notice in (await signed_in.get("/admin/coverage")).text
    held_measure.set()

    async def served() -> bool:
        return (await signed_in.get(LANDING)).status_code == 200

    await until(served)
    assert notice not in (await signed_in.get("/admin/coverage")).text
