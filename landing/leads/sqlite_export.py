"""The SQLite store's CSV export: one read transaction, read and formatted in a thread of its own.

The stdlib driver on a read-only connection, in one worker thread, with no hop to the event loop per
page: the event loop only passes finished pieces of the file on (to a socket or a file) while the thread
makes the next ones. A single SELECT is a single read transaction, so WAL gives it a consistent snapshot:
no keyset pages are needed, and leads that arrive meanwhile are not in the file. (While an export runs,
SQLite cannot checkpoint the WAL past that snapshot, so a slow download lets the WAL grow for a while.)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import contextlib
import sqlite3
import threading
from collections.abc import AsyncGenerator, Callable, Generator
from pathlib import Path
from typing import Any, TypeVar

from landing.leads.export import EXPORT_BLOCK, csv_pieces, export_query
from landing.leads.model import LeadFilter

T = TypeVar("T")
THREAD_NAME = "lead-export"
_IN_FLIGHT = 4  # pieces made ahead of the consumer: enough to keep the thread busy, little memory


async def export_csv(path: Path, lead_filter: LeadFilter, counter: list[int] | None = None,
                     zone: dt.tzinfo = dt.timezone.utc) -> AsyncGenerator[bytes, None]:
    """The export file of the database at ``path`` in pieces; ``counter[0]`` counts the rows handed out."""
    def produce() -> Generator[tuple[bytes, int], None, None]:
        # Closed here, in the thread that opened its connection, however the export ends.
        with contextlib.closing(_blocks(path, lead_filter)) as blocks:
            yield from csv_pieces(blocks, zone)

    pieces = in_thread(produce)
    async with contextlib.aclosing(pieces):  # closed early (the client went away): the thread stops too
        async for data, rows in pieces:
            if counter is not None:
                counter[0] += rows
            yield data


def _blocks(path: Path, lead_filter: LeadFilter) -> Generator[list[tuple[Any, ...]], None, None]:
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    try:
        cursor = db.execute(*export_query(lead_filter))
        while rows := cursor.fetchmany(EXPORT_BLOCK):
            yield rows
    finally:
        db.close()


async def in_thread(produce: Callable[[], Generator[T, None, None]]) -> AsyncGenerator[T, None]:
    """The items of ``produce()``, run in a new thread, at most _IN_FLIGHT of them ahead of the consumer.

    The thread waits while that many are waiting, so a slow consumer (a slow client) slows it down and
    memory stays flat. Closing this generator early (the client went away) stops the thread.
    """
    loop = asyncio.get_running_loop()
    messages: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()  # ("item", x) ..., then ("end"|"error", ...)
    room = threading.Semaphore(_IN_FLIGHT)
    stop = threading.Event()

    def run() -> None:
        last: tuple[str, Any] = ("end", None)
        try:
            with contextlib.closing(produce()) as items:  # its finally blocks run here, in this thread
                for item in items:
                    room.acquire()
                    if stop.is_set():
                        break
                    loop.call_soon_threadsafe(messages.put_nowait, ("item", item))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, who raises it
            last = ("error", exc)
        with contextlib.suppress(RuntimeError):  # the event loop is closed: nobody is listening any more
            loop.call_soon_threadsafe(messages.put_nowait, last)

    threading.Thread(target=run, name=THREAD_NAME, daemon=True).start()
    try:
        while (message := await messages.get())[0] == "item":
            room.release()
            yield message[1]
        kind, value = message
        if kind == "error":
            raise value
    finally:
        # Not awaited: this may run in a cancelled task (a client that went away), where every await
        # would be cancelled too. The thread ends on its own before it makes another item.
        stop.set()
        room.release()  # in case it waits for room
