"""No visitor's bytes reach another visitor through a shared cache: a landing page carrying the visitor's own
referrer or campaign is private; the same page without them (its form token alone) stays fit for a CDN."""

from __future__ import annotations

import httpx
import pytest

from tests.html import Page
from tests.leads_helpers import LANDING

PUBLIC = "public, max-age=600, stale-while-revalidate=86400"
PRIVATE = "private, max-age=600, stale-while-revalidate=86400"
ENCODINGS = ["identity", "gzip"]

VISITOR_VALUES = [
    pytest.param("?utm_source=newsletter&utm_campaign=spring", {}, id="campaign"),
    pytest.param("?gclid=CLICK-1", {}, id="click id"),
    pytest.param("", {"referer": "https://www.bing.com/search?q=pump"}, id="referrer"),
    pytest.param("?page=2", {}, id="any query (kept as the landing query)"),
]


def hidden(response: httpx.Response) -> dict[str, str]:
    return {field["name"]: field["value"] for field in Page(response.text).all("input", type="hidden")}


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize(("query", "headers"), VISITOR_VALUES)
async def test_a_page_carrying_the_visitors_own_values_is_private(
    client: httpx.AsyncClient, encoding: str, query: str, headers: dict[str, str]
) -> None:
    response = await client.get(LANDING + query, headers={**headers, "accept-encoding": encoding})
    assert response.status_code == 200 and response.headers["cache-control"] == PRIVATE
    assert set(hidden(response)) - {"treatment", "town", "form_token"}  # the values are in the page
    assert response.headers.get("content-encoding", "identity") == encoding


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_the_same_page_without_them_stays_public(client: httpx.AsyncClient, encoding: str) -> None:
    await client.get(LANDING + "?utm_source=x", headers={"referer": "https://a.example/", "accept-encoding": encoding})
    response = await client.get(LANDING, headers={"accept-encoding": encoding})  # right after, in the same second
    assert response.headers["cache-control"] == PUBLIC
    assert set(hidden(response)) == {"treatment", "town", "form_token"}  # the token alone: fine to share


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize(("query", "headers"), VISITOR_VALUES)
async def test_a_304_follows_the_same_rule(
    client: httpx.AsyncClient, encoding: str, query: str, headers: dict[str, str]
) -> None:
    etag = (await client.get(LANDING, headers={"accept-encoding": encoding})).headers["etag"]
    personal = await client.get(LANDING + query, headers={**headers, "accept-encoding": encoding, "if-none-match": etag})
    assert personal.status_code == 304 and personal.headers["cache-control"] == PRIVATE
    shared = await client.get(LANDING, headers={"accept-encoding": encoding, "if-none-match": etag})
    assert shared.status_code == 304 and shared.headers["cache-control"] == PUBLIC


async def test_pages_without_a_form_stay_public_whatever_the_visit_carries(client: httpx.AsyncClient) -> None:
    for path in ["/", "/nerve-blocks/"]:
        response = await client.get(path + "?utm_source=x", headers={"referer": "https://a.example/"})
        assert response.headers["cache-control"] == PUBLIC, path
