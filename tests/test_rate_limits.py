"""The lead rate limits: one contract, run against every implementation (in memory, and in the Redis server on
this machine), and the compact sliding window the memory one keeps."""

from __future__ import annotations

import os
import random
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from landing.leads.guard import Guards, RateLimit, RateLimits, RedisGuards, client_hash, limit_address
from tests.leads_helpers import SECRET
from tests.parts import need

REDIS_URL = os.environ.get("LANDING_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

MakeLimits = Callable[..., Awaitable[RateLimits]]


async def redis_or_skip() -> None:
    redis = pytest.importorskip("redis.asyncio")
    probe = redis.from_url(REDIS_URL)
    try:
        await probe.ping()
    except Exception as exc:  # noqa: BLE001 - any failure to reach it means it is not there
        need(f"no Redis at {REDIS_URL} ({type(exc).__name__}); set LANDING_TEST_REDIS_URL")
    finally:
        await probe.aclose()


@pytest.fixture(params=["memory", "redis"])
async def make_limits(request: pytest.FixtureRequest) -> AsyncIterator[MakeLimits]:
    """make_limits(**budgets): limits kept in memory, or shared through Redis; those made in one test with
    Redis share their counts, as instances do."""
    made: list[RateLimits] = []
    prefix = f"test:{uuid.uuid4().hex}:"

    async def make(**budgets: float) -> RateLimits:
        limits: RateLimits
        if request.param == "memory":
            limits = Guards(**budgets)  # type: ignore[arg-type]
        else:
            await redis_or_skip()
            limits = RedisGuards(REDIS_URL, prefix=prefix, **budgets)  # type: ignore[arg-type]
        made.append(limits)
        return limits

    yield make
    for limits in made:
        await limits.close()


# -- the contract: every implementation -------------------------------------------------------------


async def test_the_global_budget_stops_a_flood_from_many_addresses(make_limits: MakeLimits) -> None:
    limits = await make_limits(per_address=5, global_burst=10, global_window=60)
    assert [await limits.allow(f"client-{n}", now=1000) for n in range(10)] == [True] * 10
    assert not await limits.allow("client-new", now=1001)
    assert await limits.allow("client-new", now=1060.5)  # the first ten have left the global window


async def test_the_per_address_budget_slides(make_limits: MakeLimits) -> None:
    limits = await make_limits(per_address=5, per_address_window=600)
    assert [await limits.allow("a", now=1000 + n) for n in range(5)] == [True] * 5
    assert not await limits.allow("a", now=1005)
    assert await limits.allow("b", now=1005)  # other addresses are not affected
    assert not await limits.allow("a", now=1599.9)
    assert await limits.allow("a", now=1600)  # an event at t counts until t + window, exclusive
    assert not await limits.allow("a", now=1600.5)  # ... and the one at 1001 still counts


async def test_a_request_the_global_budget_refuses_costs_its_address_nothing(make_limits: MakeLimits) -> None:
    limits = await make_limits(per_address=2, per_address_window=600, global_burst=1, global_window=60)
    assert await limits.allow("someone-else", now=1000)  # the global budget is now spent for a minute
    assert [await limits.allow("patient", now=1000 + n) for n in range(20)] == [False] * 20
    # Twenty refusals later, the patient still has both of their two requests.
    assert await limits.allow("patient", now=1061)
    assert await limits.allow("patient", now=1122)
    assert not await limits.allow("patient", now=1183)


async def test_a_request_its_address_budget_refuses_costs_the_global_budget_nothing(make_limits: MakeLimits) -> None:
    limits = await make_limits(per_address=1, per_address_window=600, global_burst=3, global_window=60)
    assert await limits.allow("flooder", now=1000)
    assert [await limits.allow("flooder", now=1000) for _ in range(50)] == [False] * 50
    assert [await limits.allow(name, now=1001) for name in ("a", "b", "c")] == [True, True, False]


async def test_instances_sharing_a_store_share_the_budgets(make_limits: MakeLimits) -> None:
    first = await make_limits(per_address=3, global_burst=100)
    second = await make_limits(per_address=3, global_burst=100)
    assert [await first.allow("a", now=1000 + n) for n in range(3)] == [True] * 3
    if isinstance(first, RedisGuards):
        assert not await second.allow("a", now=1004)  # another instance sees the same three
    else:
        assert await second.allow("a", now=1004)  # memory is this process's own: documented in the README


def reference(trace: list[tuple[str, float]], per_address: int, per_address_window: float, global_burst: int,
              global_window: float) -> list[bool]:
    """What the contract says, in the plainest code: every allowed event in a list, nothing else counted."""
    allowed: list[tuple[str, float]] = []
    answers = []
    for client, now in trace:
        mine = sum(1 for who, when in allowed if who == client and when > now - per_address_window)
        everyone = sum(1 for _, when in allowed if when > now - global_window)
        ok = mine < per_address and everyone < global_burst
        if ok:
            allowed.append((client, now))
        answers.append(ok)
    return answers


@pytest.mark.parametrize("seed", range(4))
async def test_every_implementation_answers_a_random_trace_as_the_contract_says(make_limits: MakeLimits, seed: int) -> None:
    rng = random.Random(seed)
    budgets = {"per_address": rng.randint(1, 4), "per_address_window": rng.choice([5.0, 30.0]),
               "global_burst": rng.randint(3, 12), "global_window": rng.choice([2.0, 10.0])}
    now, trace = 1000.0, []
    for _ in range(400):
        now += rng.choice([0.0, 0.05, 0.3, 1.0, 4.0]) * rng.random()
        trace.append((f"client-{rng.randrange(rng.choice([3, 40]))}", round(now, 3)))
    limits = await make_limits(**budgets)
    answers = [await limits.allow(client, now=when) for client, when in trace]
    assert answers == reference(trace, **budgets)  # type: ignore[arg-type]
    assert 0 < sum(answers) < len(answers)  # the trace exercised both answers


# -- the memory one: compact, and exactly a sliding window -------------------------------------------


class DequePerKey:
    """The sliding window as a deque of times per key: the memory limiter's earlier form, the reference."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self.events: dict[str, deque[float]] = {}

    def hit(self, key: str, now: float) -> bool:
        events = self.events.setdefault(key, deque())
        while events and events[0] <= now - self.window:
            events.popleft()
        if len(events) >= self.limit:
            return False
        events.append(now)
        return True


@pytest.mark.parametrize("seed", range(40))
def test_the_compact_window_agrees_with_a_deque_per_key(seed: int) -> None:
    rng = random.Random(seed)
    limit, window = rng.randint(1, 5), rng.choice([1.0, 5.0, 30.0])
    compact, plain = RateLimit(limit, window), DequePerKey(limit, window)
    keys = rng.choice([3, 60, 3000])  # few keys, and enough for the table to grow, and shrink as they expire
    now = 0.0
    for _ in range(4000):
        now += rng.choice([0.0, 0.01, 0.1, 1.0, 8.0]) * rng.random()
        key = f"k{rng.randrange(keys)}"
        assert compact.hit(key, now) == plain.hit(key, now), (key, now)
    live = {key for key, events in plain.events.items() if events and events[-1] > now - window}
    compact.room("probe", now)  # forgets what has left the window
    assert len(compact) == len(live)


def test_memory_follows_the_addresses_in_the_window_not_all_ever_seen() -> None:
    limit = RateLimit(5, 600)
    for n in range(20_000):
        limit.hit(f"address-{n}", now=n * 0.01)
    assert len(limit) == 20_000 and limit.nbytes < 20_000 * 64  # ~50 bytes an address, not a deque each
    limit.hit("latecomer", now=2000)  # all twenty thousand have left the window
    assert len(limit) == 1 and limit.nbytes < 4096


# -- the key --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("one", "other", "same"),
    [
        ("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", True),  # one /64: one client
        ("2001:db8:1:2::1", "2001:DB8:1:2:0:0:0:1", True),
        ("2001:db8:1:2::1", "2001:db8:1:3::1", False),  # the next /64
        ("::ffff:203.0.113.7", "203.0.113.7", True),  # IPv4-mapped is the IPv4 address
        ("203.0.113.7", "203.0.113.8", False),  # IPv4 counts per address
        ("fe80::1%eth0", "fe80::2", True),
    ],
)
def test_an_ipv6_client_counts_per_64(one: str, other: str, same: bool) -> None:
    assert (client_hash(SECRET, one) == client_hash(SECRET, other)) is same


@pytest.mark.parametrize("address", ["2001:db8:1:2::1", "203.0.113.7", "::ffff:203.0.113.7", "unknown", "", "1:2:3"])
def test_the_key_is_a_keyed_hash_never_the_address(address: str) -> None:
    hashed = client_hash(SECRET, address)
    assert len(hashed) == 32 and int(hashed, 16) >= 0
    assert hashed != client_hash("other-secret", address)
    for part in [address, limit_address(address), "2001:db8", "203.0.113"]:
        assert not part or part.replace(":", "").lower() not in hashed
