"""What every store's shared SQL is written over: three primitives each store (SQLite, PostgreSQL) implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class Primitives:
    # How a claim locks the rows it takes (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite has one writer).
    claim_lock = ""

    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Run one write in its own transaction; the number of rows it changed."""
        raise NotImplementedError

    async def execute_returning(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError
