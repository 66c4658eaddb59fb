"""Page views counted at the origin (landing/pageviews.py), on a real SQLite file and a real PostgreSQL:
several instances adding to the same rows, the daily salt, crawlers apart, nothing personal stored."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from landing.build import build_site
from landing.leads.store import LeadStore, SQLStore, store_for
from landing.pageviews import DAY_GRACE, ViewCounter, day_of, visitor_hash
from landing.settings import Settings
from tests.conftest import ClientFactory
from tests.servers import until
from tests.test_store import Opener, database_url, open_store  # noqa: F401 - fixtures: the same SQLite and PostgreSQL

PAGE = "/intrathecal-pump-therapy/barrington-il/"
OTHER_PAGE = "/intrathecal-pump-therapy/crystal-lake-il/"
BROWSER = b"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile Safari/604.1"
GOOGLEBOT = b"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
NOON = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone.utc).timestamp()

class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def counter_on(opener: Opener, clock: Clock) -> tuple[ViewCounter, SQLStore]:
    store = await opener()
    counter = ViewCounter(clock=clock)
    await counter.start(store)
    assert isinstance(store, SQLStore)
    return counter, store


async def rows(store: SQLStore, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in await store.fetch(sql, args)]


async def page_counts(store: SQLStore) -> dict[tuple[str, str, str, str], tuple[int, int, int]]:
    found = await rows(store, "SELECT day, path, source, campaign, views, visitors, bot_views FROM page_views")
    return {tuple(row[:4]): tuple(int(n) for n in row[4:]) for row in found}  # type: ignore[misc]


async def assert_rollups_match(store: SQLStore) -> None:
    """The report's monthly and per-day tables hold what the daily counts add up to."""
    monthly = await rows(store, "SELECT month, path, source, campaign, views, visitors, bot_views FROM page_views_monthly")
    summed = await rows(store, "SELECT substr(day, 1, 7), path, source, campaign, SUM(views), SUM(visitors), "
                               "SUM(bot_views) FROM page_views GROUP BY substr(day, 1, 7), path, source, campaign")
    assert sorted(map(normal, monthly)) == sorted(map(normal, summed)) and monthly
    by_day = await rows(store, "SELECT day, views, visitors, bot_views FROM views_by_day")
    daily = await rows(store, "SELECT day, SUM(views), SUM(visitors), SUM(bot_views) FROM page_views GROUP BY day")
    assert sorted(map(normal, by_day)) == sorted(map(normal, daily)) and by_day


