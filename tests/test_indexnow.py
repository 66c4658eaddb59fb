"""IndexNow: the key file, and what a publish or a file reload changed submitted to a local fake endpoint (a real
HTTP server on loopback), retried after a failure, never a held-back page, batched at 10,000 URLs."""

from __future__ import annotations

import asyncio
import json
import threading
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from landing.indexnow import MAX_URLS, batches, request_body
from landing.leads.store import store_for
from landing.settings import Settings
from landing.web.app import create_app
from landing.web.live import LiveSite
from tests.conftest import ClientFactory
from tests.leads_helpers import rows
from tests.servers import free_port

KEY = "0123456789abcdef0123456789abcdef"
BASE = "https://pain.example.com"
CARY = [f"{BASE}/intrathecal-pump-therapy/cary-il/", f"{BASE}/nerve-blocks/cary-il/"]


class Endpoint:
    """A fake IndexNow endpoint: records each request's path, headers and JSON body; answers the statuses given."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.received: list[tuple[str, str, object]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = self.rfile.read(int(self.headers["content-length"]))
                endpoint.received.append((self.path, self.headers["content-type"], json.loads(body)))
                status = endpoint.statuses.pop(0) if endpoint.statuses else 200
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/indexnow"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


Instance = Callable[..., Awaitable[tuple[httpx.AsyncClient, LiveSite]]]


@pytest.fixture
async def instance(settings: Settings) -> AsyncIterator[Instance]:
    """instance(**setting_overrides): a client of a freshly started app, and the app's live site."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(**overrides: object) -> tuple[httpx.AsyncClient, LiveSite]:
            app = create_app(settings.replace(**overrides))
            manager = await stack.enter_async_context(LifespanManager(app))
            client = await stack.enter_async_context(httpx.AsyncClient(
                transport=httpx.ASGITransport(app=manager.app), base_url="http://testserver"))
            return client, app.state.site

        yield start


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    found = Endpoint([])
    yield found
    found.close()


