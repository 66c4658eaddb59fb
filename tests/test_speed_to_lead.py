"""Speed to lead: time to first contact per lead and per office, overdue leads flagged, and one reminder
to the office (aiosmtpd on loopback) that names no patient."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo


from landing.leads.model import new_id
from landing.leads.speed import DUE_PER_READ, overdue, remind_overdue
from landing.leads.store import store_for
from landing.settings import Settings
from landing.site import load_site
from tests.conftest import ClientFactory
from tests.leads_helpers import a_lead, change, rows
from tests.mail import free_port, lead_ids, smtp_server
from tests.servers import until
from tests.test_admin import database, seed, sign_in, staff  # noqa: F401 - the signed-in client fixture

CHICAGO = ZoneInfo("America/Chicago")


def ago(**delta: float) -> str:
    return (dt.datetime.now(dt.timezone.utc) - dt.timedelta(**delta)).isoformat(timespec="microseconds")


def always_open(site_dir: Path) -> None:
    """Offices without opening hours: every minute counts, whenever the test runs."""
    path = site_dir / "site.toml"
    path.write_text(re.sub(r"(?m)^hours = .*\n(?:\s+\{.*\n)*(?:\]\n)?", "", path.read_text()))


def leads() -> tuple[Any, Any, Any]:
    """(overdue, fresh, answered), their times counted from now: made when a test runs, not when it is collected."""
    return (a_lead(name="Waiting Long", email="waiting@example.com", phone="+18475550177", message="Please call",
                   created_at=ago(hours=3)),
            a_lead(name="Just Arrived", email="fresh@example.com", phone="+18475550178", created_at=ago(minutes=5)),
            a_lead(name="Answered Fast", email="fast@example.com", phone="+18475550179", created_at=ago(hours=2),
                   status="contacted"))


async def test_the_list_shows_each_wait_and_flags_the_overdue(staff, settings: Settings, site_dir: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    always_open(site_dir)
    OVERDUE, FRESH, ANSWERED = leads()
    client = await staff(OVERDUE, FRESH, ANSWERED)
    first = (dt.datetime.fromisoformat(ANSWERED.created_at) + dt.timedelta(minutes=12)).isoformat()
    change(database(settings), "INSERT INTO lead_events (id, lead_id, at, actor, status) VALUES (?, ?, ?, ?, ?)",
           (new_id(), ANSWERED.id, first, "staff@example.com", "contacted"))
    html = (await client.get("/admin/leads")).text
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert re.search(r"Waiting Long .*? Overdue: waiting 3 h 0\d min of opening hours", text)
    assert re.search(r"Just Arrived .*? waiting [56] min of opening hours", text)
    assert "Answered Fast" in text and "after 12 min" in text
    assert text.count("Overdue:") == 1
    # The summary: three leads of the Crystal Lake office, one answered after 12 minutes, one overdue.
    assert re.search(r"Crystal Lake office 3 1 12 min 12 min 1 ", text), text


async def test_an_overdue_lead_brings_its_office_one_reminder_without_patient_details(
        make_client: ClientFactory, settings: Settings, site_dir: Path) -> None:
    always_open(site_dir)
    OVERDUE, FRESH, _ = leads()
    await seed(settings, OVERDUE, FRESH)
    port = free_port()
    with smtp_server(port) as inbox:
        # Two instances on one database, each sweeping at startup: still one reminder.
        for _ in range(2):
            await make_client(smtp_url=f"smtp://127.0.0.1:{port}", mail_from="pages@example.com")
        await until(lambda: len(inbox.messages) == 1)
        await asyncio.sleep(0.5)
    (mail,) = inbox.messages
    assert mail["To"] == "crystal-lake@example.com"
    assert mail["Subject"] == "Waiting for an answer: Intrathecal Pump Therapy, Cary, IL"
    body = mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert "is still new after 30 minutes of opening hours" in body and "only reminder" in body
    assert lead_ids(inbox) == [OVERDUE.id]
    for personal in ("Waiting Long", "waiting@example.com", "555-0177", "5550177", "Please call"):
        assert personal not in mail.as_string()
    reminders = [row for row in rows(database(settings), "outbox") if str(row["id"]).startswith("reminder-")]
    assert [row["lead_id"] for row in reminders] == [OVERDUE.id] and reminders[0]["sent_at"]


async def test_a_lead_answered_or_within_the_limit_brings_no_reminder(make_client: ClientFactory, settings: Settings,
                                                                       site_dir: Path) -> None:
    always_open(site_dir)
    _, FRESH, _ = leads()
    await seed(settings, FRESH, a_lead(created_at=ago(hours=3), status="contacted"),
               a_lead(created_at=ago(hours=3), spam=True, spam_reason="honeypot filled"))
    port = free_port()
    with smtp_server(port) as inbox:
        await make_client(smtp_url=f"smtp://127.0.0.1:{port}")
        await asyncio.sleep(0.8)
    assert inbox.messages == []


def test_only_opening_hours_make_a_lead_overdue(site_dir: Path) -> None:
    path = site_dir / "site.toml"  # Barrington: Monday to Friday, 08:00 to 17:00, in Chicago
    path.write_text(path.read_text().replace("[practice]\n", '[practice]\ntimezone = "America/Chicago"\n', 1))
    site = load_site(path)
    friday_evening = dt.datetime(2026, 11, 27, 16, 50, tzinfo=CHICAGO)
    lead = a_lead(created_at=friday_evening.astimezone(dt.timezone.utc).isoformat(), office="barrington")
    monday = dt.datetime(2026, 11, 30, tzinfo=CHICAGO)
    assert not overdue(site, lead, monday.replace(hour=8, minute=10))  # 10 min on Friday + 10 on Monday
    assert overdue(site, lead, monday.replace(hour=8, minute=25))  # 10 + 25: past 30 minutes


async def test_an_overdue_lead_is_reminded_behind_any_number_of_older_ones_not_overdue_yet(
        database_url: str, site_dir: Path) -> None:
    path = site_dir / "site.toml"
    path.write_text(path.read_text().replace("[practice]\n", '[practice]\ntimezone = "America/Chicago"\n', 1))
    site = load_site(path)
    friday = dt.datetime(2026, 11, 27, tzinfo=CHICAGO)
    now = friday.replace(hour=14)  # Crystal Lake closed at 13:00; Barrington is open until 17:00

    def at(moment: dt.datetime) -> str:
        return moment.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")

    # A busy Friday morning at Crystal Lake: ten minutes of opening hours each, not overdue before Monday.
    closed = [a_lead(office="crystal-lake", created_at=at(friday.replace(hour=12, minute=50)))
              for _ in range(DUE_PER_READ + 20)]
    late = a_lead(office="barrington", town="barrington-il", created_at=at(friday.replace(hour=13)))  # an hour
    store = store_for(database_url)
    await store.open()
    try:
        await asyncio.gather(*(store.add(lead, notify=False) for lead in [*closed, late]))
        assert await remind_overdue(store, site, now) == 1
        assert await store.fetch("SELECT lead_id FROM outbox") == [(late.id,)]
        assert await remind_overdue(store, site, now) == 0
    finally:
        await store.close()


async def test_sweeping_twice_or_from_two_instances_adds_one_reminder(database_url: str, site_dir: Path) -> None:
    always_open(site_dir)
    site = load_site(site_dir / "site.toml")
    OVERDUE, FRESH, _ = leads()
    first, second = store_for(database_url), store_for(database_url)
    await first.open()
    await second.open()
    try:
        await first.add(OVERDUE, notify=False)
        await first.add(FRESH, notify=False)
        added = await asyncio.gather(remind_overdue(first, site), remind_overdue(second, site))
        assert sorted(added) in ([0, 1], [1, 1])  # both may try; the outbox keeps one
        assert await remind_overdue(first, site) == 0
        assert await first.pending_notices() == 1
    finally:
        await first.close()
        await second.close()
