"""Towns published from the staff area or `landing site publish`: versions and drafts of locations.csv kept in
the lead store's database (SQLite or PostgreSQL), so that every instance serves the same towns.

A draft is an upload that passed the checks, waiting for its preview to be read; publishing it makes a new
version (numbered 1, 2, ...). The newest version is what every instance serves. Rolling back publishes an
old version's file again, as a new version. The SQL is shared by every store (``SiteVersionQueries``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from landing.leads.model import new_id, utc_in, utc_now
from landing.leads.primitives import Primitives

DRAFT_DAYS = 2  # drafts nobody published are deleted after this long


@dataclass(frozen=True, slots=True)
class SiteVersion:
    number: int
    published_at: str
    author: str
    summary: str  # "2 pages added, 1 removed, 1 town with a new slug"
    source: str  # "towns.xlsx uploaded", "locations.csv (landing site publish)", "roll back to version 2"
    locations: str = ""  # the CSV text (empty when listed without it)


@dataclass(frozen=True, slots=True)
class Draft:
    id: str
    created_at: str
    author: str
    source: str
    locations: str
    base: int  # the version number it was checked against (0: the file on disk)


class SiteVersionStore(Protocol):
    async def publish_version(self, locations: str, author: str, summary: str, source: str,
                              base: int | None = None) -> int | None:
        """Store a new version; its number, or None when ``base`` is given and is no longer the newest."""
    async def latest_version_number(self) -> int: ...
    async def site_version(self, number: int | None = None) -> SiteVersion | None:
        """A version with its file (the newest when ``number`` is None), or None."""
    async def site_versions(self, limit: int = 100) -> list[SiteVersion]: ...
    async def add_draft(self, locations: str, author: str, source: str, base: int) -> Draft: ...
    async def get_draft(self, draft_id: str) -> Draft | None: ...
    async def delete_draft(self, draft_id: str) -> None: ...


_VERSION = "SELECT number, published_at, author, summary, source{} FROM site_versions"


class SiteVersionQueries(Primitives):
    """The SQL of site versions and drafts, over the store's primitives (store.SQLStore)."""

    async def publish_version(self, locations: str, author: str, summary: str, source: str,
                              base: int | None = None) -> int | None:
        # One statement: the number is the next one, and only while the newest is still ``base`` (the version
        # the preview was made against), so two people publishing at once cannot overwrite each other unseen.
        rows = await self.execute_returning(
            "INSERT INTO site_versions (number, published_at, author, summary, source, locations) "
            "SELECT COALESCE(MAX(number), 0) + 1, CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), "
            "CAST(? AS TEXT) FROM site_versions HAVING COALESCE(MAX(number), 0) = ? OR CAST(? AS INTEGER) = 1 "
            "RETURNING number",
            (utc_now(), author, summary, source, locations, -1 if base is None else base, int(base is None)))
        return int(rows[0][0]) if rows else None

    async def latest_version_number(self) -> int:
        rows = await self.fetch("SELECT COALESCE(MAX(number), 0) FROM site_versions")
        return int(rows[0][0])

    async def site_version(self, number: int | None = None) -> SiteVersion | None:
        if number is None:
            rows = await self.fetch(_VERSION.format(", locations") + " ORDER BY number DESC LIMIT 1")
        else:
            rows = await self.fetch(_VERSION.format(", locations") + " WHERE number = ?", (number,))
        return SiteVersion(*rows[0]) if rows else None

    async def site_versions(self, limit: int = 100) -> list[SiteVersion]:
        rows = await self.fetch(_VERSION.format("") + " ORDER BY number DESC LIMIT ?", (limit,))
        return [SiteVersion(*row) for row in rows]

    async def add_draft(self, locations: str, author: str, source: str, base: int) -> Draft:
        draft = Draft(new_id() + new_id(), utc_now(), author, source, locations, base)
        await self.execute("DELETE FROM site_drafts WHERE created_at < ?", (utc_in(-DRAFT_DAYS * 86400),))
        await self.execute("INSERT INTO site_drafts (id, created_at, author, source, locations, base) "
                           "VALUES (?, ?, ?, ?, ?, ?)", (draft.id, draft.created_at, author, source, locations, base))
        return draft

    async def get_draft(self, draft_id: str) -> Draft | None:
        rows = await self.fetch("SELECT id, created_at, author, source, locations, base FROM site_drafts WHERE id = ?",
                                (draft_id,))
        return Draft(*rows[0]) if rows else None

    async def delete_draft(self, draft_id: str) -> None:
        await self.execute("DELETE FROM site_drafts WHERE id = ?", (draft_id,))
