"""Junk cannot crowd out patients: bots' posts spend a budget of their own, never the leads', and storing them
is bounded too."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import pytest

from landing.leads.guard import SPAM_KEPT_PER_ADDRESS, SPAM_KEPT_PER_HOUR
from tests.leads_helpers import rows, token, valid_form
from tests.servers import free_port, start_server, stop, wait_until_up

TOKENLESS = [{"form_token": ""}, {"form_token": "lead.forged.signature"}]


async def test_bots_posts_spend_their_own_budget_and_not_a_patients(
    client: httpx.AsyncClient, site_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    junk = [valid_form(name="Zebediah Bot", email="zebediah.bot@example.com", **TOKENLESS[n % 2]) for n in range(20)]
    answers = [await client.post("/leads", data=form) for form in junk]
    assert {(a.status_code, a.headers["location"]) for a in answers} == {(303, "/thank-you/?office=crystal-lake")}
    kept = rows(site_dir / "leads.sqlite3")
    assert len(kept) == SPAM_KEPT_PER_ADDRESS and all(lead["spam"] == 1 for lead in kept)
    # The same address still has its whole budget of real enquiries (LANDING_LEADS_PER_ADDRESS, 5).
    assert [(await client.post("/leads", data=valid_form())).status_code for _ in range(5)] == [303] * 5
    assert sum(1 for lead in rows(site_dir / "leads.sqlite3") if lead["spam"] == 0) == 5
    logged = [record.getMessage() for record in caplog.records if record.name == "landing.leads"]
    assert logged == ["spam budget spent: 1 spam submission(s) answered but not stored since the last such message "
                      "(at most one a minute)"]  # one line a minute, however many: the rest are counted
    assert not any("Zebediah" in line or "zebediah" in line or "127.0.0.1" in line for line in logged)


@pytest.mark.slow
async def test_a_flood_of_tokenless_posts_from_many_addresses_leaves_room_for_a_patient(site_dir: Path) -> None:
    port = free_port()
    # A small global lead budget: had the flood spent it, the patient below would be told to wait (429).
    server = start_server(site_dir, port, leads_per_minute="5", leads_per_address="5", trusted_proxies="127.0.0.1")
    try:
        await wait_until_up(port, server)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            gate = asyncio.Semaphore(16)

            async def bot(n: int) -> httpx.Response:
                async with gate:
                    address = f"198.51.{n // 250}.{n % 250 + 1}" if n % 2 else f"2001:db8:{n:x}::1"
                    return await client.post("/leads", data=valid_form(**TOKENLESS[n % 2]),
                                              headers={"x-forwarded-for": address})

            answers = await asyncio.gather(*(bot(n) for n in range(500)))
            assert {(a.status_code, a.headers["location"]) for a in answers} == {(303, "/thank-you/?office=crystal-lake")}
            patient = await client.post("/leads", data=valid_form(name="Pat Patient", form_token=token(age=30)),
                                        headers={"x-forwarded-for": "192.0.2.200"})
            assert patient.status_code == 303 and patient.headers["location"] == "/thank-you/?office=crystal-lake"
    finally:
        stop(server)
    leads = rows(site_dir / "leads.sqlite3")
    assert [lead["name"] for lead in leads if lead["spam"] == 0] == ["Pat Patient"]
    assert sum(lead["spam"] for lead in leads) == SPAM_KEPT_PER_HOUR  # the other 400 answered, not stored
