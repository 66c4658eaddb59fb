"""Lead intake benchmark for `landing`: how many leads per second POST /leads stores, and whether any is lost.

What it measures, on the example site copied into a temporary folder (site.toml, locations.csv,
templates/, static/):

1. landing: the real `landing serve` (one worker) on 127.0.0.1, with a fresh SQLite file
   (LANDING_DATABASE_URL), a fixed LANDING_SECRET_KEY, live reload off and both rate limits raised to
   1,000,000 (the most the setting allows) so that the limiter never answers 429 (this measures throughput, not the limiter).
   wrk (-t1 -c32) POSTs one valid urlencoded lead form with a form token signed in Python and
   backdated 60 s, so every lead passes every check and is stored as a person's lead with its outbox
   notice. A Lua `response` hook counts answers by status; accepted leads are the 303s.
2. bare: a Starlette app with one POST route that reads the body, inserts it as one row through one
   shared aiosqlite connection (WAL, synchronous=FULL, `await db.execute(...)`, `await db.commit()` per
   request) and answers 303. It runs under exactly the uvicorn options `landing serve` passes to
   uvicorn.run (they are taken from `landing.cli.run_serve` at run time: httptools/uvloop as uvicorn
   picks them, the same log config and access log setting).
3. after every run, the rows stored during it are counted with the stdlib sqlite3 module and compared
   with the 303s wrk saw: fewer rows than 303s means acknowledged leads were lost; a few more rows than
   303s are requests that were committed while wrk was stopping (at most one per connection). For
   landing it also counts rows flagged as spam (must be 0: a spam-flagged lead also gets its 303),
   outbox notices (one per lead) and the notices still unsent (the notifier's backlog).
4. the server process's CPU time (user + system, all threads, from /proc) per stored lead: a cost that
   depends less than leads/s on what else the machine is running.

Runs alternate landing, bare, landing, bare, ... after a short warm-up run of each; the median
accepted leads/s of each, the ratio landing/bare and the median of each round's own ratio are printed beside the targets (landing >= 2,000
leads/s on one worker with none lost; landing/bare >= 0.5, issue 16). It prints figures and never fails on them.
Servers listen on 127.0.0.1 only, write their logs to files in the temporary folder (uvicorn's access
log, if on, goes to /dev/null) and are killed when the benchmark ends.

Run from the project root (needs `wrk` on PATH):

    /work/venv/bin/python benchmarks/leads.py                 # 10-second wrk runs, 3 rounds
    /work/venv/bin/python benchmarks/leads.py --quick         # smoke run: 3-second runs, 2 rounds
    /work/venv/bin/python benchmarks/leads.py --seconds 20 --rounds 5
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python benchmarks/leads.py` puts benchmarks/, not the root, on the path

from benchmarks import _common as common  # noqa: E402
from benchmarks._common import (  # noqa: E402
    clean_environment, figure, heading, serve_like_landing, stop_server, uvicorn_options_used, wait_ready)
from tests.leads_helpers import token, valid_form  # noqa: E402  (the tests' valid lead form)

SECRET = "benchmark-secret"
TOKEN_AGE_SECONDS = 60.0
UNLIMITED = "1000000"  # the most LANDING_LEADS_PER_ADDRESS allows: far above what a run sends
RATE_TARGET = 2000.0
RATIO_TARGET = 0.5  # issue 16 (0.33 before)
WRK_CONNECTIONS = 32
WARMUP_SECONDS = 1.0
SETTLE_TIMEOUT_SECONDS = 10.0
SITE_FILES = ("site.toml", "locations.csv")
SITE_FOLDERS = ("templates", "static")

LUA_SCRIPT = """\
-- POSTs one lead form; counts answers by status per thread and prints them when wrk is done.
wrk.method = "POST"
wrk.body = "%(body)s"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      totals[status] = (totals[status] or 0) + count
    end
  end
  for status, count in pairs(totals) do
    io.write(string.format("BENCH status %%d %%d\\n", status, count))
  end
  local errors = summary.errors
  io.write(string.format("BENCH summary %%d %%d %%d %%d %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), errors.connect, errors.read, errors.write, errors.timeout,
    errors.status))
end
"""


# -- printing ------------------------------------------------------------------------------------


# -- the site and the form -----------------------------------------------------------------------


def copy_site(folder: Path) -> None:
    """The example site's files in ``folder``, where `landing serve` finds them by their default names."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in SITE_FILES:
        shutil.copy(ROOT / name, folder / name)
    for name in SITE_FOLDERS:
        shutil.copytree(ROOT / name, folder / name)


