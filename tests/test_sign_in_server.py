"""Staff sign-in throttling against the real `landing serve`: a hundred tries at once get five checks."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.html import Page
from tests.leads_helpers import seed
from tests.servers import free_port, start_server, stop, wait_until_up

pytestmark = pytest.mark.slow
EMAIL, PASSWORD = "staff@example.com", "correct horse battery"


@pytest.fixture
async def server(site_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    await seed(site_dir / "leads.sqlite3", users=[(EMAIL, PASSWORD)])
    port = free_port()
    process = start_server(site_dir, port)
    try:
        await wait_until_up(port, process)
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=120) as client:
            yield client
    finally:
        stop(process)


async def sign_in_forms(client: httpx.AsyncClient, count: int) -> list[tuple[str, str]]:
    """``count`` sign-in forms, each as (its login cookie, its token), as that many browsers would hold them."""
    async def one() -> tuple[str, str]:
        response = await client.get("/admin/login")
        return response.cookies["landing_login"], Page(response.text).all("input", name="token")[0]["value"]

    forms = await asyncio.gather(*(one() for _ in range(count)))
    client.cookies.clear()  # each post carries its own form's cookie
    return forms


async def all_at_once(client: httpx.AsyncClient, attempts: list[tuple[str, str]]) -> Counter[int]:
    """Post a sign-in for each (email, password) at the same moment; how many got each status."""
    forms = await sign_in_forms(client, len(attempts))

    async def post(form: tuple[str, str], email: str, password: str) -> int:
        response = await client.post("/admin/login", headers={"cookie": f"landing_login={form[0]}"},
                                     data={"email": email, "password": password, "token": form[1]})
        return response.status_code

    return Counter(await asyncio.gather(*(post(form, *attempt) for form, attempt in zip(forms, attempts))))


async def test_a_hundred_wrong_passwords_at_once_for_one_account_get_five_checks(server: httpx.AsyncClient) -> None:
    statuses = await all_at_once(server, [(EMAIL, f"wrong password {n}") for n in range(100)])
    assert statuses == {401: 5, 429: 95}  # a 401 is a password checked and found wrong
    assert await all_at_once(server, [(EMAIL, PASSWORD)]) == {429: 1}  # the door is closed, even to the right one


async def test_a_hundred_accounts_tried_at_once_from_one_address_get_five_checks(server: httpx.AsyncClient) -> None:
    statuses = await all_at_once(server, [(f"guess{n}@example.com", "wrong password!!") for n in range(100)])
    assert statuses == {401: 5, 429: 95}
    assert await all_at_once(server, [(EMAIL, PASSWORD)]) == {429: 1}  # this address is shut out for a while
