"""Rate limiter benchmark for `landing`: what the in-memory lead limiter costs with many addresses at once.

What it measures, in this process (no server, no Redis):

1. memory: a per-address budget (5 per 10 minutes, `landing.leads.guard.RateLimit`) charged once by each
   of N distinct addresses (default 100,000) within the window, as traced by tracemalloc (everything the
   limiter allocates, Python objects included), beside the same for the deque-per-key limiter it replaced
   (copied below as `DequePerKey`, the baseline). Target: a few MB (<= 5 MB) at 100,000 addresses.
2. time per call: `Guards.allow` (per-address + global budget, both checked before either is charged) for
   each of the N addresses, in microseconds per call, from an empty limiter and again once it holds N
   addresses; then 5 calls each for 2,000 addresses already counted (repeat visitors); and while old
   events leave the window (a second wave of N addresses one window later). Beside each: the baseline's.
   Target: no slower per call with N addresses than with a few.
3. the cost of the key: `client_hash` (keyed hash of the address, an IPv6 one cut to its /64), per call.

It prints figures and never fails on them. Run from the project root:

    .venv/bin/python benchmarks/limits.py                 # 100,000 addresses
    .venv/bin/python benchmarks/limits.py --addresses 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import time
import tracemalloc
from collections import deque
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python benchmarks/limits.py` puts benchmarks/, not the root, on the path

from benchmarks._common import busy_cores, figure, heading
from landing.leads.guard import Guards, RateLimit, client_hash

MEMORY_TARGET_MB = 5.0
PER_ADDRESS, WINDOW = 5, 600.0


class DequePerKey:
    """The limiter RateLimit replaced (a deque of times per key), kept here as the baseline."""

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
        if len(self.events) > 100_000:  # forget idle keys so memory stays bounded under a flood
            self.events = {k: v for k, v in self.events.items() if v and v[-1] > now - self.window}
        return True


class DequeGuards:
    """The Guards that used DequePerKey (it charged the per-address budget even when the global one refused)."""

    def __init__(self, per_address: int, per_address_window: float, global_burst: int, global_window: float) -> None:
        self.per_address = DequePerKey(per_address, per_address_window)
        self.global_budget = DequePerKey(global_burst, global_window)

    async def allow(self, client: str, now: float) -> bool:
        return self.per_address.hit(client, now) and self.global_budget.hit("*", now)


def addresses(count: int, wave: int = 0) -> list[str]:
    """``count`` distinct keys as the limiter sees them: keyed hashes of IPv6 addresses in distinct /64s."""
    return [client_hash("bench", f"2001:{0xdb8 + wave:x}:{n >> 16:x}:{n & 0xFFFF:x}::1") for n in range(count)]


def traced_mb(build: Callable[[], object]) -> float:
    """MB allocated (and still held) by what ``build`` makes, as tracemalloc sees it."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = build()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del kept
    return (after - before) / 1e6


def per_call_us(calls: int, action: Callable[[], None]) -> float:
    gc.collect()
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) / calls * 1e6


def report_memory(keys: list[str]) -> None:
    heading(f"Memory: {len(keys):,} distinct addresses, one event each, within one window")

    def compact() -> RateLimit:
        limit = RateLimit(PER_ADDRESS, WINDOW)
        for n, key in enumerate(keys):
            limit.hit(key, now=n * 1e-3)
        return limit

    def baseline() -> DequePerKey:
        limit = DequePerKey(PER_ADDRESS, WINDOW)
        for n, key in enumerate(keys):
            limit.hit(key, now=n * 1e-3)
        return limit

    mb = traced_mb(compact)
    figure("RateLimit (log + flat table)", f"{mb:.2f} MB", f"target <= {MEMORY_TARGET_MB:g} MB", mb <= MEMORY_TARGET_MB)
    figure("  per address", f"{mb * 1e6 / len(keys):.0f} bytes")
    old = traced_mb(baseline)
    figure("baseline: a deque per key", f"{old:.2f} MB")
    figure("  per address", f"{old * 1e6 / len(keys):.0f} bytes")


def report_time(keys: list[str]) -> None:
    heading("Time per call: allow() of the per-address + global budgets, with the baseline's (deque per key)")
    print(f"  cores busy before the runs (other work): {busy_cores():.2f} of {os.cpu_count()}", flush=True)
    count = len(keys)
    limits = {"per_address": PER_ADDRESS, "per_address_window": WINDOW, "global_burst": 10**9, "global_window": 60.0}
    loop = asyncio.new_event_loop()
    few, rest = keys[:1000], keys[1000:]
    repeat = [key for key in keys[:2000] for _ in range(5)]
    wave = addresses(count, wave=1)
    for name, guards in (("Guards", Guards(**limits)), ("baseline", DequeGuards(**limits))):  # type: ignore[arg-type]
        clock = [0.0]

        def run(batch: list[str], guards: Guards | DequeGuards = guards, clock: list[float] = clock) -> None:
            async def calls() -> None:
                for key in batch:
                    clock[0] += 1e-3
                    await guards.allow(key, now=clock[0])
            loop.run_until_complete(calls())

        first = per_call_us(len(few), lambda: run(few))
        figure(f"{name}: first 1,000 addresses (empty)", f"{first:.1f} us")
        figure(f"{name}: next {len(rest):,} addresses", f"{per_call_us(len(rest), lambda: run(rest)):.1f} us",
               "target: about the same")
        figure(f"{name}: 5 calls each, 2,000 counted addresses", f"{per_call_us(len(repeat), lambda: run(repeat)):.1f} us")
        clock[0] += WINDOW  # everything above leaves the window while a new wave arrives
        figure(f"{name}: new wave of {count:,} as the old expire", f"{per_call_us(count, lambda: run(wave)):.1f} us")
    loop.close()


def report_key_cost() -> None:
    heading("The key: client_hash (IPv6 cut to its /64, then HMAC)")
    figure("IPv4 address", f"{per_call_us(10_000, lambda: [client_hash('s', '203.0.113.7') for _ in range(10_000)]) :.1f} us")
    figure("IPv6 address", f"{per_call_us(10_000, lambda: [client_hash('s', '2001:db8::1') for _ in range(10_000)]):.1f} us")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--addresses", type=int, default=100_000, help="distinct addresses (default 100000)")
    args = parser.parse_args()
    keys = addresses(args.addresses)
    report_memory(keys)
    report_time(keys)
    report_key_cost()
    return 0


if __name__ == "__main__":
    sys.exit(main())