def lead_form() -> dict[str, str]:
    """A submission that passes every check (the tests' valid form): a person's lead, with attribution, for a
    page that exists, its token signed with the benchmark's secret as if the form had been open a minute."""
    return valid_form(form_token=token(TOKEN_AGE_SECONDS, SECRET))


def write_lua(folder: Path, body: str) -> Path:
    script = folder / "post.lua"
    script.write_text(LUA_SCRIPT % {"body": body})  # urlencoded: no quote or backslash to escape
    return script


# -- server processes ----------------------------------------------------------------------------


@dataclass
class Server(common.Server):
    database: Path = Path(os.devnull)  # the SQLite file its leads are counted in


def landing_environment(database: Path) -> dict[str, str]:
    return clean_environment(LANDING_DATABASE_URL=f"sqlite:///{database}", LANDING_SECRET_KEY=SECRET,
                             LANDING_RELOAD_INTERVAL="0", LANDING_LEADS_PER_ADDRESS=UNLIMITED,
                             LANDING_LEADS_PER_MINUTE=UNLIMITED)


def start_server(name: str, command: list[str], env: dict[str, str], folder: Path, database: Path) -> Server:
    started = common.start_server(name, command, env, folder)
    return Server(started.name, started.process, started.port, started.log, database)


def landing_command() -> list[str]:
    return [sys.executable, "-m", "landing", "serve"]


def bare_command(database: Path) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--child-bare", str(database)]


# -- what the database holds ---------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    leads: int
    spam: int = 0
    notices: int = 0
    unsent: int = 0  # outbox notices not sent yet: a level, not a count of this run's rows

    def __sub__(self, other: Stored) -> Stored:
        """The rows added since ``other``; ``unsent`` stays this count's own."""
        return Stored(self.leads - other.leads, self.spam - other.spam, self.notices - other.notices, self.unsent)


def count_stored(database: Path) -> Stored:
    """Committed rows, read with the stdlib (a second reader of the WAL database; it writes nothing)."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        leads = db.execute("SELECT COUNT(*) FROM leads").fetchone()[0]
        if "outbox" not in tables:
            return Stored(leads)
        spam = db.execute("SELECT COUNT(*) FROM leads WHERE spam").fetchone()[0]
        notices = db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        unsent = db.execute("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0]
    return Stored(leads, spam, notices, unsent)


def settled(count: Callable[[], Stored], timeout: float = SETTLE_TIMEOUT_SECONDS) -> Stored:
    """The count once requests still in flight when wrk stopped have finished (two equal lead counts in a row)."""
    deadline = time.monotonic() + timeout
    last = count()
    while time.monotonic() < deadline:
        time.sleep(0.3)
        current = count()
        if current.leads == last.leads:  # the notifiers keep changing what is unsent: leads are what settle
            return current
        last = current
    return last


# -- wrk -----------------------------------------------------------------------------------------


@dataclass
class Run:
    """One wrk run against one server, and the rows it left in that server's database."""

    server: str
    statuses: dict[int, int] = field(default_factory=dict)
    requests: int = 0
    seconds: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    socket_errors: tuple[int, int, int, int] = (0, 0, 0, 0)  # connect, read, write, timeout
    stored: Stored = Stored(0)
    cpu_seconds: float = 0.0  # the server's, during the run

    @property
    def cpu_ms_per_lead(self) -> float:
        return 1000 * self.cpu_seconds / self.stored.leads if self.stored.leads else 0.0

    @property
    def accepted(self) -> int:
        return self.statuses.get(303, 0)

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0

    @property
    def lost(self) -> int:
        return max(0, self.accepted - self.stored.leads)

    @property
    def unseen(self) -> int:
        """Rows committed whose 303 wrk did not read before it stopped."""
        return max(0, self.stored.leads - self.accepted)

    @property
    def others(self) -> dict[int, int]:
        return {status: count for status, count in self.statuses.items() if status != 303}


def run_wrk(url: str, seconds: float, script: Path) -> Run:
    command = ["wrk", "-t1", f"-c{WRK_CONNECTIONS}", f"-d{seconds:g}s", "-s", str(script), url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True)
    return parse_wrk(result.stdout, result.stderr)


def parse_wrk(stdout: str, stderr: str) -> Run:
    run = Run(server="")
    for status, count in re.findall(r"^BENCH status (\d+) (\d+)$", stdout, re.MULTILINE):
        run.statuses[int(status)] = int(count)
    summary = re.search(r"^BENCH summary ([\d ]+)$", stdout, re.MULTILINE)
    if not summary:
        raise RuntimeError(f"no summary in wrk's output:\n{stdout}\n{stderr}")
    requests, duration_us, p50_us, p99_us, connect, read, write, timeout, _ = map(int, summary.group(1).split())
    run.requests, run.seconds = requests, duration_us / 1e6
    run.p50_ms, run.p99_ms = p50_us / 1000, p99_us / 1000
    run.socket_errors = (connect, read, write, timeout)
    return run