def normal(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(int(value) if not isinstance(value, str) else value for value in row)


async def test_two_instances_add_up_and_count_a_visitor_they_both_saw_once(open_store: Opener) -> None:
    clock = Clock(NOON)
    (first, store), (second, _) = await counter_on(open_store, clock), await counter_on(open_store, clock)
    assert first.salts == second.salts  # one salt for the day, shared through the database
    for counter in (first, second):
        counter.count(PAGE, "198.51.100.7", BROWSER)  # the same person, sent to each instance once
        counter.count(PAGE, "198.51.100.8", BROWSER)
    second.count(OTHER_PAGE, "198.51.100.7", BROWSER)
    await asyncio.gather(first.flush(), second.flush())  # at the same time: no double count, no deadlock
    first.count(PAGE, "198.51.100.9", BROWSER)
    second.count(PAGE, "198.51.100.9", BROWSER)
    await first.flush()
    await second.flush()
    counts = await page_counts(store)
    assert counts[("2026-11-30", PAGE, "", "")] == (6, 3, 0)
    assert counts[("2026-11-30", OTHER_PAGE, "", "")] == (1, 1, 0)
    await assert_rollups_match(store)


async def test_crawlers_are_counted_apart_and_leave_no_visitor(open_store: Opener) -> None:
    counter, store = await counter_on(open_store, Clock(NOON))
    counter.count(PAGE, "66.249.66.1", GOOGLEBOT)
    counter.count(PAGE, "66.249.66.1", GOOGLEBOT)
    counter.count(PAGE, "192.0.2.1", b"")  # no user agent at all: no browser sends that
    counter.count(PAGE, "198.51.100.7", BROWSER)
    await counter.flush()
    assert await page_counts(store) == {("2026-11-30", PAGE, "", ""): (1, 1, 3)}
    assert len(await rows(store, "SELECT visitor FROM page_visitors")) == 1


async def test_campaigns_are_counted_per_utm_source_and_campaign(open_store: Opener) -> None:
    counter, store = await counter_on(open_store, Clock(NOON))
    counter.count(PAGE, "198.51.100.7", BROWSER, b"utm_source=google&utm_medium=cpc&utm_campaign=spring%20pumps")
    counter.count(PAGE, "198.51.100.7", BROWSER, b"gclid=abc")
    await counter.flush()
    counts = await page_counts(store)
    assert counts[("2026-11-30", PAGE, "google", "spring pumps")] == (1, 1, 0)
    assert counts[("2026-11-30", PAGE, "", "")] == (1, 1, 0)


async def test_yesterday_s_salt_and_hashes_are_gone_and_a_visitor_is_not_linkable_across_days(
        open_store: Opener) -> None:
    clock = Clock(NOON)
    counter, store = await counter_on(open_store, clock)
    counter.count(PAGE, "198.51.100.7", BROWSER)
    await counter.flush()
    [(monday_hash,)] = await rows(store, "SELECT visitor FROM page_visitors")
    monday_salt = counter.salts["2026-11-30"]
    assert monday_hash == visitor_hash(monday_salt, "198.51.100.7", BROWSER).hex()

    clock.now = NOON + 86_400  # Tuesday: the same person again
    await counter.tick()
    counter.count(PAGE, "198.51.100.7", BROWSER)
    await counter.flush()
    assert [day for (day,) in await rows(store, "SELECT day FROM view_salts")] == ["2026-12-01"]
    [(day, tuesday_hash)] = await rows(store, "SELECT day, visitor FROM page_visitors")
    assert day == "2026-12-01" and tuesday_hash != monday_hash
    assert "2026-11-30" not in counter.salts  # nor kept in memory
    counts = await page_counts(store)  # the counts stay, with no hash in them
    assert counts[("2026-11-30", PAGE, "", "")] == (1, 1, 0) and counts[("2026-12-01", PAGE, "", "")] == (1, 1, 0)
    await assert_rollups_match(store)


async def test_a_day_s_salt_outlives_midnight_only_briefly_and_the_next_is_ready_before_it(
        open_store: Opener) -> None:
    midnight = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc).timestamp()
    clock = Clock(midnight - 60)
    counter, store = await counter_on(open_store, clock)
    assert set(counter.salts) == {"2026-11-30", "2026-12-01"}  # made ahead: no view after midnight waits
    clock.now = midnight + 1
    counter.count(PAGE, "198.51.100.7", BROWSER)
    assert counter.visitors  # hashed at once with the new day's salt
    clock.now = midnight + DAY_GRACE + 1
    await counter.rotate()
    assert [day for (day,) in await rows(store, "SELECT day FROM view_salts")] == ["2026-12-01"]
    assert day_of(clock.now) == "2026-12-01"


async def test_counts_that_cannot_be_saved_are_kept_for_the_next_flush(open_store: Opener) -> None:
    counter, store = await counter_on(open_store, Clock(NOON))
    counter.count(PAGE, "198.51.100.7", BROWSER)
    await store.close()
    await counter.flush()  # fails: kept
    reopened = await open_store()
    assert isinstance(reopened, SQLStore)
    counter.store = reopened
    counter.count(PAGE, "198.51.100.8", BROWSER)
    await counter.flush()
    assert await page_counts(reopened) == {("2026-11-30", PAGE, "", ""): (2, 2, 0)}


# -- through the app -------------------------------------------------------------------------------


async def test_two_apps_on_one_database_count_views_of_cached_pages(make_client: ClientFactory,
                                                                     database_url: str) -> None:
    clients = [await make_client(database_url=database_url, client_address="198.51.100.7", views_flush_seconds=0.1)
               for _ in range(2)]
    headers = {"user-agent": BROWSER.decode()}
    etags = []
    for client in clients:
        for _ in range(2):
            response = await client.get(PAGE, headers=headers)
            assert response.status_code == 200
            assert response.headers["cache-control"].startswith("public")  # still a cached, shareable page
            etags.append(response.headers["etag"])
    assert len(set(etags)) == 1
    again = await clients[0].get(PAGE, headers={**headers, "if-none-match": etags[0]})
    assert again.status_code == 304  # a revisit answered from the browser's copy is a view too
    await clients[0].head(PAGE, headers=headers)  # a monitor's HEAD is not
    await clients[1].get(OTHER_PAGE, headers={"user-agent": GOOGLEBOT.decode()})
    await clients[1].get("/intrathecal-pump-therapy/no-such-town/", headers=headers)  # no page, no count
    store = store_for(database_url)
    await store.open()
    try:
        assert isinstance(store, SQLStore)
        today = day_of(dt.datetime.now(dt.timezone.utc).timestamp())
        expected = {(today, PAGE, "", ""): (5, 1, 0), (today, OTHER_PAGE, "", ""): (0, 0, 1)}

        async def counted() -> bool:
            return await page_counts(store) == expected

        await until(counted, 10)
    finally:
        await store.close()


