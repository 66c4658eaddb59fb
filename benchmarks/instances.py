"""Lead intake with PostgreSQL and two instances, beside one instance with SQLite: leads/s, CPU per lead, none lost.

What it measures, on the example site copied into a temporary folder (issue 7, point 5):

1. "PostgreSQL, two instances": a fresh schema ``bench_<random>`` is created in the `test` database on
   127.0.0.1:5432 and two real `landing serve` processes start on free loopback ports against it
   (LANDING_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test?search_path=bench_<random>, plus
   ``application_name=bench_<random>`` so that their PostgreSQL backends can be found in
   pg_stat_activity), with the same LANDING_SECRET_KEY, LANDING_REDIS_URL=redis://127.0.0.1:6379/0 (the
   rate limits are counted in Redis, as the README's Deployment section says several instances need),
   both limits raised to 1,000,000 and live reload off: what a load-balanced practice runs. Two wrk
   processes (-t1 -c16 each) drive them at the same time, one per instance, for the same duration; the
   rate is the sum of both.
2. "SQLite, one instance": one `landing serve` on a fresh SQLite file, driven by one wrk (-t1 -c32),
   set up as benchmarks/leads.py sets it up (and as one machine is deployed: no Redis, the limits are
   counted in memory).
3. wrk POSTs the same valid lead form as benchmarks/leads.py (its Lua script counts answers by status;
   accepted leads are the 303s). After every run the rows stored during it are counted (in the schema's
   `leads` table, or in the SQLite file) and compared with the 303s: fewer rows than 303s means
   acknowledged leads were lost; a few more rows than 303s are requests committed while wrk was stopping
   (at most one per wrk connection). Spam-flagged rows (must be 0) and outbox notices (one per lead)
   are counted too.
4. CPU time (user + system, from /proc) per stored lead: of the `landing serve` processes, and for
   PostgreSQL also with their database backends added (SQLite does its writing inside the server
   process; PostgreSQL's WAL writer and checkpointer, and Redis, are not counted). After each run the
   benchmark waits (at most 120 s) until the outbox holds no unsent notice, so that a notifier's backlog
   never spills into the next run, and reports the CPU "all in": from the start of the run until its
   notices were sent (SQLite's one notifier falls behind during a run, two PostgreSQL notifiers keep up).
   The machine's busy cores during each run are printed as well.

After a short warm-up of each, runs alternate: PostgreSQL pair, SQLite, PostgreSQL pair, SQLite, ...; the
median of each is reported with the ratio PostgreSQL/SQLite. On a machine with few cores (this one has
2) the two instances, PostgreSQL, Redis and the wrk processes all compete for the same CPUs, so the
comparison is CPU-bound: it says what one small machine does, not how far two real hosts would scale.
It prints figures and never fails on them. Only 127.0.0.1 is used; the servers are stopped, the wrk
processes killed and the schema dropped when it ends.

Run from the project root (needs `wrk` on PATH, PostgreSQL and Redis running as above):

    /work/venv/bin/python benchmarks/instances.py                  # 10-second wrk runs, 3 rounds
    /work/venv/bin/python benchmarks/instances.py --quick          # smoke run: 3-second runs, 2 rounds
    /work/venv/bin/python benchmarks/instances.py --seconds 20 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python benchmarks/instances.py` puts benchmarks/, not the root, on the path

from benchmarks._common import (busy_cores, cores_busy_between, cpu_seconds, figure, heading, machine_ticks,
                                stop_server, wait_ready)
from benchmarks.leads import (SECRET, WARMUP_SECONDS, Run, Server, Stored, copy_site, count_stored, landing_command,
                              landing_environment, lead_form, parse_wrk, settled, start_server, write_lua)

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"
REDIS_PREFIX = "landing:leads:"  # RedisGuards' default, which `landing serve` uses
PAIR_CONNECTIONS = 16  # per wrk, one wrk per PostgreSQL instance
SINGLE_CONNECTIONS = 32  # the one wrk on the SQLite instance
CONNECT_TIMEOUT_SECONDS = 10.0
QUERY_TIMEOUT_SECONDS = 60.0
WRK_GRACE_SECONDS = 60.0
DRAIN_TIMEOUT_SECONDS = 120.0
PG_PAIR = "PostgreSQL, two instances"
SQLITE_ONE = "SQLite, one instance"


# -- PostgreSQL ----------------------------------------------------------------------------------


def pg_fetch(sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Run one statement on the `test` database over a connection of its own (bounded waits)."""
    import asyncpg

    async def fetch() -> list[tuple[Any, ...]]:
        connection = await asyncpg.connect(POSTGRES_URL, timeout=CONNECT_TIMEOUT_SECONDS)
        try:
            return [tuple(row) for row in await connection.fetch(sql, *args, timeout=QUERY_TIMEOUT_SECONDS)]
        finally:
            await connection.close(timeout=CONNECT_TIMEOUT_SECONDS)

    return asyncio.run(fetch())