def measured_run(server: Server, seconds: float, script: Path) -> Run:
    """One wrk run, with the rows it stored counted before and after."""
    before = settled(lambda: count_stored(server.database))
    cpu_before = server.cpu_seconds()
    run = run_wrk(server.url("/leads"), seconds, script)
    run.cpu_seconds = server.cpu_seconds() - cpu_before
    run.server = server.name
    run.stored = settled(lambda: count_stored(server.database)) - before
    return run


def describe(run: Run) -> str:
    others = ", ".join(f"{status}: {count}" for status, count in sorted(run.others.items())) or "none"
    errors = "/".join(str(count) for count in run.socket_errors)
    text = (f"{run.rate:>7,.0f} leads/s  p50 {run.p50_ms:.1f} ms  p99 {run.p99_ms:.1f} ms  "
            f"server CPU {run.cpu_ms_per_lead:.3f} ms/lead\n"
            f"{'':>19}303s {run.accepted:,}  stored {run.stored.leads:,}  lost {run.lost}  unseen {run.unseen}  "
            f"other statuses: {others}  socket errors c/r/w/t {errors}")
    if run.server == "landing":
        text += f"  spam {run.stored.spam}  notices {run.stored.notices:,} (unsent after the run {run.stored.unsent:,})"
    return text


def interleaved(servers: list[Server], seconds: float, rounds: int, script: Path) -> dict[str, list[Run]]:
    """Warm-up run of each, then ``rounds`` alternating runs: landing, bare, landing, bare, ..."""
    for server in servers:
        warmup = measured_run(server, WARMUP_SECONDS, script)
        figure(f"warm-up {server.name}", f"{warmup.rate:,.0f} leads/s", f"lost {warmup.lost}")
    runs: dict[str, list[Run]] = {server.name: [] for server in servers}
    for number in range(1, rounds + 1):
        for server in servers:
            run = measured_run(server, seconds, script)
            runs[server.name].append(run)
            print(f"  round {number} {server.name:<8} {describe(run)}", flush=True)
    return runs


# -- the report ----------------------------------------------------------------------------------


def report_integrity(runs: list[Run], name: str) -> bool:
    """Print what was acknowledged and what was stored over all runs of one server; True when none was lost."""
    accepted = sum(run.accepted for run in runs)
    stored = sum(run.stored.leads for run in runs)
    lost = sum(run.lost for run in runs)
    unseen = max(run.unseen for run in runs)
    figure(f"{name}: 303s seen by wrk / rows stored", f"{accepted:,} / {stored:,}", "target: none lost", lost == 0)
    figure(f"{name}: most rows without a 303 seen, in a run", f"{unseen}",
           f"<= {WRK_CONNECTIONS} (in flight at stop)", unseen <= WRK_CONNECTIONS)
    others = sum((Counter(run.others) for run in runs), Counter[int]())
    if others:
        figure(f"{name}: answers other than 303", ", ".join(f"{s}: {c:,}" for s, c in sorted(others.items())))
    return lost == 0


def report_landing_rows(runs: list[Run]) -> None:
    spam = sum(run.stored.spam for run in runs)
    stored = sum(run.stored.leads for run in runs)
    notices = sum(run.stored.notices for run in runs)
    figure("landing: stored leads flagged as spam", f"{spam:,}", "0 (every lead a person's)", spam == 0)
    figure("landing: outbox notices / stored leads", f"{notices:,} / {stored:,}", "one notice per lead",
           notices == stored)
    figure("landing: notices unsent after the last run", f"{runs[-1].stored.unsent:,}",
           "the notifier's backlog")