async def until(condition, seconds: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    assert condition()


async def test_the_key_file_is_served_when_a_key_is_set(make_client: ClientFactory, endpoint: Endpoint) -> None:
    client = await make_client(indexnow_key=KEY, indexnow_endpoint=endpoint.url)
    response = await client.get(f"/{KEY}.txt")
    assert response.status_code == 200 and response.text == KEY
    assert response.headers["content-type"].startswith("text/plain")
    plain = await make_client()
    assert (await plain.get(f"/{KEY}.txt")).status_code == 404


async def publish(settings: Settings, text: str) -> None:
    store = store_for(settings.database_url)
    await store.open()
    try:
        await store.publish_version(text, "m@example.com", "test", "test")
    finally:
        await store.close()


async def test_a_file_reload_submits_the_changed_pages_with_the_exact_body(
        instance: Instance, endpoint: Endpoint, locations_csv: Path, settings: Settings) -> None:
    client, site = await instance(indexnow_key=KEY, indexnow_endpoint=endpoint.url)
    assert (await client.get("/intrathecal-pump-therapy/cary-il/")).status_code == 200
    text = locations_csv.read_text(encoding="utf-8")
    locations_csv.write_text(text.replace("Cary,IL,McHenry County,60013,42.2120,-88.2381,,,,,,",
                                          "Cary,IL,McHenry County,60013,42.2120,-88.2381,,,,,A new intro for Cary.,"),
                             encoding="utf-8")
    assert await asyncio.to_thread(site.reload)
    await until(lambda: endpoint.received)
    assert endpoint.received == [("/indexnow", "application/json; charset=utf-8",
                                  {"host": "pain.example.com", "key": KEY, "keyLocation": f"{BASE}/{KEY}.txt",
                                   "urlList": CARY})]
    await until(lambda: rows(Path(settings.database_url.removeprefix("sqlite:///")), "indexnow_outbox")[0]["sent_at"])


async def test_a_failed_submission_is_retried_and_a_publish_seen_twice_is_sent_once(
        instance: Instance, endpoint: Endpoint, locations_csv: Path, settings: Settings) -> None:
    endpoint.statuses[:] = [500, 429]
    _, first = await instance(indexnow_key=KEY, indexnow_endpoint=endpoint.url, notify_retry_seconds=0.1,
                              reload_interval=0.1)
    _, second = await instance(indexnow_key=KEY, indexnow_endpoint=endpoint.url, notify_retry_seconds=0.1,
                               reload_interval=0.1)
    text = locations_csv.read_text(encoding="utf-8")
    await publish(settings, text.replace("Cary,IL,McHenry County,60013,42.2120,-88.2381,,,,,,",
                                         "Cary,IL,McHenry County,60013,42.2120,-88.2381,,,,,A new intro for Cary.,"))
    for site in (first, second):
        await until(lambda site=site: site.published == 1)  # type: ignore[misc]
    await until(lambda: len(endpoint.received) == 3)
    await asyncio.sleep(0.5)  # nothing more comes: both instances queued one submission, sent once it was accepted
    assert [body for _, _, body in endpoint.received] == [{"host": "pain.example.com", "key": KEY,
                                                           "keyLocation": f"{BASE}/{KEY}.txt", "urlList": CARY}] * 3
    [row] = rows(Path(settings.database_url.removeprefix("sqlite:///")), "indexnow_outbox")
    assert row["attempts"] == 3 and row["sent_at"]


async def test_an_endpoint_that_does_not_answer_is_tried_again_later(
        instance: Instance, locations_csv: Path, settings: Settings) -> None:
    silent = f"http://127.0.0.1:{free_port()}/indexnow"  # nothing listens there
    _, site = await instance(indexnow_key=KEY, indexnow_endpoint=silent, notify_retry_seconds=60)
    text = locations_csv.read_text(encoding="utf-8")
    locations_csv.write_text(text.replace("Cary,IL,McHenry County,60013,42.2120,-88.2381,,,,,,",
                                          "Cary,IL,McHenry County,60013,42.2120,-88.2381,,,,,A new intro for Cary.,"),
                             encoding="utf-8")
    assert await asyncio.to_thread(site.reload)
    database = Path(settings.database_url.removeprefix("sqlite:///"))
    await until(lambda: rows(database, "indexnow_outbox") and rows(database, "indexnow_outbox")[0]["last_error"])
    [row] = rows(database, "indexnow_outbox")
    assert row["sent_at"] is None and row["attempts"] == 1 and row["last_error"] == "no answer (ConnectError)"


async def test_held_back_pages_are_never_submitted(instance: Instance, endpoint: Endpoint,
                                                   locations_csv: Path) -> None:
    _, site = await instance(indexnow_key=KEY, indexnow_endpoint=endpoint.url)
    text = locations_csv.read_text(encoding="utf-8")
    # Boston is hundreds of miles from both offices: its pages are held back by the distance limit.
    locations_csv.write_text(text + "Boston,MA,Suffolk County,02134,42.3534,-71.1329,,,,,,\n"
                             "Fox River Grove,IL,McHenry County,60021,42.1972,-88.2145,,,,intrathecal-pump-therapy,,\n",
                             encoding="utf-8")
    assert await asyncio.to_thread(site.reload, False)
    assert "/intrathecal-pump-therapy/boston-ma/" in site.current.renderer.held_back
    await until(lambda: endpoint.received)
    urls = endpoint.received[0][2]["urlList"]  # type: ignore[index]
    assert f"{BASE}/intrathecal-pump-therapy/fox-river-grove-il/" in urls
    assert f"{BASE}/" in urls and f"{BASE}/intrathecal-pump-therapy/" in urls  # the lists of towns changed
    assert not [url for url in urls if "boston" in url]


async def test_a_page_newly_held_back_is_not_submitted(instance: Instance, endpoint: Endpoint,
                                                       locations_csv: Path) -> None:
    _, site = await instance(indexnow_key=KEY, indexnow_endpoint=endpoint.url)
    # Cary moved 140 miles north, farther from its office than the distance limit allows: its pages stay, held back.
    text = locations_csv.read_text(encoding="utf-8")
    locations_csv.write_text(text.replace("Cary,IL,McHenry County,60013,42.2120,-88.2381,",
                                          "Cary,IL,McHenry County,60013,44.2120,-88.2381,"), encoding="utf-8")
    assert await asyncio.to_thread(site.reload)
    assert CARY[0].removeprefix(BASE) in site.current.renderer.held_back
    await until(lambda: endpoint.received)
    urls = endpoint.received[0][2]["urlList"]  # type: ignore[index]
    assert not [url for url in urls if "/cary-il/" in url]


def test_submissions_are_batched_at_ten_thousand_urls() -> None:
    urls = [f"{BASE}/t/{n}/" for n in range(MAX_URLS * 2 + 1)]
    assert [len(batch) for batch in batches(urls)] == [MAX_URLS, MAX_URLS, 1]
    assert request_body(BASE, KEY, urls[:1]) == {"host": "pain.example.com", "key": KEY,
                                                 "keyLocation": f"{BASE}/{KEY}.txt", "urlList": [f"{BASE}/t/0/"]}


async def test_a_starting_instance_catching_up_submits_nothing(instance: Instance, endpoint: Endpoint,
                                                               locations_csv: Path, settings: Settings) -> None:
    text = locations_csv.read_text(encoding="utf-8")
    await publish(settings, text.replace("Cary,IL,McHenry County,60013,42.2120,-88.2381,,,,,,",
                                         "Cary,IL,McHenry County,60013,42.2120,-88.2381,,,,,A new intro for Cary.,"))
    _, site = await instance(indexnow_key=KEY, indexnow_endpoint=endpoint.url)
    assert site.published == 1
    await asyncio.sleep(0.3)
    assert endpoint.received == []



async def test_the_outbox_keeps_one_submission_per_change_and_retries_it_when_due(database_url: str) -> None:
    store = store_for(database_url)
    await store.open()
    try:
        assert await store.queue_submissions([("a", ["u1", "u2"]), ("b", ["u3"])]) == 2
        assert await store.queue_submissions([("a", ["u1", "u2"])]) == 0  # another instance saw the same change
        claimed = await store.claim_submissions(60)
        assert sorted((s.id, s.urls, s.attempts) for s in claimed) == [("a", ("u1", "u2"), 1), ("b", ("u3",), 1)]
        assert await store.claim_submissions(60) == []  # claimed: no other worker takes them
        await store.submission_failed("a", 0, "HTTP 500")
        await store.submission_sent("b")
        [again] = await store.claim_submissions(60)
        assert (again.id, again.attempts) == ("a", 2)
        await store.submission_failed("a", 3600, "HTTP 429")
        assert await store.claim_submissions(60) == [] and await store.pending_submissions() == 1
    finally:
        await store.close()


async def test_site_versions_are_numbered_and_a_stale_base_is_refused(database_url: str) -> None:
    store = store_for(database_url)
    await store.open()
    try:
        assert await store.latest_version_number() == 0 and await store.site_version() is None
        assert await store.publish_version("town,state\nCary,IL\n", "a@example.com", "first", "up", base=0) == 1
        assert await store.publish_version("town,state\n", "b@example.com", "stale", "up", base=0) is None
        assert await store.publish_version("town,state\nElgin,IL\n", "b@example.com", "second", "up", base=1) == 2
        newest = await store.site_version()
        assert newest is not None and (newest.number, newest.locations, newest.author) == (2, "town,state\nElgin,IL\n",
                                                                                           "b@example.com")
        assert [(v.number, v.summary, v.locations) for v in await store.site_versions()] == [(2, "second", ""),
                                                                                             (1, "first", "")]
        draft = await store.add_draft("town,state\n", "a@example.com", "x.csv uploaded", 2)
        assert await store.get_draft(draft.id) == draft
        await store.delete_draft(draft.id)
        assert await store.get_draft(draft.id) is None
    finally:
        await store.close()
