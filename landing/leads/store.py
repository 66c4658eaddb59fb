"""Where leads live: the LeadStore interface, the SQL every store shares, and the SQLite store.

SQLite wants one writer. One task owns the write connection and takes work from a queue; leads that
arrive together are written in one transaction, and each waiting request is answered only after the
commit that holds its lead succeeded. That is both correct (no request is acknowledged on a transaction
another request can roll back) and fast (one fsync for many leads). A batch that fails is retried lead
by lead, so one bad row sinks only itself.

The write connection lives in a thread of its own, and a whole transaction (BEGIN to COMMIT) runs there in
one call: handed over statement by statement, as aiosqlite does, each statement also waited for a turn of
the event loop, which is busy with the next requests under load, and the writer spent most of its time
waiting there while leads queued behind it (benchmarks/leads.py). Reads keep their aiosqlite connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import operator
import os
import sqlite3
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar

import aiosqlite

from landing.errors import LandingError
from landing.leads import migrations, sqlite_export
from landing.leads.private import keep_private, make_private
from landing.leads.causes import cause
from landing.leads.deadlines import OPERATOR_TIMEOUTS, StoreTimeouts
from landing.leads.model import (
    LEAD_COLUMNS,
    AuditEntry,
    Lead,
    LeadEvent,
    LeadFilter,
    Notice,
    Session,
    User,
    new_id,
    utc_in,
    utc_now,
)
from landing.leads.query import where
from landing.leads.indexnow_outbox import IndexNowQueries, IndexNowStore
from landing.leads.site_versions import SiteVersionQueries, SiteVersionStore

MAX_BATCH = 256
WAL_SWITCH_TRIES = 50  # about 12 s of tries in all
MIGRATION_WAIT_MS = 120_000  # how long a starting worker waits for another one's migrations
EXPORT_CHUNK = 2000
# aiosqlite logs every statement with its parameters at DEBUG: that would put patients' details in the
# log of anyone who turns debugging on. Its INFO and above carry no parameters.
logging.getLogger("aiosqlite").setLevel(logging.INFO)


class StoreError(LandingError):
    """The lead store could not do what was asked (the message never holds personal data).

    ``cause`` says why in a few plain words (causes.cause: "disk full", "timed out"), for logs and /healthz."""

    def __init__(self, message: str, cause: str = "") -> None:
        super().__init__(message)
        self.cause = cause or message


def store_failure(doing: str, exc: BaseException) -> StoreError:
    """``exc`` as the StoreError to raise (``from None``: its text and its chain can quote a lead's values)."""
    why = cause(exc)
    return StoreError(f"could not {doing} the lead database: {why}", why)


# /healthz calls SQLite's lead database full below this much free space: a batch of leads needs a few pages
# of write-ahead log, and a full disk fails a commit but not a write that rolls back (it never reaches the disk).
MIN_FREE_BYTES = 256 * 1024


class LeadStore(SiteVersionStore, IndexNowStore, Protocol):
    """What the app needs of a database. Every implementation passes tests/test_store.py."""

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def ping(self) -> None: ...
    # leads
    async def add(self, lead: Lead, notify: bool) -> None:
        """Store a lead (and, when ``notify``, its notification) durably; return only after the commit."""
    async def get(self, lead_id: str) -> Lead | None: ...
    async def count(self, *, spam: bool | None = None) -> int: ...
    async def list_leads(self, lead_filter: LeadFilter, limit: int, offset: int = 0) -> list[Lead]: ...
    async def count_leads(self, lead_filter: LeadFilter) -> int: ...
    def iter_leads(self, lead_filter: LeadFilter) -> AsyncIterator[Lead]:
        """Every matching lead, newest first, read in chunks so memory stays flat."""
    def iter_rows(self, lead_filter: LeadFilter, columns: Sequence[str]) -> AsyncIterator[tuple[Any, ...]]:
        """The same, as plain rows of ``columns`` (an export needs no Lead objects)."""
    def export_csv(self, lead_filter: LeadFilter, counter: list[int] | None = None,
                   zone: dt.tzinfo = dt.timezone.utc) -> AsyncGenerator[bytes, None]:
        """The CSV export of the matching leads (landing.leads.export) in pieces, arrival times also in ``zone``;
        ``counter[0]`` counts rows."""
    async def weekly_counts(self, lead_filter: LeadFilter, zone: dt.tzinfo = dt.timezone.utc) -> list[tuple[str, str, int]]:
        """(first day of the ISO week in ``zone``, office, leads) for the matching leads."""
    async def set_status(self, lead_id: str, status: str, actor: str) -> bool: ...
    async def lead_events(self, lead_id: str) -> list[LeadEvent]: ...
    async def purge(self, before: str) -> int:
        """Delete leads created before ``before`` (with their notices and events); how many went."""
    # notifications
    async def claim_notices(self, lease_seconds: float, limit: int = 20, worker: str = "") -> list[Notice]:
        """Due notifications, leased to ``worker`` so that no other worker sends them meanwhile."""
    async def release_notices(self, worker: str) -> None:
        """Give back what ``worker`` holds but has not sent (at shutdown), so the next worker need not wait."""
    async def notice_sent(self, notice_id: str) -> None: ...
    async def notices_sent(self, notice_ids: Sequence[str]) -> None:
        """Mark several sent in one transaction (one disk sync for a worker's whole round)."""
    async def notice_failed(self, notice_id: str, retry_in: float, error: str) -> None: ...
    async def pending_notices(self) -> int: ...
    async def notice_backlog(self) -> tuple[int, str | None]:
        """(unsent notices, the oldest one's lead time or None): what /healthz and /metrics report."""
    async def check_writable(self) -> None:
        """Raise StoreError (with its cause) unless a lead could be stored now: a lead and its notice written in
        a transaction that is rolled back, within the lead timeout (and, for SQLite, room on the disk)."""
    # staff
    async def add_user(self, email: str, password_hash: str, role: str = "staff", offices: Sequence[str] = ()) -> None:
        ...
    async def get_user(self, email: str) -> User | None: ...
    async def list_users(self) -> list[User]: ...
    async def set_user_disabled(self, email: str, disabled: bool) -> bool: ...
    async def set_role(self, email: str, role: str, offices: Sequence[str]) -> bool: ...
    async def set_password(self, email: str, password_hash: str) -> None: ...
    async def create_session(self, email: str) -> Session: ...
    async def get_session(self, session_id: str) -> Session | None: ...
    async def touch_session(self, session_id: str) -> None: ...
    async def delete_session(self, session_id: str) -> None: ...
    async def reserve_sign_in(self, keys: Sequence[str], since: str, limit: int) -> str | None:
        """Count a sign-in attempt against each of ``keys``, unless one of them already has ``limit`` attempts
        since ``since``: the attempt's id, or None when it is refused. Atomic across every instance: of many
        attempts at once, at most ``limit`` per key get an id. Attempts older than ``since`` are pruned."""
    async def forget_sign_in(self, attempt: str, keys: Sequence[str]) -> None:
        """Remove the attempt ``attempt`` (it succeeded) and every attempt counted against ``keys``."""
    async def sign_in_attempts(self, key: str) -> int:
        """How many attempts are counted against ``key`` (kept ones, not yet pruned)."""
    async def audit(self, actor: str, action: str, detail: str, rows: int = 0) -> None: ...
    async def audit_log(self, limit: int = 100) -> list[AuditEntry]: ...
    # The shared SQL (``?`` placeholders) of modules that keep their own queries (conversions, speed to lead).
    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...
    async def execute_many(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[int]:
        """Several writes in one transaction; rows changed by each."""


def store_for(database_url: str, timeouts: StoreTimeouts | None = None) -> LeadStore:
    """sqlite:///relative/path (or sqlite:////absolute/path) selects SQLite; postgresql://... PostgreSQL. Without
    ``timeouts``, the generous limits of an operator's command (deadlines.OPERATOR_TIMEOUTS)."""
    timeouts = timeouts or OPERATOR_TIMEOUTS
    if database_url.startswith("sqlite:///"):
        return SQLiteLeadStore(Path(database_url.removeprefix("sqlite:///")), timeouts)
    if database_url.startswith(("postgresql://", "postgres://")):
        from landing.leads.postgres import PostgresLeadStore

        return PostgresLeadStore(database_url, timeouts=timeouts)
    raise LandingError(f"LANDING_DATABASE_URL '{database_url.split(':', 1)[0]}:...' is not supported "
                       "(use sqlite:///leads.sqlite3 or postgresql://user@host/database)")


_LEAD_SELECT = f"SELECT {', '.join(LEAD_COLUMNS)} FROM leads"
_INSERT_LEAD = f"INSERT INTO leads ({', '.join(LEAD_COLUMNS)}) VALUES ({', '.join('?' * len(LEAD_COLUMNS))})"
_INSERT_NOTICE = ("INSERT INTO outbox (id, lead_id, office, treatment, town, lead_created_at, next_attempt_at) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?)")
_CLAIM = ("UPDATE outbox SET claimed_until = ?, claimed_by = ?, attempts = attempts + 1 WHERE id IN ("
          "SELECT id FROM outbox WHERE sent_at IS NULL AND next_attempt_at <= ? "
          "AND (claimed_until IS NULL OR claimed_until <= ? OR claimed_by = ?) ORDER BY next_attempt_at LIMIT ?{lock}) "
          "RETURNING id, lead_id, office, treatment, town, lead_created_at, attempts")


class SQLStore(SiteVersionQueries, IndexNowQueries):
    """The queries every store shares, written once with ``?`` placeholders over four primitives."""

    # How a claim locks the notices it takes, and what a sign-in reservation runs first so that no other
    # runs beside it: SQLite has one writer, so nothing more is needed there.
    claim_lock = ""
    sign_in_lock: Sequence[tuple[str, Sequence[Any]]] = ()

    # fetch, execute and execute_returning: leads.primitives, implemented by each store.

    async def add(self, lead: Lead, notify: bool) -> None:
        raise NotImplementedError

    async def fetch_one(self, sql: str, args: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        rows = await self.fetch(sql, args)
        return rows[0] if rows else None

    async def ping(self) -> None:
        await self.fetch("SELECT 1")

    # -- leads -----------------------------------------------------------------------------------------

    async def get(self, lead_id: str) -> Lead | None:
        row = await self.fetch_one(f"{_LEAD_SELECT} WHERE id = ?", (lead_id,))
        return lead_from_row(row) if row else None

    async def count(self, *, spam: bool | None = None) -> int:
        if spam is None:
            row = await self.fetch_one("SELECT COUNT(*) FROM leads")
        else:
            row = await self.fetch_one("SELECT COUNT(*) FROM leads WHERE spam = ?", (int(spam),))
        return int(row[0]) if row else 0

    async def list_leads(self, lead_filter: LeadFilter, limit: int, offset: int = 0) -> list[Lead]:
        clause, args = where(lead_filter)
        rows = await self.fetch(f"{_LEAD_SELECT} WHERE {clause} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
                                (*args, limit, offset))
        return [lead_from_row(row) for row in rows]

    async def count_leads(self, lead_filter: LeadFilter) -> int:
        clause, args = where(lead_filter)
        row = await self.fetch_one(f"SELECT COUNT(*) FROM leads WHERE {clause}", args)
        return int(row[0]) if row else 0

    async def iter_leads(self, lead_filter: LeadFilter) -> AsyncIterator[Lead]:
        async for row in self.iter_rows(lead_filter, LEAD_COLUMNS):
            yield lead_from_row(row)

    async def iter_rows(self, lead_filter: LeadFilter, columns: Sequence[str]) -> AsyncIterator[tuple[Any, ...]]:
        # Keyset pagination: each chunk starts below the last one, so a million rows never sit in memory
        # and rows added during the export do not shift the pages.
        clause, args = where(lead_filter)
        # Aliased: ORDER BY must not find two output columns of one name when ``columns`` has them too.
        select = f"SELECT {', '.join(columns)}, created_at AS keyset_at, id AS keyset_id FROM leads WHERE {clause}"
        after: tuple[str, str] | None = None
        while True:
            if after is None:
                sql, page_args = select, list(args)
            else:
                sql, page_args = f"{select} AND (created_at, id) < (?, ?)", [*args, *after]
            rows = await self.fetch(f"{sql} ORDER BY created_at DESC, id DESC LIMIT ?", (*page_args, EXPORT_CHUNK))
            for row in rows:
                yield row[:-2]
            if len(rows) < EXPORT_CHUNK:
                return
            after = (rows[-1][-2], rows[-1][-1])

    async def weekly_counts(self, lead_filter: LeadFilter, zone: dt.tzinfo = dt.timezone.utc) -> list[tuple[str, str, int]]:
        # By UTC hour, so that each hour can be put in the practice's own day (every zone in use is whole hours
        # from UTC, or half: a half-hour zone puts at most the leads of one half hour in the neighbouring day).
        clause, args = where(lead_filter)
        rows = await self.fetch(f"SELECT substr(created_at, 1, 13), office, COUNT(*) FROM leads WHERE {clause} "
                                "GROUP BY substr(created_at, 1, 13), office", args)
        return week_totals([(str(hour), str(office), int(n)) for hour, office, n in rows], zone)

    async def set_status(self, lead_id: str, status: str, actor: str) -> bool:
        changed = await self.execute_many([
            ("UPDATE leads SET status = ?, spam = ? WHERE id = ?", (status, int(status == "spam"), lead_id)),
            ("INSERT INTO lead_events (id, lead_id, at, actor, status) SELECT ?, id, ?, ?, ? FROM leads WHERE id = ?",
             (new_id(), utc_now(), actor, status, lead_id)),
        ])
        return changed[0] > 0

    async def lead_events(self, lead_id: str) -> list[LeadEvent]:
        rows = await self.fetch("SELECT at, actor, status FROM lead_events WHERE lead_id = ? ORDER BY at", (lead_id,))
        return [LeadEvent(*row) for row in rows]

    async def purge(self, before: str) -> int:
        changed = await self.execute_many([
            ("DELETE FROM outbox WHERE lead_id IN (SELECT id FROM leads WHERE created_at < ?)", (before,)),
            ("DELETE FROM lead_events WHERE lead_id IN (SELECT id FROM leads WHERE created_at < ?)", (before,)),
            ("DELETE FROM leads WHERE created_at < ?", (before,)),
        ])
        return changed[-1]

    async def execute_many(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[int]:
        """Several writes in one transaction; rows changed by each."""
        raise NotImplementedError

    async def execute_batch(self, statements: Sequence[tuple[str, Sequence[Sequence[Any]]]]) -> None:
        """Several statements, each run once per row of its arguments, all in one transaction (page views)."""
        raise NotImplementedError

    # -- notifications -------------------------------------------------------------------------------------

    async def claim_notices(self, lease_seconds: float, limit: int = 20, worker: str = "") -> list[Notice]:
        now = utc_now()
        # A worker takes back its own claims at once (what it left unsent when it crashed, under the same
        # name): it sends one notice at a time, so when it claims, none of its own is in flight.
        rows = await self.execute_returning(_CLAIM.format(lock=self.claim_lock),
                                            (utc_in(lease_seconds), worker, now, now, worker or "(no worker)", limit))
        return [Notice(*row) for row in rows]

    async def release_notices(self, worker: str) -> None:
        await self.execute("UPDATE outbox SET claimed_until = NULL, claimed_by = '' WHERE claimed_by = ? "
                           "AND sent_at IS NULL", (worker,))

    async def notice_sent(self, notice_id: str) -> None:
        await self.notices_sent([notice_id])

    async def notices_sent(self, notice_ids: Sequence[str]) -> None:
        if notice_ids:
            await self.execute(f"UPDATE outbox SET sent_at = ?, claimed_until = NULL, last_error = '' "
                               f"WHERE id IN ({', '.join('?' * len(notice_ids))})", (utc_now(), *notice_ids))

    async def notice_failed(self, notice_id: str, retry_in: float, error: str) -> None:
        await self.execute("UPDATE outbox SET next_attempt_at = ?, claimed_until = NULL, last_error = ? WHERE id = ?",
                           (utc_in(retry_in), error[:500], notice_id))

    async def pending_notices(self) -> int:
        row = await self.fetch_one("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")
        return int(row[0]) if row else 0

    async def notice_backlog(self) -> tuple[int, str | None]:
        row = await self.fetch_one("SELECT COUNT(*), MIN(lead_created_at) FROM outbox WHERE sent_at IS NULL")
        return (int(row[0]), row[1]) if row else (0, None)

    # -- staff -----------------------------------------------------------------------------------------

    async def add_user(self, email: str, password_hash: str, role: str = "staff", offices: Sequence[str] = ()) -> None:
        try:
            await self.execute_many([
                ("INSERT INTO users (email, password_hash, created_at, role) VALUES (?, ?, ?, ?)",
                 (email, password_hash, utc_now(), role)),
                *_office_rows(email, offices),
            ])
        except StoreError:
            raise StoreError(f"a user {email} already exists (use `landing users disable` or another email)") from None

    async def get_user(self, email: str) -> User | None:
        row = await self.fetch_one(f"{_USER_SELECT} WHERE email = ?", (email,))
        if row is None:
            return None
        offices = await self.fetch("SELECT office FROM user_offices WHERE email = ? ORDER BY office", (email,))
        return _user(row, tuple(office for office, in offices))

    async def list_users(self) -> list[User]:
        offices: dict[str, list[str]] = {}
        for email, office in await self.fetch("SELECT email, office FROM user_offices ORDER BY email, office"):
            offices.setdefault(email, []).append(office)
        return [_user(row, tuple(offices.get(row[0], ()))) for row in await self.fetch(f"{_USER_SELECT} ORDER BY email")]

    async def set_role(self, email: str, role: str, offices: Sequence[str]) -> bool:
        """Give a user a role (and a staff member their offices: none for every office); False when no such user."""
        changed = await self.execute_many([
            ("UPDATE users SET role = ? WHERE email = ?", (role, email)),
            ("DELETE FROM user_offices WHERE email = ?", (email,)),
            *_office_rows(email, offices),
        ])
        return changed[0] > 0

    async def set_user_disabled(self, email: str, disabled: bool) -> bool:
        changed = await self.execute_many([
            ("UPDATE users SET disabled = ? WHERE email = ?", (int(disabled), email)),
            ("DELETE FROM sessions WHERE email = ? AND ? = 1", (email, int(disabled))),  # signed out everywhere
        ])
        return changed[0] > 0

    async def set_password(self, email: str, password_hash: str) -> None:
        await self.execute("UPDATE users SET password_hash = ? WHERE email = ?", (password_hash, email))

    async def create_session(self, email: str) -> Session:
        session = Session(id=new_id() + new_id(), email=email, csrf=new_id() + new_id(), created_at=utc_now(),
                          last_seen=utc_now())
        await self.execute("INSERT INTO sessions (id, email, csrf, created_at, last_seen) VALUES (?, ?, ?, ?, ?)",
                           (session.id, session.email, session.csrf, session.created_at, session.last_seen))
        return session

    async def get_session(self, session_id: str) -> Session | None:
        row = await self.fetch_one("SELECT id, email, csrf, created_at, last_seen FROM sessions WHERE id = ?",
                                   (session_id,))
        return Session(*row) if row else None

    async def touch_session(self, session_id: str) -> None:
        await self.execute("UPDATE sessions SET last_seen = ? WHERE id = ?", (utc_now(), session_id))

    async def delete_session(self, session_id: str) -> None:
        await self.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    async def reserve_sign_in(self, keys: Sequence[str], since: str, limit: int) -> str | None:
        # Counting and recording in one statement, in one transaction that no other reservation runs beside
        # (SQLite's one writer; PostgreSQL's sign_in_lock): no two attempts can both see the count below
        # the limit and both be let through.
        attempt = new_id()
        marks = ", ".join("?" * len(keys))
        candidates = " UNION ALL ".join(["SELECT CAST(? AS TEXT) AS key"] * len(keys))
        changed = await self.execute_many([
            *self.sign_in_lock,
            ("DELETE FROM sign_in_attempts WHERE at < ?", (since,)),
            (f"INSERT INTO sign_in_attempts (attempt, key, at) SELECT CAST(? AS TEXT), key, CAST(? AS TEXT) "
             f"FROM ({candidates}) AS candidate WHERE NOT EXISTS (SELECT 1 FROM sign_in_attempts "
             f"WHERE key IN ({marks}) AND at >= ? GROUP BY key HAVING COUNT(*) >= ?)",
             (attempt, utc_now(), *keys, *keys, since, limit)),
        ])
        return attempt if changed[-1] else None

    async def forget_sign_in(self, attempt: str, keys: Sequence[str]) -> None:
        await self.execute(f"DELETE FROM sign_in_attempts WHERE attempt = ? OR key IN ({', '.join('?' * len(keys))})",
                           (attempt, *keys))

    async def sign_in_attempts(self, key: str) -> int:
        row = await self.fetch_one("SELECT COUNT(*) FROM sign_in_attempts WHERE key = ?", (key,))
        return int(row[0]) if row else 0

    async def audit(self, actor: str, action: str, detail: str, rows: int = 0) -> None:
        await self.execute("INSERT INTO audit_log (id, at, actor, action, detail, rows) VALUES (?, ?, ?, ?, ?, ?)",
                           (new_id(), utc_now(), actor, action, detail, rows))

    async def audit_log(self, limit: int = 100) -> list[AuditEntry]:
        rows = await self.fetch("SELECT at, actor, action, detail, rows FROM audit_log ORDER BY at DESC LIMIT ?",
                                (limit,))
        return [AuditEntry(*row) for row in rows]


_USER_SELECT = "SELECT email, password_hash, disabled, created_at, role FROM users"


def _user(row: Sequence[Any], offices: tuple[str, ...]) -> User:
    return User(row[0], row[1], bool(row[2]), row[3], role=row[4], offices=offices)


def _office_rows(email: str, offices: Sequence[str]) -> list[tuple[str, Sequence[Any]]]:
    """Only rows of an existing user: the statement inserts nothing for an unknown email."""
    return [("INSERT INTO user_offices (email, office) SELECT email, CAST(? AS TEXT) FROM users WHERE email = ?", (office, email))
            for office in dict.fromkeys(offices)]


def week_totals(days: list[tuple[str, str, int]], zone: dt.tzinfo = dt.timezone.utc) -> list[tuple[str, str, int]]:
    """(UTC day or hour: 2026-11-27 or 2026-11-27T08, office, n) -> (Monday of its week in ``zone``, office, n),
    summed and sorted."""
    totals: dict[tuple[str, str], int] = {}
    for day, office, n in days:
        moment = dt.datetime.fromisoformat(day + ":00" if len(day) == 13 else day).replace(tzinfo=dt.timezone.utc)
        date = moment.astimezone(zone).date() if len(day) == 13 else moment.date()
        monday = (date - dt.timedelta(days=date.weekday())).isoformat()
        totals[(monday, office)] = totals.get((monday, office), 0) + n
    return sorted((week, office, n) for (week, office), n in totals.items())


_SPAM = LEAD_COLUMNS.index("spam")


def lead_from_row(row: Sequence[Any]) -> Lead:
    values = list(row)
    values[_SPAM] = bool(values[_SPAM])
    return Lead(*values)


_lead_values = operator.attrgetter(*LEAD_COLUMNS)  # astuple() deep-copies every field: 20x slower


def lead_row(lead: Lead) -> tuple[Any, ...]:
    values = _lead_values(lead)
    return (*values[:_SPAM], int(values[_SPAM]), *values[_SPAM + 1:])  # spam is the one bool: stored as 0 or 1


def notice_row(lead: Lead) -> tuple[str, ...]:
    return (new_id(), lead.id, lead.office, lead.treatment, lead.town, lead.created_at, lead.created_at)


def health_probe_lead() -> Lead:
    """What /healthz writes, and rolls back, to learn that a lead could be stored: no one's details."""
    return Lead(id=f"healthz-probe-{new_id()}", created_at=utc_now(), name="", phone="", email="", contact="",
                message="", treatment="", town="", office="", consent_text="", consent_version="", spam=True,
                spam_reason="health check (rolled back)")


Job = tuple[str, Any, "asyncio.Future[Any]"]


async def _answered_within(loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], timeout: float) -> bool:
    """Whether ``future`` is done within ``timeout`` seconds. The waiter's own cancellation leaves ``future`` be,
    as asyncio.shield would: what is asked of the writer is the writer's to finish. (asyncio.wait_for around
    asyncio.shield does the same with three more futures and callbacks: a tenth of a lead's CPU time.)"""
    waiter = loop.create_future()

    def wake(_: object = None) -> None:
        if not waiter.done():
            waiter.set_result(None)

    timer = loop.call_later(timeout, wake)
    future.add_done_callback(wake)
    try:
        await waiter
    finally:
        timer.cancel()
        future.remove_done_callback(wake)
    return future.done()


class _GivenUp(Exception):
    """A waiter of the batch stopped waiting (its time ran out) before the commit: roll back, redo without it."""


class _Connection(sqlite3.Connection):
    """A connection to the lead database, set up as each one must be (the writer's and the reader's alike):
    made by sqlite3.connect(..., factory=_Connection), in the thread that will use it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        try:
            self.execute("PRAGMA busy_timeout=5000")  # first: another worker may be switching the file to WAL
            self._switch_to_wal()
            self.execute("PRAGMA synchronous=FULL")  # a lead acknowledged survives a power cut, not just a crash
            self.execute("PRAGMA foreign_keys=ON")
        except BaseException:
            self.close()
            raise

    def _switch_to_wal(self) -> None:
        """Two connections switching a new file to WAL at once each hold a shared lock and want an exclusive
        one; SQLite answers one of them "database is locked" at once, without waiting, to break the deadlock.
        Workers starting together on a new database meet exactly that, so the switch is tried again."""
        for attempt in range(WAL_SWITCH_TRIES):
            try:
                self.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == WAL_SWITCH_TRIES - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))


def _migrate(db: sqlite3.Connection) -> None:
    """Apply what is pending in one write transaction, reading what is applied inside it: workers that
    start together on a new database take turns, and each after the first finds nothing to do."""
    db.execute(f"PRAGMA busy_timeout={MIGRATION_WAIT_MS}")  # a long migration holds the others up
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(migrations.CREATE_RECORD)
        applied = {row[0] for row in db.execute(migrations.READ_RECORD).fetchall()}
        for name, statements in migrations.pending(applied):
            for statement in statements:
                db.execute(statement)
            db.execute(migrations.RECORD, (name, utc_now()))
        db.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(Exception):
            db.execute("ROLLBACK")
        raise
    finally:
        db.execute("PRAGMA busy_timeout=5000")


def _insert_leads(db: sqlite3.Connection, leads: list[tuple[tuple[Any, ...], tuple[str, ...] | None]]) -> None:
    """Insert (lead row, its notice row or None) pairs: all the leads, then their notices."""
    if leads:
        db.executemany(_INSERT_LEAD, [row for row, _ in leads])
        notices = [notice for _, notice in leads if notice is not None]
        if notices:
            db.executemany(_INSERT_NOTICE, notices)


Result = TypeVar("Result")
Operation = Callable[[sqlite3.Connection], Any]  # a write run in the writer's thread, inside its transaction


class SQLiteLeadStore(SQLStore):
    def __init__(self, path: Path, timeouts: StoreTimeouts | None = None) -> None:
        self.path = path
        self.timeouts = timeouts or StoreTimeouts()
        self._writer: sqlite3.Connection | None = None  # used only in _thread
        self._thread: ThreadPoolExecutor | None = None
        self._reader: aiosqlite.Connection | None = None
        self._queue: asyncio.Queue[Job] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Patients' details: 0600 whatever the umask. SQLite gives the -wal and -shm files it creates the
        # database file's mode; ones an older version left are made private too.
        make_private(self.path)
        for suffix in ("-wal", "-shm", "-journal"):
            keep_private(self.path.with_name(self.path.name + suffix))
        try:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lead-writer")
            # Transactions are explicit (isolation_level=None); the connection is used only in self._thread.
            connect = functools.partial(sqlite3.connect, self.path, isolation_level=None, check_same_thread=False,
                                        factory=_Connection)
            self._writer = await asyncio.get_running_loop().run_in_executor(self._thread, connect)
            await self._in_writer(_migrate)
            self._reader = await self._connect()
        except BaseException as exc:
            await self.close()  # a connection left open keeps its thread, and the process, alive
            if isinstance(exc, sqlite3.Error):  # its text names the file's problem, never a row's values
                raise StoreError(f"cannot open the lead database {self.path} ({exc}): check LANDING_DATABASE_URL, "
                                 "and that the file is a SQLite database this user may write") from None
            raise
        self._task = asyncio.create_task(self._write_loop(), name="lead-writer")

    async def _connect(self) -> aiosqlite.Connection:
        return await aiosqlite.connect(self.path, isolation_level=None, factory=_Connection)  # transactions are explicit

    async def _in_writer(self, function: Callable[[sqlite3.Connection], Result]) -> Result:
        """``function(write connection)``, run in the writer's thread: one hand-off, however many statements."""
        writer, thread = self._writer, self._thread
        if writer is None or thread is None:
            raise StoreError("the lead store is not open")
        return await asyncio.get_running_loop().run_in_executor(thread, function, writer)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        writer, thread, reader = self._writer, self._thread, self._reader
        self._writer, self._thread, self._reader = None, None, None
        try:
            if writer is not None and thread is not None:
                # After whatever the thread is still doing (a transaction whose task was cancelled) has finished.
                await asyncio.get_running_loop().run_in_executor(thread, writer.close)
        finally:  # the thread goes, and the reader closes, even if closing the writer failed or was cancelled
            if thread is not None:
                thread.shutdown(wait=False)
            if reader is not None:
                await reader.close()

    # -- writes: all through the one writer task ----------------------------------------------------

    async def _submit(self, kind: str, payload: Any, timeout: float | None = None) -> Any:
        """Queue a write and wait for its commit, at most ``timeout`` (default: the command timeout) seconds.

        A write whose waiter gave up is never committed later: the writer skips it if it has not begun,
        and rolls its transaction back if it has not committed (see _run).
        """
        if self._task is None or self._task.done():
            raise StoreError("the lead store is not open")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.put_nowait((kind, payload, future))  # unbounded: never waits
        if not await _answered_within(loop, future, timeout or self.timeouts.command) and future.cancel():
            raise store_failure("write to", TimeoutError()) from None
        return future.result()  # answered, just now perhaps

    async def _write_loop(self) -> None:
        # Every write waiting is committed together, leads and the rest (the notifier's claims and receipts come
        # as often as leads do): a commit is a disk sync, the slowest part of a write. A health probe, which is
        # rolled back, goes alone.
        held: Job | None = None  # a probe met while gathering
        while True:
            first, held = (held, None) if held is not None else (await self._queue.get(), None)
            if first[2].cancelled():  # its waiter has given up: never write it late
                continue
            batch = [first]
            while first[0] != "probe" and len(batch) < MAX_BATCH and not self._queue.empty():
                item = self._queue.get_nowait()
                if item[0] == "probe":
                    held = item
                    break
                batch.append(item)
            await self._run(batch)

    async def _run(self, batch: list[Job]) -> None:
        """Commit a batch and answer its waiters; if it fails, retry each alone so one bad row sinks only itself."""
        batch = [item for item in batch if not item[2].cancelled()]
        if not batch:
            return
        try:
            results = await self._transaction(batch)
        except _GivenUp:
            await self._run(batch)  # rolled back: again, without what nobody waits for any more
            return
        except Exception as exc:  # noqa: BLE001 - every waiter must hear of the failure
            if len(batch) > 1:
                for item in batch:
                    await self._run([item])
                return
            if not batch[0][2].done():
                batch[0][2].set_exception(store_failure("write to", exc))
            return
        for (_, _, future), result in zip(batch, results):
            if not future.done():
                future.set_result(result)

    async def _transaction(self, batch: list[Job]) -> list[Any]:
        """Run a batch's writes in one transaction, in the order they came (the leads between two other writes
        inserted together), and commit it; their results, in the same order."""
        leads = [(lead_row(payload[0]), notice_row(payload[0]) if payload[1] else None) if kind == "add" else None
                 for kind, payload, _ in batch]

        def run(db: sqlite3.Connection) -> list[Any]:
            db.execute("BEGIN IMMEDIATE")
            try:
                results: list[Any] = []
                pending: list[tuple[tuple[Any, ...], tuple[str, ...] | None]] = []
                for (_, payload, _), lead in zip(batch, leads):
                    if lead is not None:
                        pending.append(lead)
                        results.append(None)
                        continue
                    _insert_leads(db, pending)  # the leads queued before this write, first
                    pending = []
                    operation: Operation = payload
                    results.append(operation(db))
                _insert_leads(db, pending)
                # Read from this thread: a future's state is one attribute. A waiter that gives up during the COMMIT
                # below is told to try again although its lead is stored, as it was when this ran statement by
                # statement: the visitor may send it twice, but nothing is lost.
                if any(future.cancelled() for _, _, future in batch):
                    raise _GivenUp
                db.execute("ROLLBACK" if batch[0][0] == "probe" else "COMMIT")
                return results
            except BaseException:
                with contextlib.suppress(Exception):
                    db.execute("ROLLBACK")
                raise

        return await self._in_writer(run)

    async def add(self, lead: Lead, notify: bool) -> None:
        await self._submit("add", (lead, notify), self.timeouts.lead)

    async def check_writable(self) -> None:
        try:
            disk = await asyncio.to_thread(os.statvfs, self.path.parent)
        except OSError as exc:
            raise store_failure("check", exc) from None
        free = disk.f_bavail * disk.f_frsize  # what an unprivileged user may still write
        if free < MIN_FREE_BYTES:
            raise StoreError(f"could not write to the lead database: disk full ({free // 1024:,} KiB free)", "disk full")
        probe = health_probe_lead()

        def write(db: sqlite3.Connection) -> None:
            db.execute(_INSERT_LEAD, lead_row(probe))
            db.execute(_INSERT_NOTICE, notice_row(probe))

        await self._submit("probe", write, self.timeouts.lead)

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        return (await self.execute_many([(sql, args)]))[0]

    async def execute_many(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[int]:
        def run(db: sqlite3.Connection) -> list[int]:
            return [db.execute(sql, args).rowcount for sql, args in statements]

        return await self._submit("op", run)  # type: ignore[no-any-return]

    async def execute_batch(self, statements: Sequence[tuple[str, Sequence[Sequence[Any]]]]) -> None:
        def run(db: sqlite3.Connection) -> None:
            for sql, rows in statements:
                if rows:
                    db.executemany(sql, rows)

        await self._submit("op", run)

    async def execute_returning(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        def run(db: sqlite3.Connection) -> list[tuple[Any, ...]]:
            return [tuple(row) for row in db.execute(sql, args).fetchall()]

        return await self._submit("op", run)  # type: ignore[no-any-return]

    # -- reads: a second connection, which sees only committed rows ---------------------------------

    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self._reader is None:
            raise StoreError("the lead store is not open")
        try:
            async with asyncio.timeout(self.timeouts.command), self._reader.execute(sql, args) as cursor:
                return await cursor.fetchall()  # type: ignore[return-value]  # plain tuples: no row factory is set
        except (sqlite3.Error, TimeoutError) as exc:
            raise store_failure("read", exc) from None

    def export_csv(self, lead_filter: LeadFilter, counter: list[int] | None = None,
                   zone: dt.tzinfo = dt.timezone.utc) -> AsyncGenerator[bytes, None]:
        # Not through aiosqlite: a million rows want one read transaction in a thread of their own.
        return sqlite_export.export_csv(self.path, lead_filter, counter, zone)
