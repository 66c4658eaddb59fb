"""How long the lead stores may wait on their database, and the deadline a lead is stored by.

Every part that can hang has a limit: a database that stops answering without closing the connection (a
network partition, a stuck server, a table lock) must cost a visitor a few seconds and a "please call
us", never a minute, and must never keep the notification worker or a shutdown waiting for good.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class StoreTimeouts:
    """Seconds; LANDING_LEAD_TIMEOUT and LANDING_DATABASE_*_TIMEOUT (settings.py says what each means)."""

    lead: float = 5.0
    connect: float = 5.0
    command: float = 10.0
    statement: float = 5.0  # PostgreSQL's own statement_timeout; 0: none


# For the commands an operator runs (`landing leads export`, `purge`, `users add`): generous, since a purge of a large
# database may take minutes and a person can interrupt it; the service uses the settings' limits.
OPERATOR_TIMEOUTS = StoreTimeouts(lead=60.0, connect=10.0, command=3600.0, statement=0.0)


@dataclass(frozen=True)
class Deadline:
    """A moment on the wall clock (for the database, which checks it itself) and on the monotonic clock (for us)."""

    wall: float
    monotonic: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.time() + seconds, time.monotonic() + seconds)

    def remaining(self) -> float:
        return self.monotonic - time.monotonic()

    def passed(self) -> bool:
        return self.remaining() <= 0
