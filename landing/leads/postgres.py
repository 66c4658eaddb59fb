"""The PostgreSQL lead store: the shared SQL of store.SQLStore over an asyncpg pool.

Several instances of the service share one database. Migrations run under an advisory lock so that
instances starting together do not race; notices are claimed with FOR UPDATE SKIP LOCKED so that two
workers never take the same one.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import asyncpg

from landing.leads import migrations
from landing.leads.deadlines import Deadline, StoreTimeouts
from landing.leads.export import csv_file, export_query
from landing.leads.model import LEAD_COLUMNS, Lead, LeadFilter, utc_now
from landing.leads.store import (
    SQLStore,
    StoreError,
    health_probe_lead,
    lead_row,
    notice_row,
    store_failure,
)

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Connection = PoolConnectionProxy[asyncpg.Record]

log = logging.getLogger("landing.leads")
EXPORT_PREFETCH = 500  # rows an export's cursor fetches at a time
_MIGRATION_LOCK = 7_246_101  # any constant: the advisory lock that serializes migrations across instances
_SIGN_IN_LOCK = 7_246_102  # and the one that serializes sign-in reservations (each holds it for a millisecond)
MIGRATION_SECONDS = 3600.0  # a migration may rebuild an index of a large table: no command timeout for those
CLOCK_WARNING_SECONDS = 1.0
# The database's deadline for a lead comes this share of the lead timeout (at most a second) before ours: a
# statement it runs later stores nothing, and its answer has that long to reach us before we give up. Only an
# answer held back longer than that (the network failing at that very moment) leaves a lead stored whose visitor
# was asked to try again: kept and notified like any other, never lost.
DEADLINE_MARGIN = 0.2


@contextlib.contextmanager
def failing(doing: str, *also: type[Exception]) -> Iterator[None]:
    """The database's errors, a lost connection and a timeout as StoreError, named by their cause only (causes.py):
    their text can quote a lead's values."""
    errors: tuple[type[Exception], ...] = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError, *also)
    try:
        yield
    except errors as exc:
        raise store_failure(doing, exc) from None


def numbered(sql: str, cache: dict[str, str] = {}) -> str:  # noqa: B006 - a deliberate module-wide cache
    """SQLite's ? placeholders -> PostgreSQL's $1, $2, ... (our SQL has no ? inside string literals)."""
    if sql not in cache:
        counter = iter(range(1, 10_000))
        cache[sql] = re.sub(r"\?", lambda _: f"${next(counter)}", sql)
    return cache[sql]