async def test_counting_off_counts_nothing(make_client: ClientFactory, database_url: str) -> None:
    client = await make_client(database_url=database_url, count_views=False)
    assert (await client.get(PAGE, headers={"user-agent": BROWSER.decode()})).status_code == 200
    counter = await client.get("/v" + PAGE)
    assert counter.status_code == 200 and counter.headers["content-type"] == "image/gif"
    store = store_for(database_url)
    await store.open()
    try:
        assert isinstance(store, SQLStore)
        assert await page_counts(store) == {}
    finally:
        await store.close()


async def test_no_address_or_user_agent_reaches_the_database_file(make_client: ClientFactory, tmp_path: Path) -> None:
    path = tmp_path / "views.sqlite3"
    address, agent = "203.0.113.77", "Mozilla/5.0 (X11; Linux x86_64) UniqueMarkerBrowser/987.65"
    client = await make_client(database_url=f"sqlite:///{path}", client_address=address, views_flush_seconds=0.1)
    for page in (PAGE, OTHER_PAGE, "/v" + PAGE):
        assert (await client.get(page, headers={"user-agent": agent})).status_code == 200
    store = store_for(f"sqlite:///{path}")
    await store.open()
    try:
        assert isinstance(store, SQLStore)

        async def counted() -> bool:
            return sum(counts[1] for counts in (await page_counts(store)).values()) == 2

        await until(counted, 10)
    finally:
        await store.close()
    stored = b"".join(file.read_bytes() for file in tmp_path.glob("views.sqlite3*"))
    assert b"page_visitors" in stored  # the file is the one counted into
    for secret in (address, "203.0.113", agent, "UniqueMarkerBrowser", address.encode().hex()):
        assert secret.encode() not in stored


async def test_a_static_page_s_counter_image_counts_its_page_and_campaign(make_client: ClientFactory,
                                                                         database_url: str) -> None:
    client = await make_client(database_url=database_url, views_flush_seconds=0.1)
    headers = {"user-agent": BROWSER.decode()}
    response = await client.get("/v" + PAGE, headers={
        **headers, "referer": f"https://pain.example.com{PAGE}?utm_source=newsletter&utm_campaign=winter"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/gif" and response.content.startswith(b"GIF89a")
    assert response.headers["cache-control"] == "no-store"  # every display of the page asks again
    await client.get("/v" + OTHER_PAGE, headers={**headers, "referer": "https://elsewhere.example/?utm_source=x"})
    await client.get("/v/no-such/page/", headers=headers)  # answered, never counted: no made-up rows
    assert (await client.head("/v" + PAGE, headers=headers)).status_code == 200
    store = store_for(database_url)
    await store.open()
    try:
        assert isinstance(store, SQLStore)
        today = day_of(dt.datetime.now(dt.timezone.utc).timestamp())
        expected = {(today, PAGE, "newsletter", "winter"): (1, 1, 0), (today, OTHER_PAGE, "", ""): (1, 1, 0)}

        async def counted() -> bool:
            return await page_counts(store) == expected

        await until(counted, 10)
    finally:
        await store.close()


def test_every_page_of_a_static_build_carries_its_counter_and_none_when_counting_is_off(
        settings: Settings, tmp_path: Path) -> None:
    build_site(settings, tmp_path / "on")
    for relative, path in (("intrathecal-pump-therapy/barrington-il/index.html", PAGE),
                           ("intrathecal-pump-therapy/index.html", "/intrathecal-pump-therapy/"), ("index.html", "/")):
        html = (tmp_path / "on" / relative).read_text()
        assert html.count(f'<img src="/v{path}" alt="" width="1" height="1" hidden>\n</body>') == 1
    assert "/v/" not in (tmp_path / "on" / "404.html").read_text()
    build_site(settings.replace(count_views=False), tmp_path / "off")
    assert "/v/" not in (tmp_path / "off" / "intrathecal-pump-therapy/barrington-il/index.html").read_text()
