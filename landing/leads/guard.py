"""Spam guards: the signed form token, the honeypot, rate limits and the keyed hash of a client address.

Bots are answered like people (a 303 to the thank-you page) and their submissions kept, flagged, so a
guard that misfires loses nothing; only a person over a rate limit is told to slow down.
"""

from __future__ import annotations

import hmac
import ipaddress
import math
import secrets
import socket
import time
from array import array
from enum import Enum
from typing import Protocol

from itsdangerous import BadSignature, Signer, TimestampSigner

MIN_SECONDS = 3.0  # faster than this, nobody has read the page and typed their details
MAX_SECONDS = 24 * 60 * 60
WEEK_SECONDS = 7 * 24 * 60 * 60
BUILD_PREFIX = "build."  # a static build's token: "build.<valid until, Unix time>.<signature>"
CHECKED_TOKENS = 4096  # signatures remembered as checked: a day of live tokens is at most 86,400 of them
# Spam is kept, flagged, in case a guard misfired on a person, but within its own budget (never the leads'),
# so that a flood neither crowds out patients nor fills the disk: at most this many spam posts are stored per
# address in 10 minutes and from everyone together in an hour (a spam row is at most ~9 KB: ~22 MB a day).
SPAM_KEPT_PER_ADDRESS = 5
SPAM_KEPT_PER_HOUR = 100


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


_IPV4_MAPPED = bytes(10) + b"\xff\xff"


def limit_address(address: str) -> str:
    """The part of a client address that stands for one client: an IPv6 address's /64 (one subscriber's or
    one server's whole allocation, which it can spread requests over at will), an IPv4 address (also when
    written IPv4-mapped, ::ffff:a.b.c.d) as it is, and anything unparseable as it came."""
    if ":" not in address:
        return address  # IPv4, or not an address at all
    try:
        packed = socket.inet_pton(socket.AF_INET6, address)  # the C parser: ipaddress's costs 20 times more
    except OSError:
        try:
            packed = ipaddress.IPv6Address(address).packed  # what inet_pton refuses, e.g. a zone: fe80::1%eth0
        except ValueError:
            return address
    if packed[:12] == _IPV4_MAPPED:
        return socket.inet_ntop(socket.AF_INET, packed[12:])
    return f"{packed[:8].hex()}/64"


def client_hash(secret: str, address: str) -> str:
    """A keyed hash of a client's address (its /64 for IPv6): enough to group abuse and key the rate limits,
    useless for finding the person."""
    # hmac.digest: the same HMAC, computed in one call to OpenSSL rather than through an HMAC object.
    return hmac.digest(secret.encode(), f"client:{limit_address(address)}".encode(), "sha256").hex()[:32]


class RateLimits(Protocol):
    """A family of sliding-window budgets for one kind of request: a per-client one and a global one.

    ``allow`` counts the request against both and says True, or, when either budget is spent, counts it
    against neither and says False: a refused request costs nothing, so a flood refused by the global
    budget cannot use up the per-client budget of the addresses it names, and the other way round.
    Implemented in this process's memory (Guards) and in Redis, shared by instances (RedisGuards); one
    contract test suite runs against both (tests/test_rate_limits.py).
    """

    async def allow(self, client: str, now: float | None = None) -> bool: ...

    async def close(self) -> None: ...


_EMPTY = 0  # a free slot of RateLimit's table; no key's fingerprint is 0
_NOT_PROBED = ("", 0, 0)
_MIN_SLOTS = 16


def _fingerprint(key: str) -> int:
    # str's own hash: 64 bits, cached on the string, keyed per process (SipHash), so nobody can choose keys
    # that collide; the table never leaves this process.
    return hash(key) & 0xFFFF_FFFF_FFFF_FFFF or 1


