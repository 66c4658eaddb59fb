"""Offline conversions: the ads platforms' import files, from the status staff record, with click ids only."""

from __future__ import annotations

import os
from dataclasses import replace
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from landing.errors import ConfigError
from landing.leads.model import new_id
from landing.settings import Settings
from landing.site import load_site
from tests.leads_helpers import a_lead, change, rows
from tests.test_admin import database, staff  # noqa: F401 - the signed-in client fixture
from tests.servers import landing_environment

GCLID = "Cj0KCQiA-abc_123XYZ"
MSCLKID = "f894f652ea334e739002f7167ab8f8e3"

CONVERTED = a_lead(name="Won Patient", gclid=GCLID, email="won@example.com", phone="+18475550111",
                   message="My back hurts", created_at="2026-11-19T10:00:00.000000+00:00")
FROM_BING = a_lead(name="Bing Patient", msclkid=MSCLKID, created_at="2026-11-20T10:00:00.000000+00:00")
ONLY_CONTACTED = a_lead(name="Contacted Only", gclid="Cj0ContactedOnly", created_at="2026-11-19T11:00:00.000000+00:00")
SPAM = a_lead(name="Spam Bot", gclid="Cj0Spam", spam=True, spam_reason="honeypot filled")
TOO_EARLY = a_lead(name="Early Patient", gclid="Cj0Early", created_at="2026-10-01T10:00:00.000000+00:00")
FORGED = a_lead(name="Forged Click", gclid="=cmd|' /C calc'!A0", created_at="2026-11-19T12:00:00.000000+00:00")
NO_CLICK = a_lead(name="Organic Patient", created_at="2026-11-19T13:00:00.000000+00:00")
LEADS = [replace(lead, phone=f"+1847555020{n}", email=f"patient{n}@example.com") if lead is not CONVERTED else lead
         for n, lead in enumerate([CONVERTED, FROM_BING, ONLY_CONTACTED, SPAM, TOO_EARLY, FORGED, NO_CLICK])]
CONVERTED, FROM_BING, ONLY_CONTACTED, SPAM, TOO_EARLY, FORGED, NO_CLICK = LEADS
EVENTS = [
    (CONVERTED, "2026-11-20T15:04:05.000000+00:00", "scheduled"),  # 09:04:05 in Chicago (CST)
    (CONVERTED, "2026-11-22T15:00:00.000000+00:00", "closed"),
    (CONVERTED, "2026-11-23T15:00:00.000000+00:00", "scheduled"),  # again: still one conversion, at the first time
    (FROM_BING, "2026-11-21T00:30:00.000000+00:00", "scheduled"),  # Nov 20 in Chicago, Nov 21 in GMT
    (ONLY_CONTACTED, "2026-11-20T16:00:00.000000+00:00", "contacted"),
    (SPAM, "2026-11-20T16:00:00.000000+00:00", "scheduled"),
    (TOO_EARLY, "2026-10-31T16:00:00.000000+00:00", "scheduled"),
    (FORGED, "2026-11-20T17:00:00.000000+00:00", "scheduled"),
    (NO_CLICK, "2026-11-20T18:00:00.000000+00:00", "scheduled"),
]
GOOGLE_FILE = (
    "Parameters:TimeZone=America/Chicago\r\n"
    "Google Click ID,Conversion Name,Conversion Time,Conversion Value,Conversion Currency\r\n"
    f"{GCLID},Consultation booked,2026-11-20 09:04:05,,\r\n"
)
MICROSOFT_FILE = (
    "Parameters:TimeZone=+0000\r\n"
    "Microsoft Click ID,Conversion Name,Conversion Time,Conversion Value,Conversion Currency\r\n"
    f"{MSCLKID},Consultation booked,2026-11-21 00:30:00,,\r\n"
)
PERSONAL = ["Won Patient", "won@example.com", "5550111", "555-0111", "My back hurts", "Jane"]


def chicago_site(site_dir: Path, extra: str = "") -> None:
    path = site_dir / "site.toml"
    path.write_text(path.read_text().replace("[practice]\n", '[practice]\ntimezone = "America/Chicago"\n', 1) + extra)


def add_events(db: Path) -> None:
    for lead, at, status in EVENTS:
        change(db, "INSERT INTO lead_events (id, lead_id, at, actor, status) VALUES (?, ?, ?, ?, ?)",
               (new_id(), lead.id, at, "staff@example.com", status))


