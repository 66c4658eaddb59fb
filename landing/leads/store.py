"""Where leads live: the LeadStore interface and its SQLite implementation.

SQLite wants one writer. One task owns the write connection and takes work from a queue; leads that
arrive together are written in one transaction, and each waiting request is answered only after the
commit that holds its lead succeeded. That is both correct (no request is acknowledged on a transaction
another request can roll back) and fast (one fsync for many leads).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import astuple
from pathlib import Path
from typing import Any, Protocol

import aiosqlite

from landing.errors import LandingError
from landing.leads.migrations import MIGRATIONS
from landing.leads.model import LEAD_COLUMNS, Lead, Notice, new_id, utc_in, utc_now

MAX_BATCH = 256
# aiosqlite logs every statement with its parameters at DEBUG: that would put patients' details in the
# log of anyone who turns debugging on. Its INFO and above carry no parameters.
logging.getLogger("aiosqlite").setLevel(logging.INFO)


class StoreError(LandingError):
    """The lead store could not do what was asked (the message never holds personal data)."""


class LeadStore(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def add(self, lead: Lead, notify: bool) -> None:
        """Store a lead (and, when ``notify``, its notification) durably; return only after the commit."""
    async def get(self, lead_id: str) -> Lead | None: ...
    async def count(self, *, spam: bool | None = None) -> int: ...
    async def claim_notices(self, lease_seconds: float, limit: int = 20, worker: str = "") -> list[Notice]:
        """Due notifications, leased to ``worker`` so that no other worker sends them meanwhile."""
    async def release_notices(self, worker: str) -> None:
        """Give back what ``worker`` holds but has not sent (at shutdown), so the next worker need not wait."""
    async def notice_sent(self, notice_id: str) -> None: ...
    async def notice_failed(self, notice_id: str, retry_in: float, error: str) -> None: ...
    async def pending_notices(self) -> int: ...
    async def ping(self) -> None: ...


def store_for(database_url: str) -> LeadStore:
    """sqlite:///relative/path or sqlite:////absolute/path selects SQLite."""
    if database_url.startswith("sqlite:///"):
        return SQLiteLeadStore(Path(database_url.removeprefix("sqlite:///")))
    raise LandingError(f"LANDING_DATABASE_URL '{database_url.split(':', 1)[0]}:...' is not supported "
                       "(use sqlite:///leads.sqlite3)")


_INSERT_LEAD = f"INSERT INTO leads ({', '.join(LEAD_COLUMNS)}) VALUES ({', '.join('?' * len(LEAD_COLUMNS))})"
_INSERT_NOTICE = ("INSERT INTO outbox (id, lead_id, office, treatment, town, lead_created_at, next_attempt_at) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?)")


class SQLiteLeadStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._queue: asyncio.Queue[tuple[str, Any, asyncio.Future[Any]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = await self._connect()
        await self._migrate(self._writer)
        self._reader = await self._connect()
        self._task = asyncio.create_task(self._write_loop(), name="lead-writer")

    async def _connect(self) -> aiosqlite.Connection:
        db = await aiosqlite.connect(self.path, isolation_level=None)  # transactions are explicit
        db.row_factory = aiosqlite.Row
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=FULL")  # a lead acknowledged survives a power cut, not just a crash
        await db.execute("PRAGMA busy_timeout=5000")
        await db.execute("PRAGMA foreign_keys=ON")
        return db

    async def _migrate(self, db: aiosqlite.Connection) -> None:
        await db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        async with db.execute("SELECT name FROM schema_migrations") as cursor:
            applied = {row[0] async for row in cursor}
        for name, statements in MIGRATIONS:
            if name in applied:
                continue
            await db.execute("BEGIN IMMEDIATE")
            try:
                for statement in statements:
                    await db.execute(statement)
                await db.execute("INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)", (name, utc_now()))
                await db.execute("COMMIT")
            except BaseException:
                await db.execute("ROLLBACK")
                raise

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for db in (self._writer, self._reader):
            if db is not None:
                await db.close()
        self._writer = self._reader = None

    # -- writes: all through the one writer task ----------------------------------------------------

    async def _submit(self, kind: str, payload: Any) -> Any:
        if self._task is None or self._task.done():
            raise StoreError("the lead store is not open")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self._queue.put((kind, payload, future))
        return await future

    async def _write_loop(self) -> None:
        held: tuple[str, Any, asyncio.Future[Any]] | None = None  # a non-lead write met while gathering leads
        while True:
            first, held = (held, None) if held is not None else (await self._queue.get(), None)
            batch = [first]
            while first[0] == "add" and len(batch) < MAX_BATCH and not self._queue.empty():
                item = self._queue.get_nowait()
                if item[0] != "add":
                    held = item
                    break
                batch.append(item)
            await self._run(batch)

    async def _run(self, batch: list[tuple[str, Any, asyncio.Future[Any]]]) -> None:
        """Commit a batch and answer its waiters; if it fails, retry each alone so one bad row sinks only itself."""
        try:
            results = await self._transaction(batch)
        except Exception as exc:  # noqa: BLE001 - every waiter must hear of the failure
            if len(batch) > 1:
                for item in batch:
                    await self._run([item])
                return
            error = StoreError(f"could not write to the lead database ({type(exc).__name__})")
            if not batch[0][2].done():
                batch[0][2].set_exception(error)
            return
        for (_, _, future), result in zip(batch, results):
            if not future.done():
                future.set_result(result)

    async def _transaction(self, batch: list[tuple[str, Any, asyncio.Future[Any]]]) -> list[Any]:
        db = self._writer
        assert db is not None
        await db.execute("BEGIN IMMEDIATE")
        try:
            kind = batch[0][0]
            if kind == "add":
                leads = [payload[0] for _, payload, _ in batch]
                await db.executemany(_INSERT_LEAD, [_lead_row(lead) for lead in leads])
                notices = [_notice_row(lead) for lead, notify in (payload for _, payload, _ in batch) if notify]
                if notices:
                    await db.executemany(_INSERT_NOTICE, notices)
                results: list[Any] = [None] * len(batch)
            else:
                operation: Callable[[aiosqlite.Connection], Awaitable[Any]] = batch[0][1]
                results = [await operation(db)]
            await db.execute("COMMIT")
            return results
        except BaseException:
            with contextlib.suppress(Exception):
                await db.execute("ROLLBACK")
            raise

    async def add(self, lead: Lead, notify: bool) -> None:
        await self._submit("add", (lead, notify))

    async def write(self, operation: Callable[[aiosqlite.Connection], Awaitable[Any]]) -> Any:
        """Run one write in its own transaction on the writer (status changes, purges, claims)."""
        return await self._submit("op", operation)

    async def claim_notices(self, lease_seconds: float, limit: int = 20, worker: str = "") -> list[Notice]:
        async def claim(db: aiosqlite.Connection) -> list[Notice]:
            now = utc_now()
            sql = ("UPDATE outbox SET claimed_until = ?, claimed_by = ?, attempts = attempts + 1 WHERE id IN ("
                   "SELECT id FROM outbox WHERE sent_at IS NULL AND next_attempt_at <= ? "
                   "AND (claimed_until IS NULL OR claimed_until <= ?) ORDER BY next_attempt_at LIMIT ?) "
                   "RETURNING id, lead_id, office, treatment, town, lead_created_at, attempts")
            async with db.execute(sql, (utc_in(lease_seconds), worker, now, now, limit)) as cursor:
                return [Notice(*row) for row in await cursor.fetchall()]

        return await self.write(claim)  # type: ignore[no-any-return]

    async def release_notices(self, worker: str) -> None:
        async def release(db: aiosqlite.Connection) -> None:
            await db.execute("UPDATE outbox SET claimed_until = NULL, claimed_by = '' "
                             "WHERE claimed_by = ? AND sent_at IS NULL", (worker,))

        await self.write(release)

    async def notice_sent(self, notice_id: str) -> None:
        async def sent(db: aiosqlite.Connection) -> None:
            await db.execute("UPDATE outbox SET sent_at = ?, claimed_until = NULL, last_error = '' WHERE id = ?",
                             (utc_now(), notice_id))

        await self.write(sent)

    async def notice_failed(self, notice_id: str, retry_in: float, error: str) -> None:
        async def failed(db: aiosqlite.Connection) -> None:
            await db.execute("UPDATE outbox SET next_attempt_at = ?, claimed_until = NULL, last_error = ? WHERE id = ?",
                             (utc_in(retry_in), error[:500], notice_id))

        await self.write(failed)

    # -- reads: a second connection, which sees only committed rows ---------------------------------

    def _read(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise StoreError("the lead store is not open")
        return self._reader

    async def get(self, lead_id: str) -> Lead | None:
        async with self._read().execute(f"SELECT {', '.join(LEAD_COLUMNS)} FROM leads WHERE id = ?", (lead_id,)) as cursor:
            row = await cursor.fetchone()
        return _lead(row) if row else None

    async def count(self, *, spam: bool | None = None) -> int:
        sql, args = "SELECT COUNT(*) FROM leads", ()
        if spam is not None:
            sql, args = sql + " WHERE spam = ?", (int(spam),)
        async with self._read().execute(sql, args) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def pending_notices(self) -> int:
        async with self._read().execute("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def ping(self) -> None:
        async with self._read().execute("SELECT 1") as cursor:
            await cursor.fetchone()


def _lead_row(lead: Lead) -> tuple[Any, ...]:
    return tuple(int(value) if isinstance(value, bool) else value for value in astuple(lead))


def _lead(row: Any) -> Lead:
    values = dict(zip(LEAD_COLUMNS, tuple(row)))
    values["spam"] = bool(values["spam"])
    return Lead(**values)


def _notice_row(lead: Lead) -> tuple[str, ...]:
    return (new_id(), lead.id, lead.office, lead.treatment, lead.town, lead.created_at, lead.created_at)
