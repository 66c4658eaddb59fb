"""The lead store's contract: what every LeadStore must do, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

import landing.leads.store as store_module
from landing.leads import postgres, sqlite_export
from landing.leads.export import EXPORT_COLUMNS, FILE_COLUMNS, export_values
from landing.leads.migrations import MIGRATIONS
from landing.leads.model import LeadFilter, utc_in
from landing.leads.store import LeadStore, SQLStore, StoreError, store_for
from tests.leads_helpers import a_lead
from tests.servers import until

Opener = Callable[[], Awaitable[LeadStore]]



@pytest.fixture
async def open_store(database_url: str) -> AsyncIterator[Opener]:
    """open_store(): another store on the same database (as another instance of the service would have)."""
    opened: list[LeadStore] = []

    async def opener() -> LeadStore:
        store = store_for(database_url)
        await store.open()
        opened.append(store)
        return store

    yield opener
    for store in opened:
        await store.close()


@pytest.fixture
async def store(open_store: Opener) -> LeadStore:
    return await open_store()


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
    leads = [a_lead() for _ in range(300)]
    await asyncio.gather(*(store.add(lead, notify=True) for lead in leads))
    assert await store.count() == 300 and await store.pending_notices() == 300


async def test_a_lead_that_cannot_be_stored_fails_alone(store: LeadStore) -> None:
    good = a_lead()
    await store.add(good, notify=True)
    await store.add(a_lead(id="fixed"), notify=False)
    # Two leads arriving together; one of them is refused (a duplicate id). Only its visitor is told;
    # the other lead is kept, even where both shared a transaction at first.
    innocent = a_lead()
    results = await asyncio.gather(store.add(a_lead(id="fixed"), notify=False), store.add(innocent, notify=False),
                                   return_exceptions=True)
    assert isinstance(results[0], StoreError) and results[1] is None
    assert await store.get(innocent.id) == innocent and await store.count() == 3
    later = a_lead()
    await store.add(later, notify=False)  # and the store carries on
    assert await store.get(later.id) == later


async def test_store_errors_never_carry_personal_data(store: LeadStore) -> None:
    await store.add(a_lead(id="dup"), notify=False)
    with pytest.raises(StoreError) as caught:
        await store.add(a_lead(id="dup", name="Zebediah Quux"), notify=False)
    assert "Zebediah" not in str(caught.value) and caught.value.__cause__ is None


async def test_migrations_are_recorded_and_applied_once(open_store: Opener) -> None:
    await open_store()
    store = await open_store()  # opening again must not fail or re-apply
    assert isinstance(store, SQLStore)
    applied = [row[0] for row in await store.fetch("SELECT name FROM schema_migrations ORDER BY name")]
    assert applied == [name for name, _ in MIGRATIONS]
    assert applied[:5] == ["0001_leads_and_outbox", "0002_staff", "0003_leads_by_time_and_id", "0004_sign_in_attempts",
                           "0005_roles"]


async def test_instances_opening_a_new_database_together_migrate_it_once(open_store: Opener) -> None:
    stores = await asyncio.gather(*(open_store() for _ in range(6)))  # workers of `landing serve --workers 6`
    store = stores[0]
    assert isinstance(store, SQLStore)
    applied = [row[0] for row in await store.fetch("SELECT name FROM schema_migrations ORDER BY name")]
    assert applied == [name for name, _ in MIGRATIONS]
    await asyncio.gather(*(each.add(a_lead(), notify=False) for each in stores))
    assert await store.count() == 6


async def test_notices_are_leased_so_two_workers_never_take_the_same_one(open_store: Opener) -> None:
    first, second = await open_store(), await open_store()
    for _ in range(10):
        await first.add(a_lead(), notify=True)
    taken_a, taken_b = await asyncio.gather(first.claim_notices(60, limit=6, worker="a"),
                                            second.claim_notices(60, limit=6, worker="b"))
    ids_a, ids_b = {n.id for n in taken_a}, {n.id for n in taken_b}
    assert not ids_a & ids_b and len(ids_a | ids_b) == 10
    assert await first.claim_notices(60) == []  # all leased


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


async def test_filters_select_and_order_leads(store: LeadStore) -> None:
    leads = [a_lead(name="Ann", office="barrington", created_at="2026-11-02T10:00:00.000000+00:00"),
             a_lead(name="Bob", email="bob@example.com", created_at="2026-11-03T10:00:00.000000+00:00"),
             a_lead(name="Cy 100%_", phone="+18155550199", created_at="2026-11-04T10:00:00.000000+00:00"),
             a_lead(name="Bot", spam=True, created_at="2026-11-05T10:00:00.000000+00:00")]
    for lead in leads:
        await store.add(lead, notify=False)

    async def names(**filters: object) -> list[str]:
        return [lead.name for lead in await store.list_leads(LeadFilter(**filters), limit=10)]  # type: ignore[arg-type]

    assert await names() == ["Cy 100%_", "Bob", "Ann"]
    assert await names(office="barrington") == ["Ann"]
    assert await names(search="BOB@") == ["Bob"]
    assert await names(search="815-555-0199") == ["Cy 100%_"]
    assert await names(search="100%_") == ["Cy 100%_"] and await names(search="%") == ["Cy 100%_"]
    assert await names(since="2026-11-03", until="2026-11-03") == ["Bob"]
    assert await names(spam=True) == ["Bot"]
    assert await store.count_leads(LeadFilter(office="crystal-lake")) == 2
    assert [lead.name async for lead in store.iter_leads(LeadFilter())] == ["Cy 100%_", "Bob", "Ann"]


async def test_status_changes_are_recorded_with_who_and_when(store: LeadStore) -> None:
    lead = a_lead()
    await store.add(lead, notify=False)
    assert await store.set_status(lead.id, "contacted", "staff@example.com")
    assert not await store.set_status("missing", "contacted", "staff@example.com")
    (event,) = await store.lead_events(lead.id)
    assert (event.actor, event.status) == ("staff@example.com", "contacted")
    assert (await store.get(lead.id)).status == "contacted"  # type: ignore[union-attr]


async def test_weekly_counts_group_by_monday_and_office(store: LeadStore) -> None:
    for day, office in [("2026-11-02", "barrington"), ("2026-11-08", "barrington"), ("2026-11-09", "barrington"),
                        ("2026-11-04", "crystal-lake")]:
        await store.add(a_lead(office=office, created_at=f"{day}T12:00:00.000000+00:00"), notify=False)
    assert await store.weekly_counts(LeadFilter()) == [
        ("2026-11-02", "barrington", 2), ("2026-11-02", "crystal-lake", 1), ("2026-11-09", "barrington", 1)]


async def test_purge_removes_old_leads_with_their_notices_and_history(store: LeadStore) -> None:
    old, new = a_lead(created_at="2020-01-01T00:00:00.000000+00:00"), a_lead()
    await store.add(old, notify=True)
    await store.add(new, notify=True)
    await store.set_status(old.id, "closed", "staff@example.com")
    assert await store.purge("2021-01-01") == 1
    assert await store.get(old.id) is None and await store.get(new.id) == new
    assert await store.pending_notices() == 1 and await store.lead_events(old.id) == []


async def test_users_sessions_throttling_and_audit(open_store: Opener) -> None:
    store, other_instance = await open_store(), await open_store()
    await store.add_user("staff@example.com", "hash")
    with pytest.raises(StoreError):
        await store.add_user("staff@example.com", "hash")
    session = await store.create_session("staff@example.com")
    assert await other_instance.get_session(session.id) == session  # any instance can answer
    attempt = await store.reserve_sign_in(["account:x", "address:y"], "2000-01-01", 5)
    assert attempt is not None and await other_instance.sign_in_attempts("account:x") == 1
    assert await store.set_user_disabled("staff@example.com", True)
    assert await store.get_session(session.id) is None  # disabled users are signed out everywhere
    await store.audit("staff@example.com", "export", "office=barrington", 12)
    (entry,) = await other_instance.audit_log()
    assert (entry.actor, entry.action, entry.detail, entry.rows) == ("staff@example.com", "export", "office=barrington", 12)


async def test_of_a_hundred_sign_in_attempts_at_once_only_five_are_let_through(open_store: Opener) -> None:
    first, second = await open_store(), await open_store()  # two instances of the service, one database
    instances = [first, second] * 50

    one_account = await asyncio.gather(*(store.reserve_sign_in(["account:a", "address:x"], "2000-01-01", 5)
                                         for store in instances))
    assert sum(attempt is not None for attempt in one_account) == 5
    assert await first.sign_in_attempts("account:a") == 5  # the refused ones are not counted

    one_address = await asyncio.gather(*(store.reserve_sign_in([f"account:{n}", "address:y"], "2000-01-01", 5)
                                         for n, store in enumerate(instances)))
    assert sum(attempt is not None for attempt in one_address) == 5
    assert sum([await first.sign_in_attempts(f"account:{n}") for n in range(100)]) == 5


async def test_a_sign_in_that_succeeds_forgets_its_account_s_attempts_and_old_ones_are_pruned(store: LeadStore) -> None:
    keys = ["account:a", "address:x"]
    for _ in range(3):
        await store.reserve_sign_in(keys, "2000-01-01", 5)
    attempt = await store.reserve_sign_in(keys, "2000-01-01", 5)
    assert attempt is not None
    await store.forget_sign_in(attempt, keys[:1])
    # The account starts afresh; the address keeps its earlier attempts, not the one that succeeded.
    assert await store.sign_in_attempts("account:a") == 0 and await store.sign_in_attempts("address:x") == 3

    await store.reserve_sign_in(["account:b", "address:z"], utc_in(1), 5)  # everything before now is past the window
    assert await store.sign_in_attempts("address:x") == 0 and await store.sign_in_attempts("address:z") == 1


async def test_exports_page_through_every_row_even_with_equal_times(store: LeadStore,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "EXPORT_CHUNK", 2)  # many small pages instead of a million rows
    same_moment = "2026-11-05T10:00:00.000000+00:00"
    leads = [a_lead(name=f"P{n}", created_at=same_moment if n % 2 else f"2026-11-0{n // 2 + 1}T09:00:00.000000+00:00")
             for n in range(7)]
    for lead in leads:
        await store.add(lead, notify=False)
    names = [row[0] async for row in store.iter_rows(LeadFilter(), ["name"])]
    assert sorted(names) == sorted(lead.name for lead in leads) and len(names) == 7
    assert [lead.name async for lead in store.iter_leads(LeadFilter())] == names


async def test_the_export_is_the_filtered_list_as_csv_whatever_the_cells_hold(store: LeadStore,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_export, "EXPORT_BLOCK", 2)  # several pieces from a few leads
    monkeypatch.setattr(store_module, "EXPORT_CHUNK", 2)
    messages = ["Hello", "Back pain, since May", 'He said "soon"', "line one\nline two", "=1+1", "-", "", "Zoë 😀"]
    same_moment = "2026-11-05T10:00:00.000000+00:00"
    leads = [a_lead(name=f"P{n}", message=message, office="elgin" if n % 3 == 0 else "barrington",
                    phone="+442071234567" if n == 4 else "+18475550142",
                    created_at=same_moment if n % 2 else f"2026-11-0{n // 2 + 1}T09:00:00.000000+00:00")
             for n, message in enumerate(messages)]
    await asyncio.gather(*(store.add(lead, notify=False) for lead in [*leads, a_lead(spam=True, office="barrington")]))
    rows = [0]
    lead_filter = LeadFilter(office="barrington")
    exported = b"".join([piece async for piece in store.export_csv(lead_filter, rows)])

    listed = await store.list_leads(lead_filter, 100)
    expected = io.StringIO()
    csv.writer(expected, lineterminator="\r\n").writerows([FILE_COLUMNS, *(export_values([getattr(lead, column) for column in EXPORT_COLUMNS]) for lead in listed)])
    assert exported == ("\ufeff" + expected.getvalue()).encode("utf-8")
    assert rows == [len(listed)] == [5]


async def test_an_export_closed_midway_stops_reading(store: LeadStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_export, "EXPORT_BLOCK", 1)  # a piece per lead, more than are read ahead
    monkeypatch.setattr(postgres, "EXPORT_PREFETCH", 1)
    await asyncio.gather(*(store.add(a_lead(name=f"P{n}"), notify=False) for n in range(12)))
    rows = [0]
    pieces = store.export_csv(LeadFilter(), rows)
    header, first = await anext(pieces), await anext(pieces)
    await pieces.aclose()
    assert header.startswith("\ufeffid,".encode()) and rows == [first.count(b"\r\n")]  # counted as handed out
    await until(lambda: sqlite_export.THREAD_NAME not in {thread.name for thread in threading.enumerate()}, 5)


async def test_an_export_holds_the_leads_as_they_were_when_it_began(store: LeadStore,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_export, "EXPORT_BLOCK", 1)  # read a lead at a time, not all at once
    monkeypatch.setattr(postgres, "EXPORT_PREFETCH", 1)
    for n in range(6):
        await store.add(a_lead(name=f"P{n}", created_at=f"2026-11-0{n + 2}T12:00:00.000000+00:00"), notify=False)
    pieces = store.export_csv(LeadFilter())
    exported = [await anext(pieces), await anext(pieces)]  # the header and the newest lead
    # A lead filed meanwhile, dated before all of them (a clock set wrong, an import): it would sort last.
    await store.add(a_lead(name="Late Arrival", created_at="2026-11-01T12:00:00.000000+00:00"), notify=False)
    exported += [piece async for piece in pieces]
    names = [row[EXPORT_COLUMNS.index("name")] for row in csv.reader(io.StringIO(b"".join(exported).decode("utf-8-sig")))]
    assert names[1:] == [f"P{n}" for n in reversed(range(6))]


async def test_a_sqlite_export_that_fails_midway_ends_its_read_and_its_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A read left open would keep SQLite from checkpointing its WAL for as long as the process lives.
    store = store_for(f"sqlite:///{tmp_path / 'leads.sqlite3'}")
    await store.open()
    try:
        await asyncio.gather(*(store.add(a_lead(name=f"P{n}"), notify=False) for n in range(12)))
        monkeypatch.setattr(sqlite_export, "EXPORT_BLOCK", 2)
        real_block, blocks = sqlite_export.csv_pieces.__globals__["csv_block"], [0]

        def failing_block(rows, zone):  # type: ignore[no-untyped-def]
            blocks[0] += 1
            if blocks[0] == 3:
                raise RuntimeError("a cell the export cannot write")
            return real_block(rows, zone)

        monkeypatch.setitem(sqlite_export.csv_pieces.__globals__, "csv_block", failing_block)
        with pytest.raises(RuntimeError, match="cannot write"):
            async for _ in store.export_csv(LeadFilter()):
                pass
        await until(lambda: sqlite_export.THREAD_NAME not in {thread.name for thread in threading.enumerate()}, 5)
        busy, _, _ = await asyncio.to_thread(wal_checkpoint, tmp_path / "leads.sqlite3")
        assert busy == 0
    finally:
        await store.close()


def wal_checkpoint(path: Path) -> tuple[int, int, int]:
    import sqlite3

    with contextlib.closing(sqlite3.connect(path)) as db:
        return db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()  # type: ignore[no-any-return]