def instance_dsn(schema: str) -> str:
    return f"{POSTGRES_URL}?search_path={schema}&application_name={schema}"


@contextmanager
def fresh_schema() -> Iterator[str]:
    """A new, empty schema in `test`, dropped (with everything in it) at the end."""
    schema = f"bench_{secrets.token_hex(4)}"  # our own name: safe to put in SQL as it is
    pg_fetch(f"CREATE SCHEMA {schema}")
    try:
        yield schema
    finally:
        pg_fetch(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def count_postgres(schema: str) -> Stored:
    """Committed rows in the schema, read over a separate connection."""
    (row,) = pg_fetch(f"SELECT (SELECT count(*) FROM {schema}.leads), "
                      f"(SELECT count(*) FROM {schema}.leads WHERE spam <> 0), "
                      f"(SELECT count(*) FROM {schema}.outbox), "
                      f"(SELECT count(*) FROM {schema}.outbox WHERE sent_at IS NULL)")
    return Stored(*(int(value) for value in row))


def backend_cpu(schema: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving the instances (by their application_name)."""
    pids = [row[0] for row in pg_fetch("SELECT pid FROM pg_stat_activity WHERE application_name = $1", schema)]
    found: dict[int, float] = {}
    for pid in pids:
        try:
            found[pid] = cpu_seconds(pid)
        except OSError:  # gone meanwhile, or PostgreSQL runs where /proc cannot see it
            pass
    return found


def cpu_added(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two readings; a backend that appeared in between counts from zero."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


# -- Redis ---------------------------------------------------------------------------------------


def redis_ping() -> None:
    import redis

    with redis.Redis.from_url(REDIS_URL, socket_timeout=CONNECT_TIMEOUT_SECONDS) as client:
        client.ping()


def forget_our_address_budget() -> None:
    """Delete the per-address rate-limit key the benchmark filled (its client hash is keyed with our secret,
    so no one else's). The shared global key's entries expire on their own within a minute."""
    import redis

    from landing.leads.guard import client_hash

    with redis.Redis.from_url(REDIS_URL, socket_timeout=CONNECT_TIMEOUT_SECONDS) as client:
        client.delete(f"{REDIS_PREFIX}address:{client_hash(SECRET, '127.0.0.1')}")


# -- the two setups ------------------------------------------------------------------------------


@dataclass
class Setup:
    """Servers driven together, one wrk each, and how to read what they stored."""

    name: str
    servers: list[Server]
    connections: int  # per wrk
    count: Callable[[], Stored]
    backends: Callable[[], dict[int, float]] = dict  # the database's own processes, when it has any


def postgres_environment(dsn: str) -> dict[str, str]:
    return {**landing_environment(Path(os.devnull)), "LANDING_DATABASE_URL": dsn, "LANDING_REDIS_URL": REDIS_URL}


def start_postgres_pair(folder: Path, schema: str, servers: list[Server]) -> Setup:
    """Two instances on the schema; each is added to ``servers`` as soon as it starts (for stopping)."""
    env = postgres_environment(instance_dsn(schema))
    unused = Path(os.devnull)  # Server.database is the SQLite file leads.py counts in; rows here are in PostgreSQL
    pair = [start_server(f"pg-{number}", landing_command(), env, folder, unused) for number in (1, 2)]
    servers.extend(pair)
    return Setup(PG_PAIR, pair, PAIR_CONNECTIONS, lambda: count_postgres(schema), lambda: backend_cpu(schema))


def start_sqlite_one(folder: Path, servers: list[Server]) -> Setup:
    database = folder / "landing.sqlite3"
    server = start_server("sqlite", landing_command(), landing_environment(database), folder, database)
    servers.append(server)
    return Setup(SQLITE_ONE, [server], SINGLE_CONNECTIONS, lambda: count_stored(database))


# -- wrk -----------------------------------------------------------------------------------------


def wrk_command(url: str, seconds: float, connections: int, script: Path) -> list[str]:
    return ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "-s", str(script), url]


def run_wrk_together(urls: list[str], seconds: float, connections: int, script: Path) -> list[Run]:
    """One wrk per URL, all started at once for the same duration; killed if still running on the way out."""
    processes: list[subprocess.Popen[str]] = []
    try:
        for url in urls:
            processes.append(subprocess.Popen(wrk_command(url, seconds, connections, script), text=True,
                                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                              stderr=subprocess.PIPE))
        return [finish_wrk(process, seconds) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=WRK_GRACE_SECONDS)


def finish_wrk(process: subprocess.Popen[str], seconds: float) -> Run:
    stdout, stderr = process.communicate(timeout=seconds + WRK_GRACE_SECONDS)  # a few lines: no pipe fills up
    if process.returncode != 0:
        raise RuntimeError(f"wrk exited with {process.returncode}:\n{stdout}\n{stderr}")
    return parse_wrk(stdout, stderr)


# -- one measured run ----------------------------------------------------------------------------


@dataclass
class Sample:
    """One run of a setup: the wrk runs (one per server), the rows stored and the CPU used meanwhile."""

    setup: str
    runs: list[Run]
    stored: Stored  # rows added by the run; its ``unsent`` is the notifiers' backlog when the run ended
    server_cpu: float  # during the wrk run
    backend_cpu: float  # during the wrk run
    all_in_cpu: float  # servers + backends, from the start of the run until its notices were all sent
    left_unsent: int  # notices still unsent when the wait for the outbox to empty gave up (0: it emptied)
    busy_cores: float

    @property
    def accepted(self) -> int:
        return sum(run.accepted for run in self.runs)

    @property
    def rate(self) -> float:
        return sum(run.rate for run in self.runs)

    @property
    def lost(self) -> int:
        return max(0, self.accepted - self.stored.leads)

    @property
    def unseen(self) -> int:
        """Rows committed whose 303 wrk did not read before it stopped."""
        return max(0, self.stored.leads - self.accepted)

    @property
    def p50_ms(self) -> float:
        return statistics.fmean(run.p50_ms for run in self.runs)

    @property
    def p99_ms(self) -> float:
        return max(run.p99_ms for run in self.runs)

    def cpu_ms_per_lead(self, with_backends: bool = False) -> float:
        cpu = self.server_cpu + (self.backend_cpu if with_backends else 0.0)
        return 1000 * cpu / self.stored.leads if self.stored.leads else 0.0

    @property
    def all_in_ms_per_lead(self) -> float:
        """CPU per lead with every notice sent: a notifier that fell behind during the run pays here."""
        return 1000 * self.all_in_cpu / self.stored.leads if self.stored.leads else 0.0

    @property
    def others(self) -> Counter[int]:
        return sum((Counter(run.others) for run in self.runs), Counter[int]())

    @property
    def socket_errors(self) -> int:
        return sum(sum(run.socket_errors) for run in self.runs)


def drained(count: Callable[[], Stored], timeout: float = DRAIN_TIMEOUT_SECONDS) -> Stored:
    """The count once the notifiers have sent every notice in the outbox (or ``timeout`` has passed)."""
    deadline = time.monotonic() + timeout
    current = count()
    while current.unsent and time.monotonic() < deadline:
        time.sleep(0.3)
        current = count()
    return current


@dataclass(frozen=True)
class CpuReading:
    servers: float
    backends: dict[int, float]

    def __sub__(self, other: CpuReading) -> tuple[float, float]:
        """(servers, backends) CPU seconds used since ``other``."""
        return self.servers - other.servers, cpu_added(other.backends, self.backends)


def read_cpu(setup: Setup) -> CpuReading:
    return CpuReading(sum(server.cpu_seconds() for server in setup.servers), setup.backends())


def measure(setup: Setup, seconds: float, script: Path) -> Sample:
    """One run of ``setup``: its wrks together, the rows counted before and after, the CPU used during it;
    then it waits for the outbox to empty, so that no backlog spills into the next run."""
    before = settled(setup.count)
    start, ticks_before = read_cpu(setup), machine_ticks()
    runs = run_wrk_together([server.url("/leads") for server in setup.servers], seconds, setup.connections, script)
    end, ticks_after = read_cpu(setup), machine_ticks()
    stored = settled(setup.count) - before
    left = drained(setup.count)
    server_cpu, backend_cpu = end - start
    return Sample(setup.name, runs, stored, server_cpu, backend_cpu, sum(read_cpu(setup) - start), left.unsent,
                  cores_busy_between(ticks_before, ticks_after))


def describe(sample: Sample) -> str:
    others = ", ".join(f"{status}: {count}" for status, count in sorted(sample.others.items())) or "none"
    rates = " + ".join(f"{run.rate:,.0f}" for run in sample.runs) if len(sample.runs) > 1 else ""
    backends = f" +backends {sample.cpu_ms_per_lead(True):.3f}" if sample.backend_cpu else ""
    left = f" ({sample.left_unsent:,} NOT SENT in {DRAIN_TIMEOUT_SECONDS:.0f} s)" if sample.left_unsent else ""
    return (f"{sample.rate:>7,.0f} leads/s{f' ({rates})' if rates else ''}  p50 {sample.p50_ms:.1f} ms  "
            f"p99 {sample.p99_ms:.1f} ms  busy cores {sample.busy_cores:.2f}\n"
            f"{'':>30}CPU/lead ms: servers {sample.cpu_ms_per_lead():.3f}{backends}, "
            f"all in with notices sent {sample.all_in_ms_per_lead:.3f}{left}\n"
            f"{'':>30}303s {sample.accepted:,}  stored {sample.stored.leads:,}  lost {sample.lost}  "
            f"unseen {sample.unseen}  spam {sample.stored.spam}  notices {sample.stored.notices:,} "
            f"(unsent at the end {sample.stored.unsent:,})  other statuses: {others}  "
            f"socket errors {sample.socket_errors}")


def interleaved(setups: list[Setup], seconds: float, rounds: int, script: Path) -> dict[str, list[Sample]]:
    """A warm-up run of each, then ``rounds`` alternating runs: PostgreSQL pair, SQLite, PostgreSQL pair, ..."""
    for setup in setups:
        warmup = measure(setup, WARMUP_SECONDS, script)
        figure(f"warm-up {setup.name}", f"{warmup.rate:,.0f} leads/s", f"lost {warmup.lost}")
    samples: dict[str, list[Sample]] = {setup.name: [] for setup in setups}
    for number in range(1, rounds + 1):
        for setup in setups:
            sample = measure(setup, seconds, script)
            samples[setup.name].append(sample)
            print(f"  round {number} {setup.name:<25}{describe(sample)}", flush=True)
    return samples


# -- the report ----------------------------------------------------------------------------------


def report_integrity(name: str, samples: list[Sample], in_flight: int) -> None:
    """What was acknowledged against what was stored, over all runs of one setup."""
    accepted = sum(sample.accepted for sample in samples)
    stored = sum(sample.stored.leads for sample in samples)
    lost = sum(sample.lost for sample in samples)
    unseen = max(sample.unseen for sample in samples)
    figure(f"{name}: 303s / rows stored", f"{accepted:,} / {stored:,}", "target: none lost", lost == 0)
    figure(f"{name}: most rows without a 303, a run", f"{unseen}", f"<= {in_flight} (in flight at stop)",
           unseen <= in_flight)
    spam = sum(sample.stored.spam for sample in samples)
    notices = sum(sample.stored.notices for sample in samples)
    figure(f"{name}: spam-flagged / notices", f"{spam:,} / {notices:,}", "0 / one per lead",
           spam == 0 and notices == stored)
    others = sum((sample.others for sample in samples), Counter[int]())
    if others:
        figure(f"{name}: answers other than 303", ", ".join(f"{s}: {c:,}" for s, c in sorted(others.items())))


def median_of(samples: list[Sample], value: Callable[[Sample], float]) -> float:
    return statistics.median(value(sample) for sample in samples)


def report_rates(pg: list[Sample], lite: list[Sample]) -> None:
    pg_rate, lite_rate = median_of(pg, lambda s: s.rate), median_of(lite, lambda s: s.rate)
    figure(f"{PG_PAIR} leads/s", f"{pg_rate:,.0f}", "median, sum of both")
    figure(f"{SQLITE_ONE} leads/s", f"{lite_rate:,.0f}", "median")
    figure("ratio PostgreSQL pair / SQLite one", f"{pg_rate / lite_rate:.3f}" if lite_rate else "n/a")
    figure("median p50 latency PostgreSQL / SQLite",
           f"{median_of(pg, lambda s: s.p50_ms):.1f} / {median_of(lite, lambda s: s.p50_ms):.1f} ms")
    figure("notices unsent when a run ended PG / SQLite",
           f"{median_of(pg, lambda s: s.stored.unsent):,.0f} / {median_of(lite, lambda s: s.stored.unsent):,.0f}",
           "median: work left for after the run")


def report_cpu(pg: list[Sample], lite: list[Sample]) -> None:
    pg_cpu, lite_cpu = median_of(pg, Sample.cpu_ms_per_lead), median_of(lite, Sample.cpu_ms_per_lead)
    figure("CPU/lead in the run, servers PG / SQLite", f"{pg_cpu:.3f} / {lite_cpu:.3f} ms", "both PG instances summed")
    pg_total = median_of(pg, lambda s: s.cpu_ms_per_lead(True))
    figure("CPU/lead in the run, PG servers + backends", f"{pg_total:.3f} ms",
           "SQLite writes in its server" if pg_total != pg_cpu else "backends not visible in /proc")
    pg_all, lite_all = median_of(pg, lambda s: s.all_in_ms_per_lead), median_of(lite, lambda s: s.all_in_ms_per_lead)
    figure("CPU/lead all in (notices sent) PG / SQLite", f"{pg_all:.3f} / {lite_all:.3f} ms",
           "servers (+ PG backends)")
    if pg_all:
        figure("all-in CPU ratio SQLite / PG", f"{lite_all / pg_all:.3f}", "the rate ratio if all were CPU-bound")
    figure("busy cores during runs PG / SQLite",
           f"{median_of(pg, lambda s: s.busy_cores):.2f} / {median_of(lite, lambda s: s.busy_cores):.2f}",
           f"of {os.cpu_count()}")
    figure("load average (1 min) at the end", f"{os.getloadavg()[0]:.2f}")


def report(samples: dict[str, list[Sample]]) -> None:
    heading("Results")
    pg, lite = samples[PG_PAIR], samples[SQLITE_ONE]
    report_integrity("PostgreSQL", pg, PAIR_CONNECTIONS * 2)
    report_integrity("SQLite", lite, SINGLE_CONNECTIONS)
    report_rates(pg, lite)
    report_cpu(pg, lite)
    print(f"\n  Note: {len(os.sched_getaffinity(0))} CPUs here. The two instances, PostgreSQL, Redis and the wrk\n"
          "  processes share them, so this comparison is CPU-bound on this machine: CPU per lead says more\n"
          "  than leads/s about what each setup costs, and neither says how two real hosts would scale.\n"
          "  SQLite's notifier falls behind during a run and sends the rest afterwards, which flatters its\n"
          "  leads/s; the all-in CPU per lead counts that work for both.", flush=True)


# -- the benchmark -------------------------------------------------------------------------------


def print_machine() -> None:
    one, five, fifteen = os.getloadavg()
    figure("nproc / os.cpu_count()", f"{len(os.sched_getaffinity(0))} / {os.cpu_count()}",
           "CPU-bound comparison on this machine")
    figure("load average 1 / 5 / 15 min", f"{one:.2f} / {five:.2f} / {fifteen:.2f}")
    figure("busy cores before the servers start", f"{busy_cores(1.0):.2f}", "everything else on the machine")


def start_all(folder: Path, schema: str, servers: list[Server]) -> list[Setup]:
    setups = [start_postgres_pair(folder, schema, servers), start_sqlite_one(folder, servers)]
    for server in servers:
        wait_ready(server)
    return setups


def benchmark(folder: Path, seconds: float, rounds: int) -> None:
    copy_site(folder)
    script = write_lua(folder, urlencode(lead_form()))
    heading(f"Lead intake: {PG_PAIR} (2 x wrk -t1 -c{PAIR_CONNECTIONS}) vs {SQLITE_ONE} "
            f"(wrk -t1 -c{SINGLE_CONNECTIONS}), -d{seconds:g}s, {rounds} interleaved rounds")
    print_machine()
    redis_ping()
    servers: list[Server] = []
    try:
        with fresh_schema() as schema:
            figure("PostgreSQL schema", schema, "dropped at the end")
            try:
                setups = start_all(folder, schema, servers)
                report(interleaved(setups, seconds, rounds, script))
            finally:
                for server in servers:
                    stop_server(server)
    finally:
        forget_our_address_budget()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 3-second wrk runs, 2 rounds")
    parser.add_argument("--seconds", type=float, help="duration of each wrk run (default 10; 3 with --quick)")
    parser.add_argument("--rounds", type=int, help="interleaved runs per setup (default 3; 2 with --quick)")
    args = parser.parse_args()
    args.seconds = args.seconds or (3 if args.quick else 10)
    args.rounds = args.rounds or (2 if args.quick else 3)
    return args


def main() -> int:
    args = parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="landing-instances-bench-") as tmp:
        benchmark(Path(tmp) / "site", args.seconds, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
