"""IndexNow submissions waiting to be sent: an outbox in the lead store's database, so that a failed submission is
retried (with backoff) and a change seen by several instances is submitted once (landing/indexnow.py names each
batch after the change)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from landing.leads.model import utc_in, utc_now
from landing.leads.primitives import Primitives


@dataclass(frozen=True, slots=True)
class Submission:
    id: str
    urls: tuple[str, ...]
    attempts: int


class IndexNowStore(Protocol):
    async def queue_submissions(self, batches: Sequence[tuple[str, Sequence[str]]]) -> int:
        """Queue (id, urls) batches; one already queued (by another instance) is left as it is. How many were new."""
    async def claim_submissions(self, lease_seconds: float, limit: int = 5) -> list[Submission]: ...
    async def submission_sent(self, submission_id: str) -> None: ...
    async def submission_failed(self, submission_id: str, retry_in: float, error: str) -> None: ...
    async def pending_submissions(self) -> int: ...


class IndexNowQueries(Primitives):
    """The SQL of the IndexNow outbox, over the store's primitives (store.SQLStore)."""

    async def queue_submissions(self, batches: Sequence[tuple[str, Sequence[str]]]) -> int:
        added = 0
        for submission_id, urls in batches:
            added += await self.execute(
                "INSERT INTO indexnow_outbox (id, created_at, urls, next_attempt_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (id) DO NOTHING", (submission_id, utc_now(), "\n".join(urls), utc_now()))
        return added

    async def claim_submissions(self, lease_seconds: float, limit: int = 5) -> list[Submission]:
        now = utc_now()
        rows = await self.execute_returning(
            "UPDATE indexnow_outbox SET claimed_until = ?, attempts = attempts + 1 WHERE id IN (SELECT id FROM "
            "indexnow_outbox WHERE sent_at IS NULL AND next_attempt_at <= ? AND (claimed_until IS NULL OR "
            f"claimed_until <= ?) ORDER BY next_attempt_at LIMIT ?{self.claim_lock}) RETURNING id, urls, attempts",
            (utc_in(lease_seconds), now, now, limit))
        return [Submission(row[0], tuple(row[1].split("\n")), int(row[2])) for row in rows]

    async def submission_sent(self, submission_id: str) -> None:
        await self.execute("UPDATE indexnow_outbox SET sent_at = ?, claimed_until = NULL, last_error = '' WHERE id = ?",
                           (utc_now(), submission_id))

    async def submission_failed(self, submission_id: str, retry_in: float, error: str) -> None:
        await self.execute("UPDATE indexnow_outbox SET next_attempt_at = ?, claimed_until = NULL, last_error = ? "
                           "WHERE id = ?", (utc_in(retry_in), error[:500], submission_id))

    async def pending_submissions(self) -> int:
        rows = await self.fetch("SELECT COUNT(*) FROM indexnow_outbox WHERE sent_at IS NULL")
        return int(rows[0][0])
