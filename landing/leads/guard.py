"""Spam guards: the signed form token, the honeypot, rate limits and the keyed hash of a client address.

Bots are answered like people (a 303 to the thank-you page) and their submissions kept, flagged, so a
guard that misfires loses nothing; only a person over a rate limit is told to slow down.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from collections import deque
from dataclasses import dataclass
from enum import Enum

from itsdangerous import BadSignature, Signer, TimestampSigner

MIN_SECONDS = 3.0  # faster than this, nobody has read the page and typed their details
MAX_SECONDS = 24 * 60 * 60
WEEK_SECONDS = 7 * 24 * 60 * 60
BUILD_PREFIX = "build."  # a static build's token: "build.<valid until, Unix time>.<signature>"
CHECKED_TOKENS = 4096  # signatures remembered as checked: a day of live tokens is at most 86,400 of them


class TokenVerdict(Enum):
    OK = "ok"
    MISSING = "token missing"
    FORGED = "token signature invalid"
    TOO_FAST = "submitted less than 3 seconds after the form was served"
    EXPIRED = "form older than a day"
    BUILD_EXPIRED = "static page's form past its expiry"


class FormTokens:
    """Tokens carrying the time the form was served, signed so they cannot be made up."""

    def __init__(self, secret: str) -> None:
        self.signer = TimestampSigner(secret, salt="landing.lead-form")
        # Static pages (landing build) carry a token signed at build time. Its own salt: neither kind of
        # token can pass for the other.
        self.build_signer = Signer(secret, salt="landing.lead-form.build")
        self._second = -1
        self._token = b""
        # token -> the time it carries. Whether a token is genuine never changes, and every form served in
        # the same second (every static page of a build) carries the same one: its HMAC is checked once.
        self._checked: dict[str, float] = {}

    def issue(self) -> bytes:
        """A token for a form served now. Reused within the same second: signing costs more than serving a page."""
        second = int(time.time())
        if second != self._second:
            self._token, self._second = self.signer.sign(b"lead"), second
        return self._token

    def issue_build(self, days: int, now: float | None = None) -> bytes:
        """The token of every form of a static build made ``now``, accepted for at least ``days`` days.

        A page built in advance cannot say when it was opened, so this token carries only an expiry,
        rounded up to the end of a week: builds in the same week carry the same token, and a rebuild
        rewrites only the pages whose content changed.
        """
        now = time.time() if now is None else now
        until = math.ceil((now + days * 24 * 60 * 60) / WEEK_SECONDS) * WEEK_SECONDS
        return self.build_signer.sign(f"{BUILD_PREFIX}{until}".encode())

    def verify(self, token: str, now: float | None = None) -> TokenVerdict:
        if not token:
            return TokenVerdict.MISSING
        when = self._checked.get(token)
        if when is None:
            when = self._signed_time(token)
            if when is None:
                return TokenVerdict.FORGED
            if len(self._checked) >= CHECKED_TOKENS:
                self._checked.clear()
            self._checked[token] = when
        now = time.time() if now is None else now
        if token.startswith(BUILD_PREFIX):
            # A static build's token cannot tell how long the form was open (no 3-second check), so the
            # honeypot and the rate limits carry more of the load.
            return TokenVerdict.BUILD_EXPIRED if now > when else TokenVerdict.OK
        age = now - when
        if age > MAX_SECONDS or age < 0:
            return TokenVerdict.EXPIRED
        if age < MIN_SECONDS:
            return TokenVerdict.TOO_FAST
        return TokenVerdict.OK

    def _signed_time(self, token: str) -> float | None:
        """When a live token was issued, or until when a build's token is valid; None if we did not sign it."""
        try:
            if token.startswith(BUILD_PREFIX):
                return int(self.build_signer.unsign(token).decode().removeprefix(BUILD_PREFIX))
            return self.signer.unsign(token, return_timestamp=True)[1].timestamp()
        except (BadSignature, ValueError):  # ValueError: a build's expiry that is not a number
            return None


def client_hash(secret: str, address: str) -> str:
    """A keyed hash of a client address: enough to group abuse, useless for finding the person."""
    return hmac.new(secret.encode(), f"client:{address}".encode(), hashlib.sha256).hexdigest()[:32]


@dataclass
class RateLimit:
    """At most ``limit`` events per key in any ``window`` seconds (a sliding window, kept in memory)."""

    limit: int
    window: float

    def __post_init__(self) -> None:
        self.events: dict[str, deque[float]] = {}

    def hit(self, key: str, now: float | None = None) -> bool:
        """Count an event; False when the key is over its limit (the event is then not counted)."""
        now = time.monotonic() if now is None else now
        events = self.events.setdefault(key, deque())
        while events and events[0] <= now - self.window:
            events.popleft()
        if len(events) >= self.limit:
            return False
        events.append(now)
        if len(self.events) > 100_000:  # forget idle keys so memory stays bounded under a flood
            self.events = {k: v for k, v in self.events.items() if v and v[-1] > now - self.window}
        return True


class Guards:
    """Per-address and global budgets for lead submissions, kept in this process's memory."""

    def __init__(self, per_address: int = 5, per_address_window: float = 600.0, global_burst: int = 300,
                 global_window: float = 60.0) -> None:
        self.per_address = RateLimit(per_address, per_address_window)
        self.global_budget = RateLimit(global_burst, global_window)

    async def allow(self, client: str, now: float | None = None) -> bool:
        return self.per_address.hit(client, now) and self.global_budget.hit("*", now)

    async def close(self) -> None:
        pass


# Sliding windows, one sorted set per key, checked and counted atomically inside Redis in one call:
# KEYS are the windows; ARGV is now, member, then (window, limit) per key. 1 when every window has room.
_SLIDING_WINDOWS = """
local now, member = tonumber(ARGV[1]), ARGV[2]
for i, key in ipairs(KEYS) do
  local window, limit = tonumber(ARGV[1 + 2 * i]), tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', key, 0, now - window)
  if redis.call('ZCARD', key) >= limit then return 0 end
end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, math.ceil(tonumber(ARGV[1 + 2 * i]) * 1000))
end
return 1
"""


class RedisGuards:
    """The same budgets shared by every instance through Redis (LANDING_REDIS_URL)."""

    def __init__(self, url: str, per_address: int = 5, per_address_window: float = 600.0, global_burst: int = 300,
                 global_window: float = 60.0, prefix: str = "landing:leads:") -> None:
        import redis.asyncio as redis

        self.redis = redis.from_url(url)
        self.script = self.redis.register_script(_SLIDING_WINDOWS)
        self.windows = [per_address_window, per_address, global_window, global_burst]
        self.prefix = prefix

    async def allow(self, client: str, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        keys = [f"{self.prefix}address:{client}", f"{self.prefix}all"]
        member = f"{now:.6f}:{secrets.token_hex(4)}"
        return bool(await self.script(keys=keys, args=[now, member, *self.windows]))

    async def close(self) -> None:
        await self.redis.aclose()
