"""Page views counted at the origin: no cookie, no script, no stored address or user agent.

Each view of a page is tallied in this process's memory under (day, page, utm_source, utm_campaign): a view
by a person, or a view by a known crawler (the crawler-user-agents list, kept by its authors and shipped as
a package), counted apart. A person's unique visit is a keyed hash (BLAKE2b, keyed with the day's random
salt) of their address and user agent, the method Plausible and Fathom publish. Every few seconds the
tallies are added to the database in one transaction (additive upserts, so any number of instances add to
the same rows), and the day's distinct hashes are inserted with ON CONFLICT DO NOTHING: a visitor seen by two
instances is counted once, whichever flushes first.

The salt is made by whichever instance needs it first and kept in the database (so every instance hashes
with the same one) only for its day, plus DAY_GRACE seconds for flushes still in flight; then it is deleted
with that day's hashes. Without it, a hash cannot be linked to the next day's nor reversed, and the counts
that remain hold no hash at all. Days are UTC days.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import hashlib
import logging
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import crawleruseragents  # type: ignore[import-untyped]

from landing.leads.form import attribution_from_request
from landing.leads.model import new_id
from landing.leads.store import LeadStore, SQLStore, StoreError

log = logging.getLogger("landing.views")

Key = tuple[str, str, str, str]  # day, page path, utm_source, utm_campaign

DAY_GRACE = 600.0  # a day's salt and visitor hashes outlive it by this much: an instance's last flush of it
SALT_AHEAD = 600.0  # the next day's salt is made this long before the day starts, so no view waits for it
ROTATE_SECONDS = 60.0  # how often an instance looks for a new day's salt and deletes past ones
MAX_CAMPAIGN = 100  # characters of a utm_source or utm_campaign kept
PENDING_BATCH = 1024  # requests put aside before they are tallied (about 100 KB)
MAX_KEYS = 100_000  # distinct tallies held between flushes; past it, campaigns are counted as "(other)"
MAX_HELD_VISITORS = 1_000_000  # hashes kept for a retry while the database is away; past it they are dropped
OTHER = "(other)"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")



def _add(table: str, columns: str, key: str, values: str) -> str:
    """An additive upsert of views and crawler views into ``table``."""
    return (f"INSERT INTO {table} ({columns}, views, visitors, bot_views) VALUES ({values}, ?, 0, ?) "
            f"ON CONFLICT ({key}) DO UPDATE SET views = {table}.views + excluded.views, "
            f"bot_views = {table}.bot_views + excluded.bot_views")


def _add_visitors(table: str, columns: str, key: str, selected: str) -> str:
    """An additive upsert into ``table`` of the visitors this flush inserted (see _ADD_VISITOR)."""
    return (f"INSERT INTO {table} ({columns}, views, visitors, bot_views) SELECT {selected}, 0, COUNT(*), 0 "
            f"FROM page_visitors WHERE flush = ? GROUP BY {selected} ON CONFLICT ({key}) DO UPDATE SET "
            f"visitors = {table}.visitors + excluded.visitors")


_PAGE = "day, path, source, campaign"
_MONTH = "month, path, source, campaign"
_MONTH_OF_DAY = "substr(day, 1, 7), path, source, campaign"
_ADD_VIEWS = _add("page_views", _PAGE, _PAGE, "?, ?, ?, ?")
_ADD_MONTH_VIEWS = _add("page_views_monthly", _MONTH, _MONTH, "?, ?, ?, ?")
_ADD_DAY_VIEWS = _add("views_by_day", "day", "day", "?")
_ADD_VISITOR = ("INSERT INTO page_visitors (day, path, source, campaign, visitor, flush) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (day, path, source, campaign, visitor) DO NOTHING")
# Only the hashes this flush inserted carry its id: the ones another instance (or an earlier flush) had
# inserted already were skipped above, so they are not counted twice.
_ADD_VISITORS = _add_visitors("page_views", _PAGE, _PAGE, _PAGE)
_ADD_MONTH_VISITORS = _add_visitors("page_views_monthly", _MONTH, _MONTH, _MONTH_OF_DAY)
_ADD_DAY_VISITORS = _add_visitors("views_by_day", "day", "day", "day")


def day_of(timestamp: float) -> str:
    """The UTC day of a Unix time, as YYYY-MM-DD."""
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).date().isoformat()


def next_midnight(timestamp: float) -> float:
    day = dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).date() + dt.timedelta(days=1)
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp()


@functools.lru_cache(maxsize=4096)  # a site sees few distinct user agents; matching ~1,500 patterns costs ~50 us
def is_bot(user_agent: bytes) -> bool:
    """A known crawler's user agent, or none at all (no browser sends an empty one)."""
    text = user_agent.decode("latin-1").strip()
    return not text or bool(crawleruseragents.is_crawler(text))


