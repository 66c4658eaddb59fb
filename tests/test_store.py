"""The lead store's contract: what every LeadStore must do, checked on a real database file."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from landing.leads.migrations import MIGRATIONS
from landing.leads.store import LeadStore, SQLiteLeadStore, StoreError
from tests.leads_helpers import a_lead


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[LeadStore]:
    store = SQLiteLeadStore(tmp_path / "leads.sqlite3")
    await store.open()
    yield store
    await store.close()


async def test_a_stored_lead_reads_back_field_for_field(store: LeadStore) -> None:
    lead = a_lead(name="שרה 😀", message="line one\nline two", utm_source="google", spam=False)
    await store.add(lead, notify=True)
    assert await store.get(lead.id) == lead
    assert await store.get("no-such-id") is None


async def test_spam_is_kept_flagged_without_a_notice(store: LeadStore) -> None:
    await store.add(a_lead(spam=True, spam_reason="honeypot filled"), notify=False)
    assert await store.count(spam=True) == 1 and await store.count(spam=False) == 0
    assert await store.pending_notices() == 0


async def test_concurrent_adds_all_commit(store: LeadStore) -> None:
    leads = [a_lead() for _ in range(500)]
    await asyncio.gather(*(store.add(lead, notify=True) for lead in leads))
    assert await store.count() == 500 and await store.pending_notices() == 500


async def test_a_lead_that_cannot_be_stored_fails_alone(tmp_path: Path) -> None:
    store = SQLiteLeadStore(tmp_path / "leads.sqlite3")
    await store.open()
    try:
        good = a_lead()
        await store.add(good, notify=True)
        await store.add(a_lead(id="fixed"), notify=False)
        # Two leads arriving together share one transaction; one of them is refused (a duplicate id). The
        # batch is retried lead by lead: the bad one fails and its visitor is told, the other is kept.
        innocent = a_lead()
        results = await asyncio.gather(store.add(a_lead(id="fixed"), notify=False), store.add(innocent, notify=False),
                                       return_exceptions=True)
        assert isinstance(results[0], StoreError) and results[1] is None
        assert await store.get(innocent.id) == innocent and await store.count() == 3
        later = a_lead()
        await store.add(later, notify=False)  # the writer carries on
        assert await store.get(good.id) == good and await store.get(later.id) == later
    finally:
        await store.close()


async def test_store_errors_never_carry_personal_data(tmp_path: Path) -> None:
    store = SQLiteLeadStore(tmp_path / "leads.sqlite3")
    await store.open()
    try:
        await store.add(a_lead(id="dup"), notify=False)
        with pytest.raises(StoreError) as caught:
            await store.add(a_lead(id="dup", name="Zebediah Quux"), notify=False)
        assert "Zebediah" not in str(caught.value) and "Zebediah" not in repr(caught.value.__context__ or "")
    finally:
        await store.close()


async def test_migrations_are_recorded_and_applied_once(tmp_path: Path) -> None:
    path = tmp_path / "leads.sqlite3"
    for _ in range(2):  # opening again must not fail or re-apply
        store = SQLiteLeadStore(path)
        await store.open()
        await store.close()
    with sqlite3.connect(path) as db:
        applied = [row[0] for row in db.execute("SELECT name FROM schema_migrations ORDER BY name")]
        assert applied == [name for name, _ in MIGRATIONS] == ["0001_leads_and_outbox", "0002_staff"]
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_notices_are_leased_so_two_workers_never_take_the_same_one(tmp_path: Path) -> None:
    path = tmp_path / "leads.sqlite3"
    first, second = SQLiteLeadStore(path), SQLiteLeadStore(path)
    await first.open()
    await second.open()
    try:
        for _ in range(10):
            await first.add(a_lead(), notify=True)
        taken_a, taken_b = await asyncio.gather(first.claim_notices(60, limit=6), second.claim_notices(60, limit=6))
        ids_a, ids_b = {n.id for n in taken_a}, {n.id for n in taken_b}
        assert not ids_a & ids_b and len(ids_a | ids_b) == 10
        assert await first.claim_notices(60) == []  # all leased
    finally:
        await first.close()
        await second.close()


async def test_a_failed_notice_comes_back_after_its_delay_and_a_sent_one_never(store: LeadStore) -> None:
    await store.add(a_lead(), notify=True)
    await store.add(a_lead(), notify=True)
    one, two = await store.claim_notices(60)
    await store.notice_sent(one.id)
    await store.notice_failed(two.id, retry_in=0.2, error="ConnectionRefusedError")
    assert await store.claim_notices(60) == []
    await asyncio.sleep(0.3)
    (again,) = await store.claim_notices(60)
    assert again.id == two.id and again.attempts == 2
    assert await store.pending_notices() == 1


async def test_an_expired_lease_is_claimed_again(store: LeadStore) -> None:
    await store.add(a_lead(), notify=True)
    (notice,) = await store.claim_notices(lease_seconds=0.1)
    await asyncio.sleep(0.2)  # the worker that held it died without saying
    (again,) = await store.claim_notices(60)
    assert again.id == notice.id


async def test_a_worker_shutting_down_gives_back_its_leases(store: LeadStore) -> None:
    await store.add(a_lead(), notify=True)
    (notice,) = await store.claim_notices(lease_seconds=600, worker="stopping")
    await store.release_notices("someone-else")
    assert await store.claim_notices(60, worker="next") == []
    await store.release_notices("stopping")
    (again,) = await store.claim_notices(60, worker="next")
    assert again.id == notice.id