class RateLimit:
    """At most ``limit`` events per key in any ``window`` seconds: an exact sliding window, kept compact.

    One window for every key means events leave it in the order they entered it, so they are kept in one
    time-ordered log (two flat arrays: when, whose), and a key holds only its count, in an open-addressing
    table of two flat arrays (the key's 64-bit fingerprint, its count; linear probing, deletion by backward
    shift). A key costs about 50 bytes (a deque per key cost about 820), 100,000 addresses about 5 MB, and
    every operation is O(1) amortized whatever the number of keys (benchmarks/limits.py).
    Times must not go backwards; one that does is taken as the latest time seen.
    """

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._times = array("d")  # the log: when each counted event happened, oldest first from _head
        self._owners = array("Q")  # ... and whose key it was (fingerprint)
        self._head = 0
        self._latest = -math.inf
        self._keys = array("Q", bytes(8 * _MIN_SLOTS))
        self._counts = array("I", bytes(4 * _MIN_SLOTS))
        self._used = 0
        self._probed = _NOT_PROBED  # (key, fingerprint, slot) of the last room(), for the charge() after it

    def __len__(self) -> int:
        """How many keys have events in the window (as of the last call)."""
        return self._used

    @property
    def nbytes(self) -> int:
        """The memory its arrays hold: what grows with the number of keys and events."""
        return sum(len(a) * a.itemsize for a in (self._times, self._owners, self._keys, self._counts))

    def hit(self, key: str, now: float | None = None) -> bool:
        """Count an event; False when the key is over its limit (the event is then not counted)."""
        now = time.monotonic() if now is None else now
        if not self.room(key, now):
            return False
        self.charge(key, now)
        return True

    def room(self, key: str, now: float) -> bool:
        """Whether one more event of ``key`` at ``now`` fits (counts nothing)."""
        self._expire(now)
        fingerprint = _fingerprint(key)
        slot = self._probe(fingerprint)
        self._probed = (key, fingerprint, slot)  # charge() right after needs not probe again
        return self._keys[slot] == _EMPTY or self._counts[slot] < self.limit

    def charge(self, key: str, now: float) -> None:
        """Count an event of ``key`` at ``now`` (call room() first: this does not check the limit)."""
        probed_key, fingerprint, slot = self._probed
        self._probed = _NOT_PROBED
        if probed_key != key:
            fingerprint = _fingerprint(key)
            slot = self._probe(fingerprint)
        if now > self._latest:
            self._latest = now
        self._times.append(self._latest)
        self._owners.append(fingerprint)
        keys = self._keys
        if keys[slot] == fingerprint:
            self._counts[slot] += 1
            return
        if (self._used + 1) * 5 > len(keys) * 3:  # keep the table at most 60% full
            self._resize(len(keys) * 2)
            slot = self._probe(fingerprint)
        self._keys[slot] = fingerprint
        self._counts[slot] = 1
        self._used += 1

    def _probe(self, fingerprint: int) -> int:
        """The slot holding ``fingerprint``, else the free slot where it would go."""
        keys, mask = self._keys, len(self._keys) - 1
        slot = fingerprint & mask
        while (found := keys[slot]) != fingerprint and found != _EMPTY:
            slot = (slot + 1) & mask
        return slot

    def _expire(self, now: float) -> None:
        """Forget the events that have left the window: an event at t counts until t + window, exclusive."""
        times, head, edge = self._times, self._head, now - self.window
        end = len(times)
        if head == end or times[head] > edge:
            return
        while head < end and times[head] <= edge:
            slot = self._probe(self._owners[head])
            self._counts[slot] -= 1
            if self._counts[slot] == 0:
                self._delete(slot)
            head += 1
        if head * 2 >= end:  # drop the spent half of the log: amortized O(1) per event
            del times[:head]
            del self._owners[:head]
            head = 0
        self._head = head
        if self._used * 16 < len(self._keys) and len(self._keys) > _MIN_SLOTS:  # a flood has passed: give back
            slots = _MIN_SLOTS
            while slots < self._used * 4:
                slots *= 2
            self._resize(slots)

    def _delete(self, slot: int) -> None:
        """Empty a slot, moving later entries of its probe run back so that every key stays findable."""
        keys, counts, mask = self._keys, self._counts, len(self._keys) - 1
        gap, probe = slot, slot
        while True:
            probe = (probe + 1) & mask
            fingerprint = keys[probe]
            if fingerprint == _EMPTY:
                break
            home = fingerprint & mask
            # The entry at probe may move into the gap unless its home lies cyclically in (gap, probe].
            if (gap < probe and gap < home <= probe) or (gap > probe and (home > gap or home <= probe)):
                continue
            keys[gap], counts[gap] = fingerprint, counts[probe]
            gap = probe
        keys[gap], counts[gap] = _EMPTY, 0
        self._used -= 1

    def _resize(self, slots: int) -> None:
        old = [(k, c) for k, c in zip(self._keys, self._counts) if k != _EMPTY]
        self._keys = array("Q", bytes(8 * slots))
        self._counts = array("I", bytes(4 * slots))
        for fingerprint, count in old:
            slot = self._probe(fingerprint)
            self._keys[slot], self._counts[slot] = fingerprint, count


class Guards:
    """A per-client and a global budget, kept in this process's memory (a RateLimits)."""

    def __init__(self, per_address: int = 5, per_address_window: float = 600.0, global_burst: int = 300,
                 global_window: float = 60.0) -> None:
        self.per_address = RateLimit(per_address, per_address_window)
        self.global_budget = RateLimit(global_burst, global_window)

    async def allow(self, client: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        # Both checked before either is charged (no await in between: nothing else runs meanwhile).
        if not (self.per_address.room(client, now) and self.global_budget.room("*", now)):
            return False
        self.per_address.charge(client, now)
        self.global_budget.charge("*", now)
        return True

    async def close(self) -> None:
        pass


# Sliding windows, one sorted set per key, checked and counted atomically inside Redis in one call:
# KEYS are the windows; ARGV is now, member, then (window, limit) per key. 1 when every window has room;
# 0, and nothing counted, when any is full. An event at t counts until t + window, exclusive, as in memory.
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
    """The same budgets shared by every instance through Redis (LANDING_REDIS_URL), a RateLimits."""

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


def rate_limits(redis_url: str | None, prefix: str, per_address: int, per_address_window: float, global_burst: int,
                global_window: float) -> RateLimits:
    """A pair of budgets in Redis when a URL is given (shared by instances), else in this process's memory."""
    if redis_url:
        return RedisGuards(redis_url, per_address, per_address_window, global_burst, global_window, prefix=prefix)
    return Guards(per_address, per_address_window, global_burst, global_window)


def lead_limits(redis_url: str | None, per_address: int, per_minute: int) -> RateLimits:
    """What a person's lead spends: LANDING_LEADS_PER_ADDRESS per 10 minutes, LANDING_LEADS_PER_MINUTE in all."""
    return rate_limits(redis_url, "landing:leads:", per_address, 600.0, per_minute, 60.0)


def spam_limits(redis_url: str | None) -> RateLimits:
    """What a stored spam post spends: its own budget (SPAM_KEPT_PER_ADDRESS, SPAM_KEPT_PER_HOUR)."""
    return rate_limits(redis_url, "landing:spam:", SPAM_KEPT_PER_ADDRESS, 600.0, SPAM_KEPT_PER_HOUR, 3600.0)
