"""The PostgreSQL lead store: the shared SQL of store.SQLStore over an asyncpg pool.

Several instances of the service share one database. Migrations run under an advisory lock so that
instances starting together do not race; notices are claimed with FOR UPDATE SKIP LOCKED so that two
workers never take the same one.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Sequence
from typing import Any

import asyncpg

from landing.leads import migrations
from landing.leads.export import csv_file, export_query
from landing.leads.model import Lead, LeadFilter, utc_now
from landing.leads.store import _INSERT_LEAD, SQLStore, StoreError, lead_row, notice_row

EXPORT_PREFETCH = 500  # rows an export's cursor fetches at a time
_MIGRATION_LOCK = 7_246_101  # any constant: the advisory lock that serializes migrations across instances
_SIGN_IN_LOCK = 7_246_102  # and the one that serializes sign-in reservations (each holds it for a millisecond)


@contextlib.contextmanager
def failing(doing: str, *also: type[Exception]) -> Iterator[None]:
    """The database's errors as StoreError, named by kind only: their text can quote a lead's values."""
    errors: tuple[type[Exception], ...] = (asyncpg.PostgresError, *also)
    try:
        yield
    except errors as exc:
        raise StoreError(f"could not {doing} the lead database ({type(exc).__name__})") from None


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


# The lead and its notice in one statement (so one round trip), the notice reading the new lead's id.
_ADD_WITH_NOTICE = numbered(
    f"WITH lead AS ({_INSERT_LEAD} RETURNING id) "
    "INSERT INTO outbox (id, lead_id, office, treatment, town, lead_created_at, next_attempt_at) "
    "SELECT ?, lead.id, ?, ?, ?, ?, ? FROM lead"
)


class PostgresLeadStore(SQLStore):
    claim_lock = " FOR UPDATE SKIP LOCKED"  # two instances' workers never take the same notice
    # Under READ COMMITTED two reservations could both count below the limit; held until commit, this lock
    # makes the second count after the first has written.
    sign_in_lock = (("SELECT pg_advisory_xact_lock(?)", (_SIGN_IN_LOCK,)),)

    def __init__(self, dsn: str, pool_size: int = 10) -> None:
        self.dsn = dsn
        self.pool_size = pool_size
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        try:
            self._pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=self.pool_size)
        except (OSError, asyncpg.PostgresError) as exc:
            raise StoreError(f"cannot reach the PostgreSQL database ({type(exc).__name__}); check "
                             "LANDING_DATABASE_URL and that the server is running") from None
        async with self.pool.acquire() as connection, connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await connection.execute(migrations.CREATE_RECORD)
            applied = {row[0] for row in await connection.fetch(migrations.READ_RECORD)}
            for name, statements in migrations.pending(applied):
                for statement in statements:
                    await connection.execute(statement)
                await connection.execute(numbered(migrations.RECORD), name, utc_now())

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreError("the lead store is not open")
        return self._pool

    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with failing("read"):
            return [tuple(row) for row in await self.pool.fetch(numbered(sql), *args)]

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        with failing("write to"):
            return _count(await self.pool.execute(numbered(sql), *args))  # one statement: its own transaction

    async def execute_many(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[int]:
        with failing("write to"):
            async with self.pool.acquire() as connection, connection.transaction():
                return [_count(await connection.execute(numbered(sql), *args)) for sql, args in statements]

    async def execute_returning(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with failing("write to"):
            return [tuple(row) for row in await self.pool.fetch(numbered(sql), *args)]

    def export_csv(self, lead_filter: LeadFilter, counter: list[int] | None = None) -> AsyncGenerator[bytes, None]:
        return csv_file(self._export_blocks(lead_filter), counter)

    async def _export_blocks(self, lead_filter: LeadFilter) -> AsyncIterator[list[asyncpg.Record]]:
        # One read-only REPEATABLE READ transaction and a cursor: the file holds the leads as they were when
        # the export began (as SQLite's does), read a block at a time, whatever arrives meanwhile.
        sql, args = export_query(lead_filter)
        sql = numbered(sql)
        with failing("read"):
            async with self.pool.acquire() as connection:
                async with connection.transaction(isolation="repeatable_read", readonly=True):
                    cursor = await connection.cursor(sql, *args)
                    while rows := await cursor.fetch(EXPORT_PREFETCH):
                        yield rows

    async def add(self, lead: Lead, notify: bool) -> None:
        # One statement is one implicit transaction: committed when execute() returns, in one round trip.
        # PostgreSQL commits concurrent ones together (group commit), so no batching is needed here.
        sql = _ADD_WITH_NOTICE if notify else numbered(_INSERT_LEAD)
        notice_id, _, *notice = notice_row(lead)
        values = (*lead_row(lead), notice_id, *notice) if notify else lead_row(lead)
        with failing("write to", OSError):  # a connection lost mid-write too: the visitor is asked to call
            await self.pool.execute(sql, *values)

