"""Security headers on every response: whatever the status, whoever answers it, the same policy as a landing
page (the staff area keeps its own, stricter one), and HSTS on all of them when the site is served over https."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from landing.settings import Settings
from landing.web.app import create_app
from tests.conftest import ClientFactory
from tests.html import Page
from tests.leads_helpers import LANDING, token, valid_form
from tests.servers import free_port, start_server, stop, wait_until_up

PUBLIC_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; form-action 'self'; "
              "frame-ancestors 'none'; base-uri 'self'")
HSTS = "max-age=31536000; includeSubDomains"
FORM = "application/x-www-form-urlencoded"

# (what, method, path, request options, status): in this order, against one app whose per-address lead limit
# is 2 (the 303 and the 422 spend it, so the next lead is a 429).
RESPONSES: list[tuple[str, str, str, dict[str, Any], int]] = [
    ("landing page", "GET", LANDING, {}, 200),
    ("landing page, gzip", "GET", LANDING, {"headers": {"accept-encoding": "gzip"}}, 200),
    ("landing page with a campaign", "GET", LANDING + "?utm_source=x", {"headers": {"referer": "https://a.example/"}}, 200),
    ("hub", "GET", "/nerve-blocks/", {}, 200),
    ("home", "GET", "/", {}, 200),
    ("HEAD of a page", "HEAD", LANDING, {}, 200),
    ("other spelling: 301", "GET", "/Intrathecal-Pump-Therapy/Cary-IL", {}, 301),
    ("unknown page: 404", "GET", "/intrathecal-pump-therapy/barington-il/", {}, 404),
    ("POST to a page: 405", "POST", LANDING, {}, 405),
    ("sitemap", "GET", "/sitemap.xml", {}, 200),
    ("robots.txt", "GET", "/robots.txt", {}, 200),
    ("static file", "GET", "STYLESHEET", {}, 200),
    ("unknown static file: 404", "GET", "/static/nothing.css", {}, 404),
    ("POST to a static file: 405", "POST", "STYLESHEET", {}, 405),
    ("/healthz", "GET", "/healthz", {}, 200),
    ("thank-you page", "GET", "/thank-you/?office=crystal-lake", {}, 200),
    ("lead stored: 303", "POST", "/leads", {"data": "VALID"}, 303),
    ("mistake shown again: 422", "POST", "/leads", {"data": "INVALID"}, 422),
    ("over the limit: 429", "POST", "/leads", {"data": "VALID"}, 429),
    ("bot's post: 303", "POST", "/leads", {"data": {**valid_form(), "form_token": ""}}, 303),
    ("body too large: 413", "POST", "/leads", {"content": b"name=" + b"a" * 17_000, "headers": {"content-type": FORM}}, 413),
    ("not a form: 415", "POST", "/leads", {"content": b"{}", "headers": {"content-type": "application/json"}}, 415),
    ("garbled form: 400", "POST", "/leads", {"content": b"name=%FF", "headers": {"content-type": FORM}}, 400),
    ("GET of the form's target: 404", "GET", "/leads", {}, 404),
    ("POST to /healthz: 405", "POST", "/healthz", {}, 405),
]


async def answer(client: httpx.AsyncClient, method: str, path: str, options: dict[str, Any]) -> httpx.Response:
    options = dict(options)
    if options.get("data") == "VALID":
        options["data"] = valid_form(form_token=token(age=30))
    elif options.get("data") == "INVALID":
        options["data"] = valid_form(form_token=token(age=30), phone="555", email="")
    if path == "STYLESHEET":  # its fingerprinted name, as the page links it
        path = Page((await client.get(LANDING)).text).all("link", rel="stylesheet")[0]["href"]
    return await client.request(method, path, **options)


def assert_public_policy(response: httpx.Response, what: str, hsts: bool) -> None:
    headers = response.headers
    assert headers.get("content-security-policy") == PUBLIC_CSP, what
    assert headers.get("x-content-type-options") == "nosniff", what
    assert headers.get("referrer-policy") == "strict-origin-when-cross-origin", what
    assert headers.get("strict-transport-security") == (HSTS if hsts else None), what


@pytest.mark.slow
async def test_every_response_of_the_real_server_carries_the_policy_and_hsts(site_dir: Path) -> None:
    port = free_port()
    server = start_server(site_dir, port, leads_per_address="2")  # the test site's base URL is https
    try:
        await wait_until_up(port, server)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for what, method, path, options, status in RESPONSES:
                response = await answer(client, method, path, options)
                assert response.status_code == status, what
                assert_public_policy(response, what, hsts=True)
            staff = await client.get("/admin/login")
    finally:
        stop(server)
    assert staff.headers["content-security-policy"].startswith("default-src 'none'")  # its own, stricter
    assert staff.headers["referrer-policy"] == "same-origin" and staff.headers["strict-transport-security"] == HSTS


async def test_over_http_every_response_carries_the_policy_without_hsts(make_client: ClientFactory) -> None:
    client = await make_client(base_url="http://127.0.0.1:8000", leads_per_address=2)
    for what, method, path, options, status in RESPONSES:
        response = await answer(client, method, path, options)
        assert response.status_code == status, what
        assert_public_policy(response, what, hsts=False)


async def test_a_404_past_the_suggestion_budget_carries_the_policy_too(make_client: ClientFactory) -> None:
    client = await make_client()
    answers = [await client.get(f"/intrathecal-pump-therapy/barington-{n}/") for n in range(100)]
    listed = [b'id="closest-heading"' in a.content for a in answers]
    assert any(listed) and not all(listed)  # past the budget, the page without suggestions
    for response in answers:
        assert response.status_code == 404 and response.headers["x-robots-tag"] == "noindex"
        assert "We could not find that page" in Page(response.text).text_of("h1")
        assert_public_policy(response, "404", hsts=True)
    # Past the budget, the rest of the site answers as before: other spellings, the staff area, static files.
    assert (await client.get("/Intrathecal-Pump-Therapy/Cary-IL")).headers["location"] == LANDING
    assert (await client.get("/intrathecal-pump-therapy/crystal-lake-illinois/")).status_code == 301
    assert (await client.get("/admin/login")).headers["content-security-policy"].startswith("default-src 'none'")
    assert (await client.get("/static/nothing.css")).text == "Not found"
    assert (await client.get("/robots.txt")).status_code == 200


@pytest.fixture
async def failing_client(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    """An app whose 404 page has a bug, served with exceptions answered, as uvicorn does, not raised."""
    from landing.pages import Renderer

    def broken(*args: object, **kwargs: object) -> str:
        raise RuntimeError("a bug")

    monkeypatch.setattr(Renderer, "render_not_found", broken)
    app = create_app(settings)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


async def test_a_server_error_carries_the_policy_and_no_traceback(failing_client: httpx.AsyncClient) -> None:
    response = await failing_client.get("/no-such-page/")
    assert response.status_code == 500 and response.text == "Internal Server Error"
    assert_public_policy(response, "500", hsts=True)
