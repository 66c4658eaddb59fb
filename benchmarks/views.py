"""Page view benchmarks (landing/pageviews.py, landing/report.py): what counting costs a cached page, and how long
the marketing report takes over a year of counts.

1. HTTP: the real `landing serve` with page views counted (the default), the same with LANDING_COUNT_VIEWS=false,
   and a bare Starlette app whose single route returns the page's bytes (benchmarks/pages.py's baseline), all
   under `landing serve`'s uvicorn options. wrk (-t1 -c32, a phone browser's User-Agent, so each request is
   counted as a person's view: a hash and a dictionary update) runs alternate on, off, bare, on, off, bare...
   Reported: median requests/s of each, the ratios on/bare (target >= 1.0) and on/off, and each server's CPU
   time per request (steadier than requests/s when other work shares the cores). It also checks that the
   server counting did add the views to its database.
2. Report: a year of daily counts for 25,000 pages (every page viewed every day: 9,125,000 rows, the worst
   case) written into a fresh SQLite file and a fresh PostgreSQL schema through the real migrations, then
   `landing.report.make_report` timed by page, by campaign and by office over the last 365 days (whole months
   from the monthly counts, the days around them from the daily ones) and over the last 30 days (best of 3,
   after one warm-up run).

It prints figures and never fails on them. Run from the project root:

    python benchmarks/views.py                 # 2,000-town site for HTTP, 10-second wrk runs; the full report
    python benchmarks/views.py --quick         # 3-second wrk runs; report over 2,000 pages
    python benchmarks/views.py --skip-http     # the report only (or --skip-report)

PostgreSQL comes from LANDING_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test); without
it, or without wrk, that part is skipped with a message.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks._common import (Server, busy_cores, clean_environment, cpu_seconds, figure, heading, start_server,
                                stop_server, uvicorn_options_used, wait_ready)
from benchmarks.pages import bare_command, fetch, generate_site, landing_command, site_environment
from landing.leads.migrations import ROLLUPS_FROM_DAILY
from landing.leads.store import SQLStore, store_for
from landing.report import Period, make_report
from landing.snapshot import load_snapshot

RATIO_TARGET = 1.0
WRK_CONNECTIONS = 32
BROWSER = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
           "Version/17.5 Mobile/15E148 Safari/604.1")
POSTGRES_URL = os.environ.get("LANDING_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
LAST_DAY = dt.date(2026, 11, 29)


# -- 1: HTTP -------------------------------------------------------------------------------------------


def wrk(url: str, seconds: float) -> tuple[int, float]:
    command = ["wrk", "-t1", f"-c{WRK_CONNECTIONS}", f"-d{seconds:g}s", "-H", f"User-Agent: {BROWSER}", url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True)
    if "Non-2xx" in result.stdout or "Socket errors" in result.stdout:
        print(f"  warning: wrk against {url}: {result.stdout.strip().splitlines()[-3:]}", flush=True)
    count = re.search(r"(\d+) requests in", result.stdout)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    if not count or not rate:
        raise RuntimeError(f"unexpected wrk output:\n{result.stdout}\n{result.stderr}")
    return int(count.group(1)), float(rate.group(1))


def report_http(folder: Path, towns: int, seconds: float, rounds: int) -> None:
    heading(f"Cached page with page views counted (wrk -t1 -c{WRK_CONNECTIONS} -d{seconds:g}s, {rounds} rounds)")
    if shutil.which("wrk") is None:
        print("  skipped: wrk is not installed (apt-get install wrk)")
        return
    settings = generate_site(folder / "site", towns)
    snapshot = load_snapshot(settings)
    pages = list(snapshot.catalog.pages.values())
    path = pages[len(pages) // 2].path
    database = folder / "views.sqlite3"
    environment = site_environment(settings)
    servers: list[Server] = []
    try:
        on = start_server("on", landing_command(), {**environment, "LANDING_DATABASE_URL": f"sqlite:///{database}"},
                          folder)
        off = start_server("off", landing_command(), {**environment, "LANDING_COUNT_VIEWS": "false",
                                                      "LANDING_DATABASE_URL": f"sqlite:///{folder / 'off.sqlite3'}"},
                           folder)
        servers += [on, off]
        for server in (on, off):
            wait_ready(server, "/healthz")
        body = fetch(on.url(path)).body
        (folder / "page.html").write_bytes(body)
        bare = start_server("bare", bare_command(folder / "page.html", path), clean_environment(), folder)
        servers.append(bare)
        wait_ready(bare, path)
        print(f"  page {path}; uvicorn options of landing serve, used for all: {uvicorn_options_used(bare)}", flush=True)
        figure("  cores busy before the runs (other work)", f"{busy_cores():.2f} of {os.cpu_count()}")
        requests_on = 0
        for server in servers:
            count, _ = wrk(server.url(path), 1)  # warm-up
            requests_on += count if server is on else 0
        rps: dict[str, list[float]] = {server.name: [] for server in servers}
        cpu: dict[str, list[float]] = {server.name: [] for server in servers}
        for _ in range(rounds):
            for server in servers:
                before = cpu_seconds(server.process.pid)
                count, rate = wrk(server.url(path), seconds)
                rps[server.name].append(rate)
                cpu[server.name].append((cpu_seconds(server.process.pid) - before) / max(count, 1) * 1e6)
                if server is on:
                    requests_on += count
        for name in rps:
            figure(f"  {name} requests/s", " ".join(f"{value:,.0f}" for value in rps[name]))
            figure(f"  {name} server CPU us/request", " ".join(f"{value:.0f}" for value in cpu[name]))
        median = {name: statistics.median(values) for name, values in rps.items()}
        cpu_median = {name: statistics.median(values) for name, values in cpu.items()}
        ratio = median["on"] / median["bare"]
        figure("median requests/s counting on / off / bare",
               f"{median['on']:,.0f} / {median['off']:,.0f} / {median['bare']:,.0f}")
        figure("ratio counting on / bare route", f"{ratio:.3f}", f"target >= {RATIO_TARGET:g}", ratio >= RATIO_TARGET)
        figure("ratio counting on / counting off", f"{median['on'] / median['off']:.3f}", "cost of counting")
        figure("CPU-time ratio bare / on", f"{cpu_median['bare'] / cpu_median['on']:.3f}", "= rps ratio if CPU-bound")
        figure("CPU us/request added by counting", f"{cpu_median['on'] - cpu_median['off']:.1f} us")
        stop_server(on)  # flushes what it counted at shutdown
        with sqlite3.connect(database) as db:
            counted = db.execute("SELECT COALESCE(SUM(views), 0), COALESCE(SUM(visitors), 0) FROM page_views "
                                 "WHERE path = ?", (path,)).fetchone()
        figure("views in the database / wrk requests", f"{counted[0]:,} / {requests_on:,}",  # every one counted
               f"{counted[1]} unique visitor(s)")
    finally:
        for server in servers:
            stop_server(server)


# -- 2: the report over a year --------------------------------------------------------------------------


def year_rows(paths: list[str], days: int) -> Iterator[tuple[str, str, str, str, int, int, int]]:
    """One row per page and day, a few in ten with a campaign: what a busy year leaves."""
    for n in range(days):
        day = (LAST_DAY - dt.timedelta(days=n)).isoformat()
        for i, path in enumerate(paths):
            views = 1 + (i * 7 + n) % 13
            source, campaign = ("google", f"spring-{i % 5}") if (i + n) % 10 == 0 else ("", "")
            yield day, path, source, campaign, views, max(1, views - 2), (i + n) % 3


async def fill_sqlite(path: Path, rows: Callable[[], Iterator[tuple[Any, ...]]]) -> None:
    store = store_for(f"sqlite:///{path}")
    await store.open()  # the real migrations
    await store.close()
    with sqlite3.connect(path) as db:
        db.executemany("INSERT INTO page_views (day, path, source, campaign, views, visitors, bot_views) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?)", rows())
        for statement in ROLLUPS_FROM_DAILY:  # what the flushes would have kept
            db.execute(statement)
        db.execute("ANALYZE")


async def fill_postgres(dsn: str, rows: Callable[[], Iterator[tuple[Any, ...]]]) -> None:
    import asyncpg

    store = store_for(dsn)
    await store.open()
    await store.close()
    connection = await asyncpg.connect(dsn)
    try:
        await connection.copy_records_to_table(
            "page_views", records=rows(), columns=["day", "path", "source", "campaign", "views", "visitors", "bot_views"])
        for statement in ROLLUPS_FROM_DAILY:
            await connection.execute(statement)
        for table in ("page_views", "page_views_monthly", "views_by_day"):
            await connection.execute(f"VACUUM ANALYZE {table}")
    finally:
        await connection.close()


async def timed(action: Callable[[], Awaitable[Any]], repeats: int = 3) -> float:
    await action()  # warm-up: the file or the tables in the page cache, as on a server that runs the report
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        await action()
        best = min(best, time.perf_counter() - started)
    return best


async def time_report(url: str, label: str, catalog: Any, days: int) -> None:
    store = store_for(url)
    await store.open()
    try:
        assert isinstance(store, SQLStore)
        year = Period(LAST_DAY - dt.timedelta(days=days - 1), LAST_DAY)
        month = Period(LAST_DAY - dt.timedelta(days=29), LAST_DAY)
        for period, name in ((year, f"{days} days"), (month, "30 days")):
            for by in ("page", "campaign", "office"):
                seconds = await timed(lambda: make_report(store, catalog, period, by))
                figure(f"  {label}: report by {by}, {name}", f"{seconds * 1000:,.0f} ms", "best of 3")
    finally:
        await store.close()


async def report_queries(folder: Path, pages: int, days: int) -> None:
    heading(f"Report over {days} days of counts on {pages:,} pages ({pages * days:,} rows, every page every day)")
    settings = generate_site(folder / "report-site", pages)  # the example site: one treatment, a page a town
    catalog = load_snapshot(settings).catalog
    paths = list(catalog.pages)[:pages]
    figure("pages in the catalog / counted", f"{len(catalog.pages):,} / {len(paths):,}")

    def rows() -> Iterator[tuple[Any, ...]]:
        return year_rows(paths, days)

    started = time.perf_counter()
    database = folder / "report.sqlite3"
    await fill_sqlite(database, rows)
    figure("SQLite: filled in", f"{time.perf_counter() - started:.0f} s",
           f"{database.stat().st_size / 1_048_576:,.0f} MB")
    await time_report(f"sqlite:///{database}", "SQLite", catalog, days)
    try:
        import asyncpg

        admin = await asyncpg.connect(POSTGRES_URL, timeout=5)
    except Exception as exc:  # noqa: BLE001 - any reason PostgreSQL is not there
        print(f"  PostgreSQL skipped: no server at {POSTGRES_URL} ({type(exc).__name__})")
        return
    schema = f"bench_views_{uuid.uuid4().hex[:8]}"
    await admin.execute(f"CREATE SCHEMA {schema}")
    try:
        dsn = f"{POSTGRES_URL}?search_path={schema}"
        started = time.perf_counter()
        await fill_postgres(dsn, rows)
        size = await admin.fetchval(f"SELECT pg_total_relation_size('{schema}.page_views')")
        figure("PostgreSQL: filled in", f"{time.perf_counter() - started:.0f} s", f"{size / 1_048_576:,.0f} MB")
        await time_report(dsn, "PostgreSQL", catalog, days)
    finally:
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()


# -- command line ------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3-second wrk runs; the report over 2,000 pages")
    parser.add_argument("--towns", type=int, default=2000, help="towns of the site served over HTTP (default 2000)")
    parser.add_argument("--seconds", type=float, help="duration of each wrk run (default 10; 3 with --quick)")
    parser.add_argument("--rounds", type=int, default=3, help="wrk runs per server (default 3)")
    parser.add_argument("--pages", type=int, help="pages counted for the report (default 25000; 2000 with --quick)")
    parser.add_argument("--days", type=int, default=365, help="days counted for the report (default 365)")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-report", action="store_true")
    args = parser.parse_args()
    seconds = args.seconds or (3 if args.quick else 10)
    pages = args.pages or (2000 if args.quick else 25_000)
    with tempfile.TemporaryDirectory(prefix="landing-views-") as tmp:
        if not args.skip_http:
            report_http(Path(tmp), args.towns, seconds, args.rounds)
        if not args.skip_report:
            asyncio.run(report_queries(Path(tmp), pages, args.days))
    return 0


if __name__ == "__main__":
    sys.exit(main())
