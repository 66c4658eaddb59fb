"""Whether leads can be stored now, and how far behind the notifications are: what /healthz reports.

Reading is not enough: a full disk or a read-only file refuses every lead while reads still work. So the
check writes a lead and its notice in a transaction it rolls back (and, for SQLite, whose rolled-back
writes never reach the disk, looks for room on it), within the lead timeout: a lock or a silent database
fails it as it fails a visitor's lead. It runs at most once a second however often it is asked (a flood
of /healthz must not occupy the database's one writer), and a change of verdict is logged once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from dataclasses import dataclass

from landing.leads.store import LeadStore, StoreError
from landing.logs import Repeated

log = logging.getLogger("landing.health")
EVERY_SECONDS = 1.0


@dataclass(frozen=True)
class StoreHealth:
    database: str  # "ok", or why leads cannot be stored ("disk full", "read-only ...", "timed out ...")
    pending: int | None  # unsent notifications; None when the database did not say
    oldest_seconds: float | None  # the oldest unsent notification's age
    checked_at: float  # monotonic

    @property
    def ok(self) -> bool:
        return self.database == "ok"


class HealthCheck:
    def __init__(self, store: LeadStore, timeout: float, every: float = EVERY_SECONDS) -> None:
        self.store = store
        self.timeout = timeout
        self.every = every
        self.last: StoreHealth | None = None
        self.running: asyncio.Future[StoreHealth] | None = None
        self.trouble = Repeated(log)

    async def check(self) -> StoreHealth:
        last = self.last
        if last is not None and time.monotonic() - last.checked_at < self.every:
            return last
        if self.running is None or self.running.done():
            self.running = asyncio.ensure_future(self._check())
        return await asyncio.shield(self.running)  # a caller that goes away does not cancel the others' check

    async def _check(self) -> StoreHealth:
        writable, backlog = await asyncio.gather(self._writable(), self._backlog())
        health = StoreHealth(writable, *backlog, checked_at=time.monotonic())
        if health.ok:
            self.trouble.success("leads can be stored again (/healthz answers 200)")
        else:
            self.trouble.failure(writable, "leads cannot be stored: %s (/healthz answers 503)", writable,
                                 level=logging.ERROR)
        self.last = health
        return health

    async def _writable(self) -> str:
        try:
            await asyncio.wait_for(self.store.check_writable(), self.timeout)
        except StoreError as exc:
            return exc.cause
        except TimeoutError:
            return "timed out (the database did not answer in time)"
        return "ok"

    async def _backlog(self) -> tuple[int | None, float | None]:
        try:
            pending, oldest = await asyncio.wait_for(self.store.notice_backlog(), self.timeout)
        except (StoreError, TimeoutError):
            return None, None
        return pending, age_seconds(oldest)


def age_seconds(moment: str | None, now: dt.datetime | None = None) -> float:
    """How long ago an ISO 8601 UTC time was (0 for none)."""
    if not moment:
        return 0.0
    now = now or dt.datetime.now(dt.timezone.utc)
    return max(0.0, round((now - dt.datetime.fromisoformat(moment)).total_seconds(), 1))