def _count(status: str) -> int:
    """'UPDATE 3' -> 3."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


# A lead is written only if the database runs the statement before the lead's deadline, by its own clock: a
# statement that reaches it late (a network that held it, then healed) or waited out a lock stores nothing,
# so a visitor who was told "not saved" never has a lead saved later. The lead and its notice are one
# statement (one round trip), the notice reading the new lead's id.
_INSERT_LEAD_BY_DEADLINE = (f"INSERT INTO leads ({', '.join(LEAD_COLUMNS)}) SELECT {', '.join('?' * len(LEAD_COLUMNS))} "
                            "WHERE clock_timestamp() <= ?")
_ADD_BY_DEADLINE = numbered(_INSERT_LEAD_BY_DEADLINE)
_ADD_BY_DEADLINE_WITH_NOTICE = numbered(
    f"WITH lead AS ({_INSERT_LEAD_BY_DEADLINE} RETURNING id) "
    "INSERT INTO outbox (id, lead_id, office, treatment, town, lead_created_at, next_attempt_at) "
    "SELECT ?, lead.id, ?, ?, ?, ?, ? FROM lead"
)


class PostgresLeadStore(SQLStore):
    claim_lock = " FOR UPDATE SKIP LOCKED"  # two instances' workers never take the same notice
    # Under READ COMMITTED two reservations could both count below the limit; held until commit, this lock
    # makes the second count after the first has written.
    sign_in_lock = (("SELECT pg_advisory_xact_lock(?)", (_SIGN_IN_LOCK,)),)

    def __init__(self, dsn: str, pool_size: int = 10, timeouts: StoreTimeouts | None = None) -> None:
        self.dsn = dsn
        self.pool_size = pool_size
        self.timeouts = timeouts or StoreTimeouts()
        self.clock_offset = 0.0  # the database's clock minus ours, in seconds: lead deadlines are in its time
        self._pool: asyncpg.Pool | None = None
        self._releasing: set[asyncio.Future[None]] = set()

    async def open(self) -> None:
        try:
            self._pool = await asyncpg.create_pool(
                self.dsn, min_size=1, max_size=self.pool_size,
                # Every wait on the server is bounded: connecting, each command (asyncpg cancels it, then
                # replaces the connection if even the cancellation gets no answer), and each statement on the
                # server itself (lock waits included).
                timeout=self.timeouts.connect, command_timeout=self.timeouts.command,
                server_settings={"statement_timeout": str(round(self.timeouts.statement * 1000))})
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreError(f"cannot reach the PostgreSQL database ({store_failure('open', exc).cause}); check "
                             "LANDING_DATABASE_URL and that the server is running") from None
        try:
            await self._migrate()
            async with self._connection() as connection:
                await self._read_clock(connection, self.timeouts.command)
        except BaseException:
            await self.close()
            raise

    async def _migrate(self) -> None:
        with failing("migrate"):
            async with self._connection() as connection, connection.transaction():
                await connection.execute("SET LOCAL statement_timeout = 0")
                await connection.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK, timeout=MIGRATION_SECONDS)
                await connection.execute(migrations.CREATE_RECORD)
                applied = {row[0] for row in await connection.fetch(migrations.READ_RECORD)}
                for name, statements in migrations.pending(applied):
                    for statement in statements:
                        await connection.execute(statement, timeout=MIGRATION_SECONDS)
                    await connection.execute(numbered(migrations.RECORD), name, utc_now())

    async def close(self) -> None:
        """Close the pool, waiting at most the command timeout for connections in use; then cut them."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), self.timeouts.command)
        except Exception:  # noqa: BLE001 - a timeout or a dead server must not hold the shutdown
            pool.terminate()

    @contextlib.asynccontextmanager
    async def _connection(self, deadline: Deadline | None = None) -> AsyncIterator[Connection]:
        """A connection of the pool, waited for at most the command timeout (or until ``deadline``).

        With a deadline, the connection is given back in the background: after a command cancelled on a silent
        server, asyncpg waits up to a command timeout for the cancellation before it does, and a visitor must
        not wait for that."""
        wait = self.timeouts.command if deadline is None else deadline.remaining()
        if wait <= 0:
            raise TimeoutError
        if deadline is None:
            async with self.pool.acquire(timeout=wait) as connection:
                yield connection
            return
        pool = self.pool
        connection = await pool.acquire(timeout=wait)
        try:
            yield connection
        finally:
            releasing = asyncio.ensure_future(pool.release(connection))
            self._releasing.add(releasing)
            releasing.add_done_callback(self._released)

    def _released(self, task: asyncio.Future[None]) -> None:
        self._releasing.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a connection that could not be reset is closed by asyncpg itself

    async def _read_clock(self, connection: Connection, timeout: float) -> None:
        before = time.time()
        theirs: dt.datetime = await connection.fetchval("SELECT clock_timestamp()", timeout=timeout)
        after = time.time()
        offset = theirs.timestamp() - (before + after) / 2
        if abs(offset) > CLOCK_WARNING_SECONDS and abs(self.clock_offset) <= CLOCK_WARNING_SECONDS:
            log.warning("the PostgreSQL server's clock is %.1f s %s this machine's (lead deadlines follow the "
                        "server's clock; check NTP on both)", abs(offset), "ahead of" if offset > 0 else "behind")
        self.clock_offset = offset

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreError("the lead store is not open")
        return self._pool

    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with failing("read"):
            async with self._connection() as connection:
                return [tuple(row) for row in await connection.fetch(numbered(sql), *args)]

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        with failing("write to"):
            async with self._connection() as connection:  # one statement: its own transaction
                return _count(await connection.execute(numbered(sql), *args))

    async def execute_many(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[int]:
        with failing("write to"):
            async with self._connection() as connection, connection.transaction():
                return [_count(await connection.execute(numbered(sql), *args)) for sql, args in statements]

    async def execute_batch(self, statements: Sequence[tuple[str, Sequence[Sequence[Any]]]]) -> None:
        with failing("write to"):
            async with self._connection() as connection, connection.transaction():
                for sql, rows in statements:
                    if rows:
                        await connection.executemany(numbered(sql), rows)

    async def execute_returning(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with failing("write to"):
            async with self._connection() as connection:
                return [tuple(row) for row in await connection.fetch(numbered(sql), *args)]

    def export_csv(self, lead_filter: LeadFilter, counter: list[int] | None = None) -> AsyncGenerator[bytes, None]:
        return csv_file(self._export_blocks(lead_filter), counter)

    async def _export_blocks(self, lead_filter: LeadFilter) -> AsyncIterator[list[asyncpg.Record]]:
        # One read-only REPEATABLE READ transaction and a cursor: the file holds the leads as they were when
        # the export began (as SQLite's does), read a block at a time, whatever arrives meanwhile.
        sql, args = export_query(lead_filter)
        sql = numbered(sql)
        with failing("read"):
            async with self._connection() as connection:
                async with connection.transaction(isolation="repeatable_read", readonly=True):
                    cursor = await connection.cursor(sql, *args)
                    while rows := await cursor.fetch(EXPORT_PREFETCH):
                        yield rows

    async def add(self, lead: Lead, notify: bool) -> None:
        # One statement is one implicit transaction: committed when execute() returns, in one round trip.
        # PostgreSQL commits concurrent ones together (group commit), so no batching is needed here.
        deadline = Deadline.after(self.timeouts.lead)
        # The whole of it within the deadline, giving the connection back too (asyncpg waits for a cancelled
        # command's cancellation before it does, and that can take a command timeout when the server is silent).
        with failing("write to"):  # a connection lost mid-write too: the visitor is asked to call
            async with asyncio.timeout(self.timeouts.lead), self._connection(deadline) as connection:
                stored = await self._insert(connection, lead, notify, deadline)
        if not stored:
            raise StoreError("could not write to the lead database: timed out (the lead reached the database after "
                             "its deadline and was not stored)", "timed out (the database answered too late)")

    async def _insert(self, connection: Connection, lead: Lead, notify: bool, deadline: Deadline) -> bool:
        """Insert ``lead`` (and its notice) unless the database runs it after ``deadline``; whether it did."""
        remaining = deadline.remaining()
        if remaining <= 0:
            raise TimeoutError
        margin = min(DEADLINE_MARGIN * self.timeouts.lead, 1.0)
        by = dt.datetime.fromtimestamp(deadline.wall - margin + self.clock_offset, dt.timezone.utc)
        if notify:
            notice_id, _, *notice = notice_row(lead)
            status = await connection.execute(_ADD_BY_DEADLINE_WITH_NOTICE, *lead_row(lead), by, notice_id, *notice,
                                              timeout=remaining)
        else:
            status = await connection.execute(_ADD_BY_DEADLINE, *lead_row(lead), by, timeout=remaining)
        return _count(status) > 0

    async def check_writable(self) -> None:
        deadline = Deadline.after(self.timeouts.lead)
        with failing("write to"):
            async with asyncio.timeout(self.timeouts.lead), self._connection(deadline) as connection:
                await self._read_clock(connection, max(deadline.remaining(), 0.001))
                transaction = connection.transaction()
                await transaction.start()
                try:
                    stored = await self._insert(connection, health_probe_lead(), True, deadline)
                finally:
                    await transaction.rollback()
        if not stored:
            raise StoreError("could not write to the lead database: timed out", "timed out (the database answered too late)")

