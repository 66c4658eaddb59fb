"""POST /leads answered by the lean ASGI path (landing.web.intake.LeadIntake) exactly as the Starlette route it
stands in for answers it: the same status, headers and page, and the same row stored, for every kind of post."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from asgi_lifespan import LifespanManager

from landing.settings import Settings
from landing.web.app import create_app
from landing.web.intake import LeadIntake
from tests.leads_helpers import rows, token, valid_form

Post = tuple[bytes, dict[str, str]]
# Differ between any two answers, whoever gives them: a fresh form token (signed each second), and the time and
# id a stored lead is given.
_TOKEN_VALUE = re.compile(rb'name="form_token" value="[^"]*"')
_NEW_ID = re.compile(r"[0-9a-f]{16}")  # the id a request without a usable X-Request-ID is given
UNSTABLE_COLUMNS = ("id", "created_at", "lead_id", "lead_created_at", "next_attempt_at", "sent_at", "claimed_until",
                    "claimed_by", "attempts")


def form(**changes: str) -> Post:
    return urlencode(valid_form(**changes)).encode(), {"content-type": "application/x-www-form-urlencoded"}


POSTS: dict[str, Callable[[], Post]] = {
    "a person's lead": lambda: form(),
    "a lead with a message in many scripts": lambda: form(name="שרה 😀 Levi", message="مرحبا \u202e <b>&amp;</b>"),
    "mistakes": lambda: form(phone="555", email="", message="Keep <this> text & me"),
    "no consent": lambda: form(consent=""),
    "the honeypot filled": lambda: form(website="http://spam.example"),
    "no token": lambda: form(form_token=""),
    "a forged token": lambda: form(form_token="lead.forged.signature"),
    "too fast": lambda: form(form_token=token(age=0)),
    "a form open for a day": lambda: form(form_token=token(age=25 * 3600)),
    "a page that is gone": lambda: form(town="atlantis-il"),
    "a repeated field": lambda: (urlencode(valid_form()).encode() + b"&name=Second", {
        "content-type": "application/x-www-form-urlencoded"}),
    "JSON": lambda: (b'{"name": "Jane"}', {"content-type": "application/json"}),
    "no content type": lambda: (b"name=Jane", {}),
    "a charset in the content type": lambda: (form()[0], {"content-type": "Application/X-WWW-Form-Urlencoded; charset=UTF-8"}),
    "a declared length over the limit": lambda: (b"name=Jane", {"content-type": "application/x-www-form-urlencoded",
                                                                 "content-length": "999999"}),
    "a body over the limit": lambda: (b"message=" + b"a" * 20_000, {"content-type": "application/x-www-form-urlencoded"}),
    "not UTF-8": lambda: (b"name=%ff%fe", {"content-type": "application/x-www-form-urlencoded"}),
    "too many fields": lambda: (b"&".join(b"f%d=1" % n for n in range(80)), {
        "content-type": "application/x-www-form-urlencoded"}),
    "an empty body": lambda: (b"", {"content-type": "application/x-www-form-urlencoded"}),
}


@contextlib.asynccontextmanager
async def client_of(settings: Settings, database: Path, lean: bool, route: bool = True) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app, with the lean path in, or taken out (every POST /leads then meets the route); without
    the route, what the lean path does not answer is a 404 or a 405."""
    app = create_app(settings.replace(database_url=f"sqlite:///{database}"))
    if not lean:
        app.user_middleware = [middleware for middleware in app.user_middleware if getattr(middleware, "cls", None) is not LeadIntake]
    if not route:
        app.router.routes = [each for each in app.router.routes if getattr(each, "name", "") != "submit_lead"]
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, client=("203.0.113.9", 123))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


def answer(response: httpx.Response) -> dict[str, Any]:
    headers = [(name, "(a new id)" if name == "x-request-id" and _NEW_ID.fullmatch(value) else value)
               for name, value in response.headers.multi_items()]
    return {"status": response.status_code, "headers": headers, "body": _TOKEN_VALUE.sub(b"TOKEN", response.content)}


def stable(database: Path, table: str) -> list[dict[str, object]]:
    return [{key: value for key, value in row.items() if key not in UNSTABLE_COLUMNS} for row in rows(database, table)]


Both = Callable[[str, Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]], Awaitable[None]]


@pytest.fixture(params=[False], ids=["lean path alone"])
async def both(request: pytest.FixtureRequest, settings: Settings, tmp_path: Path) -> AsyncIterator[Both]:
    """both(name, request): make ``request`` of the app with the lean path (and, when the fixture's parameter says
    so, the route behind it) and of the app with only the route (each with its own database), and assert the same
    answer and the same rows."""
    async with contextlib.AsyncExitStack() as stack:
        lean = await stack.enter_async_context(client_of(settings, tmp_path / "lean.sqlite3", lean=True,
                                                         route=request.param))
        route = await stack.enter_async_context(client_of(settings, tmp_path / "route.sqlite3", lean=False))

        async def compare(name: str, request: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]) -> None:
            by_lean, by_route = await request(lean), await request(route)
            assert answer(by_lean) == answer(by_route), name
            for table in ("leads", "outbox"):
                assert stable(tmp_path / "lean.sqlite3", table) == stable(tmp_path / "route.sqlite3", table), name

        yield compare


@pytest.mark.parametrize("name", POSTS)
async def test_the_lean_path_answers_and_stores_as_the_route_does(both: Both, name: str) -> None:
    body, headers = POSTS[name]()
    headers = {**headers, "user-agent": "Mozilla/5.0 test", "x-request-id": "req-1"}
    await both(name, lambda client: client.post("/leads", content=body, headers=headers))


async def test_a_body_in_chunks_and_an_unusable_request_id_are_handled_alike(both: Both) -> None:
    body, headers = form()

    async def chunked(client: httpx.AsyncClient) -> httpx.Response:
        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(body), 100):
                yield body[start:start + 100]

        return await client.post("/leads", content=chunks(), headers={**headers, "x-request-id": "bad id"})

    await both("chunked", chunked)


async def test_over_the_rate_limit_both_say_429(both: Both) -> None:
    body, headers = form()
    for _ in range(6):  # the default allows 5 an address in 10 minutes
        await both("rate", lambda client: client.post("/leads", content=body, headers=headers))


@pytest.mark.parametrize("both", [True], ids=["the route behind"], indirect=True)
@pytest.mark.parametrize(("method", "path"), [("GET", "/leads"), ("PUT", "/leads"), ("POST", "/leads/"),
                                            ("POST", "/Leads"), ("HEAD", "/leads")])
async def test_other_methods_and_paths_are_answered_alike(both: Both, method: str, path: str) -> None:
    body, headers = form()
    await both(f"{method} {path}", lambda client: client.request(method, path, content=body,
                                                                 headers={**headers, "x-request-id": "req-2"}))
