"""Duplicate enquiries: the same phone or email within duplicate_days is a repeat of the first lead, shown
with it, notified as a repeat, and counted once in the offline-conversion files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from landing.errors import ConfigError
from landing.leads.model import new_id
from landing.settings import Settings
from landing.site import load_site
from tests.conftest import ClientFactory
from tests.leads_helpers import a_lead, change, valid_form
from tests.mail import free_port, smtp_server
from tests.servers import until
from tests.test_admin import database, sign_in, staff  # noqa: F401 - the signed-in client fixture


def ago(days: float) -> str:
    return (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)).isoformat(timespec="microseconds")


FIRST = a_lead(name="First Time", phone="+18475550123", email="Pat@Example.com", created_at=ago(10))
SAME_EMAIL = a_lead(name="Same Email", phone="+18475550999", email="pat@example.com", created_at=ago(2))
SAME_PHONE = a_lead(name="Same Phone", phone="+18475550123", email="", created_at=ago(1))
TOO_LATE = a_lead(name="Long After", phone="+18475550123", email="", created_at=ago(10 + 45))
STRANGER = a_lead(name="Someone Else", phone="+18475550777", email="else@example.com", created_at=ago(1))


async def test_repeats_are_linked_to_the_first_enquiry_and_shown_with_it(staff) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    client = await staff(TOO_LATE, FIRST, SAME_EMAIL, SAME_PHONE, STRANGER)
    listing = (await client.get("/admin/leads")).text
    assert listing.count(f'<a class="tag" href="/admin/leads/{FIRST.id}">repeat of the enquiry of') == 2
    assert listing.count('class="tag"') == 2  # the first lead, the stranger and the lead 55 days back are no repeats
    detail = (await client.get(f"/admin/leads/{SAME_PHONE.id}")).text
    assert f'A repeat enquiry: the same phone number or email address as the <a href="/admin/leads/{FIRST.id}">' in detail
    first = (await client.get(f"/admin/leads/{FIRST.id}")).text
    assert f'href="/admin/leads/{SAME_EMAIL.id}"' in first and f'href="/admin/leads/{SAME_PHONE.id}"' in first
    assert "Repeated by" in first and STRANGER.id not in first


async def test_a_repeat_is_notified_as_one_without_patient_details(make_client: ClientFactory) -> None:
    port = free_port()
    with smtp_server(port) as inbox:
        client = await make_client(smtp_url=f"smtp://127.0.0.1:{port}")
        for phone in ["(847) 555-0188", "847.555.0188"]:
            form = valid_form(phone=phone, email="", contact="phone", name="Rita Repeat")
            assert (await client.post("/leads", data=form)).status_code == 303
            await until(lambda: len(inbox.messages) == (1 if phone.startswith("(") else 2))
    first, second = inbox.messages
    assert first["Subject"].startswith("New enquiry:") and second["Subject"].startswith("Repeat enquiry:")
    body = second.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert "It repeats an earlier enquiry with the same phone number or email address" in body
    assert "Rita" not in second.as_string() and "0188" not in second.as_string()


async def test_a_repeat_that_converts_counts_once(staff, make_client: ClientFactory, settings: Settings,
                                                  site_dir: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    first = a_lead(gclid="CjFirstClick", phone="+18475550150", email="", created_at=ago(5))
    repeat = a_lead(gclid="CjSecondClick", phone="+18475550150", email="", created_at=ago(4))
    client = await staff(first, repeat)
    for lead, days in [(first, 3), (repeat, 2)]:
        change(database(settings), "INSERT INTO lead_events (id, lead_id, at, actor, status) VALUES (?, ?, ?, ?, ?)",
               (new_id(), lead.id, ago(days), "staff@example.com", "scheduled"))
    text = (await client.get(f"/admin/conversions.csv?since={ago(30)[:10]}")).text
    assert "CjFirstClick" in text and "CjSecondClick" not in text
    # Matching turned off: each counts.
    path = site_dir / "site.toml"
    path.write_text(path.read_text() + "\n[leads]\nduplicate_days = 0\n")
    client = await make_client(base_url="http://testserver")
    assert (await sign_in(client)).status_code == 303
    text = (await client.get(f"/admin/conversions.csv?since={ago(30)[:10]}")).text
    assert "CjFirstClick" in text and "CjSecondClick" in text


def test_duplicate_days_is_checked(site_dir: Path) -> None:
    path = site_dir / "site.toml"
    path.write_text(path.read_text() + '\n[leads]\nduplicate_days = "30"\n')
    with pytest.raises(ConfigError, match=r"\[leads\]: duplicate_days = '30' must be a whole number of days"):
        load_site(path)