async def test_the_staff_download_is_googles_import_file_exactly(staff, settings: Settings, site_dir: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    chicago_site(site_dir)
    client = await staff(*LEADS)
    add_events(database(settings))
    response = await client.get("/admin/conversions.csv?since=2026-11-01&format=google")
    assert response.status_code == 200 and response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="conversions-google-since-2026-11-01.csv"'
    assert response.headers["cache-control"] == "no-store"
    assert response.text == GOOGLE_FILE
    (audit,) = [row for row in rows(database(settings), "audit_log") if row["action"] == "conversions export"]
    assert audit["actor"] == "staff@example.com" and audit["rows"] == 1
    assert audit["detail"] == "google conversions since 2026-11-01; 1 left out (a click id no platform makes)"


async def test_the_microsoft_file_is_in_gmt_and_carries_only_microsoft_clicks(staff, settings: Settings, site_dir: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    chicago_site(site_dir)
    client = await staff(*LEADS)
    add_events(database(settings))
    response = await client.get("/admin/conversions.csv?since=2026-11-01&format=microsoft")
    assert response.text == MICROSOFT_FILE
    for text in PERSONAL:
        assert text not in response.text


async def test_since_is_the_practices_day(staff, settings: Settings, site_dir: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    # FROM_BING converted at 00:30 GMT on Nov 21, which is still Nov 20 in Chicago.
    chicago_site(site_dir)
    client = await staff(*LEADS)
    add_events(database(settings))
    assert MSCLKID in (await client.get("/admin/conversions.csv?since=2026-11-20&format=microsoft")).text
    assert MSCLKID not in (await client.get("/admin/conversions.csv?since=2026-11-21&format=microsoft")).text


async def test_a_configured_status_name_and_value_are_used(staff, settings: Settings, site_dir: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    chicago_site(site_dir, '\n[conversions]\nstatus = "closed"\nname = "Pump implanted"\nvalue = 1500\ncurrency = "usd"\n')
    client = await staff(*LEADS)
    add_events(database(settings))
    text = (await client.get("/admin/conversions.csv?since=2026-11-01")).text
    assert text.splitlines()[2:] == [f"{GCLID},Pump implanted,2026-11-22 09:00:00,1500,USD"]


@pytest.mark.parametrize(("query", "message"), [
    ("", "since: choose the first day of conversions to include"),
    ("since=2026-13-01", "since: '2026-13-01' is not a date (use YYYY-MM-DD, e.g. 2026-11-01)"),
    ("since=2026-11-01&format=facebook", "format: 'facebook' is not a format (use google or microsoft)"),
])
async def test_a_download_asked_for_wrongly_says_what_to_fix(staff, query: str, message: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    client = await staff()
    response = await client.get(f"/admin/conversions.csv?{query}")
    assert response.status_code == 400 and message in response.text


async def test_the_download_needs_a_signed_in_member_of_staff(client: httpx.AsyncClient) -> None:
    assert (await client.get("/admin/conversions.csv?since=2026-11-01")).status_code == 401


async def test_the_leads_page_offers_the_download(staff) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    html = (await (await staff()).get("/admin/leads")).text
    assert 'action="/admin/conversions.csv"' in html and "Download conversions" in html


def test_the_conversion_status_must_be_one_staff_set(site_dir: Path) -> None:
    chicago_site(site_dir, '\n[conversions]\nstatus = "new"\ncurency = "USD"\n')
    with pytest.raises(ConfigError) as caught:
        load_site(site_dir / "site.toml")
    problems = "\n".join(caught.value.problems)
    assert "[conversions]: status = 'new' must be a status staff set once a patient is won" in problems
    assert "unknown key 'curency' (did you mean 'currency'?)" in problems


def test_the_command_writes_the_same_file_privately_and_audits_it(settings: Settings, site_dir: Path,
                                                                 tmp_path: Path) -> None:
    import asyncio

    from tests.leads_helpers import seed

    chicago_site(site_dir)
    asyncio.run(seed(database(settings), *LEADS))
    add_events(database(settings))
    env = landing_environment(LANDING_DATABASE_URL=settings.database_url, LANDING_SITE_FILE=str(site_dir / "site.toml"))
    target = tmp_path / "google.csv"

    def landing(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "landing", "leads", "conversions", *args], env=env,
                              capture_output=True, text=True, timeout=60)

    result = landing("--since", "2026-11-01", "-o", str(target))
    assert result.returncode == 0, result.stderr
    assert target.read_bytes() == GOOGLE_FILE.encode()
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert "exported 1 google conversions since 2026-11-01" in result.stderr
    assert landing("--since", "2026-11-01", "-o", str(target)).returncode == 1  # exists: --force to replace
    assert landing("--since", "2026-11-01", "-o", str(target), "--force", "--format", "microsoft").returncode == 0
    assert target.read_text() == MICROSOFT_FILE.replace("\r\n", "\n")
    standard = landing("--since", "2026-11-01")
    assert standard.stdout == GOOGLE_FILE.replace("\r\n", "\n")
    bad = landing("--since", "November")
    assert bad.returncode == 2 and "'November' is not a date (use YYYY-MM-DD" in bad.stderr
    audited = [row for row in rows(database(settings), "audit_log") if row["action"] == "conversions export"]
    assert len(audited) == 3 and all(row["actor"].startswith("command line") for row in audited)


async def test_sqlite_and_postgresql_find_the_same_conversions(database_url: str, site_dir: Path) -> None:
    from landing.leads.conversions import export_conversions
    from landing.leads.store import store_for

    chicago_site(site_dir)
    site = load_site(site_dir / "site.toml")
    store = store_for(database_url)
    await store.open()
    try:
        for lead in LEADS:
            await store.add(lead, notify=False)
        await store.execute_many([("INSERT INTO lead_events (id, lead_id, at, actor, status) VALUES (?, ?, ?, ?, ?)",
                                   (new_id(), lead.id, at, "staff@example.com", status)) for lead, at, status in EVENTS])
        assert (await export_conversions(store, "google", "2026-11-01", site, "test")).text == GOOGLE_FILE
        assert (await export_conversions(store, "microsoft", "2026-11-01", site, "test")).text == MICROSOFT_FILE
    finally:
        await store.close()