def report(runs: dict[str, list[Run]]) -> None:
    heading("Results")
    medians = {name: statistics.median(run.rate for run in server_runs) for name, server_runs in runs.items()}
    none_lost = report_integrity(runs["landing"], "landing")
    report_landing_rows(runs["landing"])
    report_integrity(runs["bare"], "bare")
    figure("landing leads/s (median, 1 worker)", f"{medians['landing']:,.0f}",
           f">= {RATE_TARGET:,.0f}, none lost", medians["landing"] >= RATE_TARGET and none_lost)
    figure("bare insert leads/s (median)", f"{medians['bare']:,.0f}")
    ratio = medians["landing"] / medians["bare"] if medians["bare"] else 0.0
    figure("ratio landing/bare", f"{ratio:.3f}", f">= {RATIO_TARGET:g}", ratio >= RATIO_TARGET)
    pairs = [landing.rate / bare.rate for landing, bare in zip(runs["landing"], runs["bare"]) if bare.rate]
    if pairs:  # each landing run against the bare run right after it: steadier when the machine's speed drifts
        figure("  median of per-round ratios", f"{statistics.median(pairs):.3f}",
               f"rounds: {' '.join(f'{pair:.3f}' for pair in pairs)}")
    latency = {name: statistics.median(run.p50_ms for run in server_runs) for name, server_runs in runs.items()}
    figure("median p50 latency landing / bare", f"{latency['landing']:.1f} / {latency['bare']:.1f} ms")
    cpu = {name: statistics.median(run.cpu_ms_per_lead for run in server_runs) for name, server_runs in runs.items()}
    figure("server CPU per lead landing / bare", f"{cpu['landing']:.3f} / {cpu['bare']:.3f} ms",
           "(less load-sensitive than leads/s)")
    if cpu["landing"]:
        figure("CPU ratio bare/landing", f"{cpu['bare'] / cpu['landing']:.3f}", "the rate ratio if both were CPU-bound")
    figure("load average (1 min) at the end", f"{os.getloadavg()[0]:.2f}", f"on {os.cpu_count()} CPUs")


def benchmark(folder: Path, seconds: float, rounds: int) -> None:
    copy_site(folder)
    body = urlencode(lead_form())
    script = write_lua(folder, body)
    heading(f"Lead intake: wrk -t1 -c{WRK_CONNECTIONS} -d{seconds:g}s POST /leads, {rounds} interleaved rounds")
    figure("form body", f"{len(body)} bytes", "token backdated 60 s")
    figure("CPUs, load average (1 min)", f"{os.cpu_count()}, {os.getloadavg()[0]:.2f}",
           "wrk and the server share them")
    servers: list[Server] = []
    try:
        landing_db = folder / "landing.sqlite3"
        servers.append(start_server("landing", landing_command(), landing_environment(landing_db), folder, landing_db))
        bare_db = folder / "bare.sqlite3"
        servers.append(start_server("bare", bare_command(bare_db), clean_environment(), folder, bare_db))
        for server in servers:
            wait_ready(server)
        figure("uvicorn options (from landing serve)", "", uvicorn_options_used(servers[1]))
        runs = interleaved(servers, seconds, rounds, script)
        report(runs)
    finally:
        for server in servers:
            stop_server(server)


# -- the bare server (a child process) -----------------------------------------------------------


def serve_bare(database: Path, host: str, port: int) -> None:
    """One POST route inserting the body through one shared aiosqlite connection, under `landing serve`'s
    uvicorn options (serve_like_landing)."""
    import aiosqlite
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, RedirectResponse, Response
    from starlette.routing import Route

    db: aiosqlite.Connection | None = None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        nonlocal db
        db = await aiosqlite.connect(database)
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=FULL")
        await db.execute("CREATE TABLE IF NOT EXISTS leads (id INTEGER PRIMARY KEY, created_at REAL, body TEXT)")
        await db.commit()
        try:
            yield
        finally:
            await db.close()

    async def submit(request: Request) -> Response:
        assert db is not None
        body = await request.body()
        await db.execute("INSERT INTO leads (created_at, body) VALUES (?, ?)", (time.time(), body.decode()))
        await db.commit()
        return RedirectResponse("/thank-you/", status_code=303)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    serve_like_landing(Starlette(routes=[Route("/leads", submit, methods=["POST"]), Route("/healthz", healthz)],
                                 lifespan=lifespan), host, port)


# -- command line --------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 3-second wrk runs, 2 rounds")
    parser.add_argument("--seconds", type=float, help="duration of each wrk run (default 10; 3 with --quick)")
    parser.add_argument("--rounds", type=int, help="interleaved runs per server (default 3; 2 with --quick)")
    parser.add_argument("--child-bare", type=Path, metavar="DATABASE", help=argparse.SUPPRESS)
    parser.add_argument("--host", default="127.0.0.1", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.seconds = args.seconds or (3 if args.quick else 10)
    args.rounds = args.rounds or (2 if args.quick else 3)
    return args


def main() -> int:
    args = parse_args()
    if args.child_bare:
        serve_bare(args.child_bare, args.host, args.port)
        return 0
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="landing-leads-bench-") as tmp:
        benchmark(Path(tmp) / "site", args.seconds, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
