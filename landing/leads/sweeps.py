"""Background sweeps of the lead store (reminders, webhooks): one piece of work every few seconds, for as long
as the app runs, surviving a database that is down and a bug in the work alike."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from landing.leads.store import StoreError

log = logging.getLogger("landing.sweeps")


def stop_if_cancelled() -> None:
    """Stop when this task is being cancelled, even if an await dropped the cancellation (Python 3.11's
    asyncio.wait_for does when what it waits for finishes at that moment)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def sweep_forever(name: str, work: Callable[[], Awaitable[int]], wake: Callable[[], None],
                        seconds: float) -> None:
    """Run ``work`` at once and then every ``seconds``; when it put anything in the outbox (a count above 0),
    ``wake`` the notifier so that it goes out now rather than at its next poll."""
    while True:
        stop_if_cancelled()
        try:
            if await work():
                wake()
        except StoreError as exc:
            log.warning("%s: %s; trying again in %.0f s", name, exc, seconds)
        except Exception:  # a bug: its traceback, but the sweeps go on
            log.exception("%s failed; trying again in %.0f s", name, seconds)
        await asyncio.sleep(seconds)