def campaign_value(text: str) -> str:
    """A utm value as the report shows and matches it (a lead's, from its form, the same way)."""
    return _CONTROL.sub("", text).strip()[:MAX_CAMPAIGN]


def campaign_of(query: bytes) -> tuple[str, str]:
    """(utm_source, utm_campaign) of a query string, read as the lead form reads them."""
    values = attribution_from_request(query, b"")
    return campaign_value(values.get("utm_source", "")), campaign_value(values.get("utm_campaign", ""))


def visitor_hash(salt: bytes, address: str, user_agent: bytes) -> bytes:
    return hashlib.blake2b(address.encode("utf-8", "replace") + b"\n" + user_agent, key=salt, digest_size=16).digest()


def sql_store(store: LeadStore) -> SQLStore:
    if not isinstance(store, SQLStore):
        raise TypeError(f"page views need one of the SQL lead stores, not {type(store).__name__}")
    return store


class ViewCounter:
    """This process's tallies since its last flush, and the salts of the days it counts."""

    def __init__(self, flush_seconds: float = 5.0, clock: Callable[[], float] = time.time) -> None:
        self.flush_seconds = flush_seconds
        self.clock = clock
        self.views: dict[Key, int] = {}
        self.bots: dict[Key, int] = {}
        self.visitors: dict[Key, set[bytes]] = {}
        self.pending: list[tuple[str, str, bytes, bytes]] = []
        self.salts: dict[str, bytes] = {}
        self.store: SQLStore | None = None
        self._day = ""
        self._day_ends = 0.0
        self._salt: bytes | None = None
        self._rotated_at = -float("inf")
        self._failing = False

    # -- the hot path: a list append; the rest once per batch ----------------------------------------------

    def count_request(self, scope: Mapping[str, Any]) -> None:
        """Count a GET of a page answered from the cache (an ASGI scope: path, client, headers, query).

        The request's path, address, user agent and query are put aside (in memory only) and tallied by the
        PENDING_BATCH, or at the next flush: the same visitor's repeated views are then tallied, checked
        against the crawler list and hashed once, and a cached page pays for little more than an append."""
        user_agent = b""
        for name, value in scope["headers"]:
            if name == b"user-agent":
                user_agent = value
                break
        client = scope.get("client")
        pending = self.pending
        pending.append((scope["path"], client[0] if client else "", user_agent, scope.get("query_string", b"")))
        if len(pending) >= PENDING_BATCH:
            self.tally()

    def tally(self) -> None:
        """Count what count_request put aside."""
        pending, self.pending = self.pending, []
        for (path, address, user_agent, query), n in Counter(pending).items():
            self.count(path, address, user_agent, query, n)

    def count(self, path: str, address: str, user_agent: bytes, query: bytes = b"", n: int = 1) -> None:
        """Count ``n`` views of ``path`` by one visitor, arriving with ``query``."""
        now = self.clock()
        if now >= self._day_ends:
            self._new_day(now)
        source = campaign = ""
        if query and b"utm_" in query:
            source, campaign = campaign_of(query)
        key = (self._day, path, source, campaign)
        if (source or campaign) and key not in self.views and key not in self.bots \
                and len(self.views) + len(self.bots) >= MAX_KEYS:
            key = (self._day, path, OTHER, OTHER)  # a flood of made-up campaigns: pages stay bounded
        if is_bot(user_agent):
            self.bots[key] = self.bots.get(key, 0) + n
            return
        self.views[key] = self.views.get(key, 0) + n
        if self._salt is not None:
            hashes = self.visitors.get(key)
            if hashes is None:
                hashes = self.visitors[key] = set()
            hashes.add(visitor_hash(self._salt, address, user_agent))

    def _new_day(self, now: float) -> None:
        self._day = day_of(now)
        self._day_ends = next_midnight(now)
        self._salt = self.salts.get(self._day)

    # -- the database: salts, flushes ---------------------------------------------------------------------

    async def start(self, store: LeadStore) -> None:
        """Use ``store`` and fetch (or make) today's salt, before the first view is counted."""
        self.store = sql_store(store)
        crawleruseragents.is_crawler("")  # compiles the patterns now, not at the first visit
        await self.try_rotate()  # a read-only or unreachable database must not keep the pages from serving

    async def rotate(self) -> None:
        """Make sure today's salt exists (and, near midnight, tomorrow's); delete past days' salts and hashes."""
        store = self.require_store()
        now = self.clock()
        today, soon, kept_from = day_of(now), day_of(now + SALT_AHEAD), day_of(now - DAY_GRACE)
        wanted = sorted({today, soon})
        await store.execute_batch([
            ("DELETE FROM view_salts WHERE day < ?", [(kept_from,)]),
            ("DELETE FROM page_visitors WHERE day < ?", [(kept_from,)]),
            ("INSERT INTO view_salts (day, salt) VALUES (?, ?) ON CONFLICT (day) DO NOTHING",
             [(day, secrets.token_hex(32)) for day in wanted]),
        ])
        rows = await store.fetch(f"SELECT day, salt FROM view_salts WHERE day IN ({', '.join('?' * len(wanted))})",
                                 wanted)
        self.salts = {str(day): bytes.fromhex(str(salt)) for day, salt in rows}
        self._rotated_at = now
        if now < self._day_ends:
            self._salt = self.salts.get(self._day)

    def require_store(self) -> SQLStore:
        if self.store is None:
            raise StoreError("page views are not connected to the database")
        return self.store

    async def flush(self) -> None:
        """Add what was counted since the last flush to the database, in one transaction. When that fails,
        nothing was added: the tallies are kept for the next flush."""
        self.tally()
        views, bots, visitors = self.views, self.bots, self.visitors
        if not views and not bots:
            return
        self.views, self.bots, self.visitors = {}, {}, {}
        flush = new_id()
        # Sorted: instances flushing at once on PostgreSQL lock the same rows in the same order (no deadlock).
        keys = sorted(views.keys() | bots.keys())
        hashes = sorted((*key, visitor.hex(), flush) for key, seen in visitors.items() for visitor in seen)
        months: dict[Key, list[int]] = {}
        days: dict[str, list[int]] = {}
        for key in keys:
            n, crawled = views.get(key, 0), bots.get(key, 0)
            for totals in (months.setdefault((key[0][:7], *key[1:]), [0, 0]), days.setdefault(key[0], [0, 0])):
                totals[0] += n
                totals[1] += crawled
        counted = [(flush,)] if hashes else []
        try:
            await self.require_store().execute_batch([
                (_ADD_VISITOR, hashes),
                (_ADD_VIEWS, [(*key, views.get(key, 0), bots.get(key, 0)) for key in keys]),
                (_ADD_MONTH_VIEWS, [(*key, *totals) for key, totals in sorted(months.items())]),
                (_ADD_DAY_VIEWS, [(day, *totals) for day, totals in sorted(days.items())]),
                (_ADD_VISITORS, counted),
                (_ADD_MONTH_VISITORS, counted),
                (_ADD_DAY_VISITORS, counted),
            ])
        except StoreError as exc:
            self._keep(views, bots, visitors)
            if not self._failing:
                log.warning("page views could not be saved (%s); kept in memory and tried again", exc.cause)
            self._failing = True
            return
        if self._failing:
            log.info("page views are saved again")
        self._failing = False

    def _keep(self, views: dict[Key, int], bots: dict[Key, int], visitors: dict[Key, set[bytes]]) -> None:
        for kept, tally in ((views, self.views), (bots, self.bots)):
            for key, n in kept.items():
                tally[key] = tally.get(key, 0) + n
        if sum(len(seen) for seen in self.visitors.values()) + sum(len(seen) for seen in visitors.values()) \
                > MAX_HELD_VISITORS:
            return  # views still add up; these visitors go uncounted rather than fill the memory
        for key, seen in visitors.items():
            self.visitors.setdefault(key, set()).update(seen)

    async def tick(self) -> None:
        """One round of the background task: rotate salts when due, then flush."""
        now = self.clock()
        if now - self._rotated_at >= ROTATE_SECONDS or day_of(now) not in self.salts:
            await self.try_rotate()
        await self.flush()

    async def try_rotate(self) -> None:
        try:
            await self.rotate()
        except StoreError as exc:
            log.warning("page views: could not fetch the day's salt (%s); unique visitors wait for it", exc.cause)

    async def run(self) -> None:
        """Flush every ``flush_seconds`` until cancelled."""
        while True:
            await asyncio.sleep(self.flush_seconds)
            try:
                await self.tick()
            except Exception:  # a bug here must not end counting for the life of the process
                log.exception("page views: flush failed")

    async def stop(self, task: asyncio.Task[None], timeout: float) -> None:
        """End the background task and flush what is left, within ``timeout`` seconds."""
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self.flush()
