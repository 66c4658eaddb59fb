"""Page benchmarks for `landing`: load time, memory, render rate and HTTP throughput at 25,000 towns.

What it measures, on a site generated into a temporary folder (the example site's site.toml, templates
and static files, plus a locations.csv of N towns spread over the US, made with a fixed random seed):

1. load and validate: `landing.snapshot.load_snapshot(Settings(...))` (catalog + renderer), best of 3
   (target <= 2 s);
2. resident memory (VmRSS) of a fresh process after its imports, after loading, and after the first
   landing page, which builds the nearby-towns index (target <= 250 MB after loading);
3. render rate, uncached, over a fixed sample of pages: `Renderer.render_landing(page)` (render only)
   and `Renderer._response(path)` (render + encode + gzip + ETag), in pages per second; and how long
   the first landing page after a load takes;
4. HTTP throughput: the real `landing serve` against a bare Starlette app whose single route returns the
   same landing page's bytes, both under the uvicorn options `landing serve` itself uses (they are taken
   from `landing.cli.run_serve` at run time, so the comparison stays fair when cli.py changes). wrk runs
   (-t1 -c32) alternate landing, bare, landing, bare..., for plain clients and for clients that accept
   gzip (the bare route answers those with the same plain bytes: it is the baseline of "a route that
   returns constant bytes"). Reported: the median requests/s of each and landing/bare (target >= 0.85);
   also each server's CPU time per request (from /proc), whose ratio is steadier than requests/s when
   other work shares the machine's cores (how busy they are is printed before the runs).
   Both servers write uvicorn's access log (if on) to /dev/null and their other logs to files in the
   temporary folder; they listen on 127.0.0.1 only and are stopped when the benchmark ends.

It prints figures and never fails on them. Run from the project root:

    /work/venv/bin/python benchmarks/pages.py            # 25,000 towns, 10-second wrk runs
    /work/venv/bin/python benchmarks/pages.py --quick    # smoke run: fewer pages, 3-second wrk runs
    /work/venv/bin/python benchmarks/pages.py --towns 5000 --seconds 5 --rounds 5

Needs `wrk` on PATH for step 4 (Debian: apt-get install wrk); without it that step is skipped.
"""

from __future__ import annotations

import argparse
import csv
import gc
import gzip
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python benchmarks/pages.py` puts benchmarks/, not the root, on the path

from benchmarks._common import (READY_TIMEOUT_SECONDS, Server, busy_cores, clean_environment, cpu_seconds, figure,
                                heading, proc_status_kib, serve_like_landing, start_server, stop_server,
                                uvicorn_options_used, wait_ready)
from landing.settings import Settings
from landing.snapshot import Snapshot, load_snapshot
from landing.web.live import Served

SEED = 20261127
LOAD_TARGET_SECONDS = 2.0
MEMORY_TARGET_MB = 250.0
RATIO_TARGET = 0.85
WRK_CONNECTIONS = 32
ALASKA_HAWAII_SHARE = 0.004  # "a few" towns outside the lower 48

# Rough bounding boxes: USPS code -> (south, north, west, east), decimal degrees.
STATE_BOXES: dict[str, tuple[float, float, float, float]] = {
    "AL": (30.2, 35.0, -88.5, -84.9), "AZ": (31.3, 37.0, -114.8, -109.0), "AR": (33.0, 36.5, -94.6, -89.6),
    "CA": (32.5, 42.0, -124.4, -114.1), "CO": (37.0, 41.0, -109.1, -102.0), "CT": (41.0, 42.1, -73.7, -71.8),
    "DE": (38.5, 39.8, -75.8, -75.0), "DC": (38.8, 39.0, -77.1, -76.9), "FL": (24.5, 31.0, -87.6, -80.0),
    "GA": (30.4, 35.0, -85.6, -80.8), "ID": (42.0, 49.0, -117.2, -111.0), "IL": (37.0, 42.5, -91.5, -87.5),
    "IN": (37.8, 41.8, -88.1, -84.8), "IA": (40.4, 43.5, -96.6, -90.1), "KS": (37.0, 40.0, -102.1, -94.6),
    "KY": (36.5, 39.1, -89.6, -82.0), "LA": (29.0, 33.0, -94.0, -89.0), "ME": (43.1, 47.5, -71.1, -67.0),
    "MD": (37.9, 39.7, -79.5, -75.0), "MA": (41.2, 42.9, -73.5, -69.9), "MI": (41.7, 48.3, -90.4, -82.4),
    "MN": (43.5, 49.4, -97.2, -89.5), "MS": (30.2, 35.0, -91.7, -88.1), "MO": (36.0, 40.6, -95.8, -89.1),
    "MT": (44.4, 49.0, -116.1, -104.0), "NE": (40.0, 43.0, -104.1, -95.3), "NV": (35.0, 42.0, -120.0, -114.0),
    "NH": (42.7, 45.3, -72.6, -70.6), "NJ": (38.9, 41.4, -75.6, -73.9), "NM": (31.3, 37.0, -109.1, -103.0),
    "NY": (40.5, 45.0, -79.8, -71.9), "NC": (33.8, 36.6, -84.3, -75.5), "ND": (45.9, 49.0, -104.1, -96.6),
    "OH": (38.4, 42.0, -84.8, -80.5), "OK": (33.6, 37.0, -103.0, -94.4), "OR": (42.0, 46.3, -124.6, -116.5),
    "PA": (39.7, 42.3, -80.5, -74.7), "RI": (41.1, 42.0, -71.9, -71.1), "SC": (32.0, 35.2, -83.4, -78.5),
    "SD": (42.5, 45.9, -104.1, -96.4), "TN": (35.0, 36.7, -90.3, -81.6), "TX": (25.8, 36.5, -106.6, -93.5),
    "UT": (37.0, 42.0, -114.1, -109.0), "VT": (42.7, 45.0, -73.4, -71.5), "VA": (36.5, 39.5, -83.7, -75.2),
    "WA": (45.5, 49.0, -124.8, -116.9), "WV": (37.2, 40.6, -82.6, -77.7), "WI": (42.5, 47.1, -92.9, -86.8),
    "WY": (41.0, 45.0, -111.1, -104.1),
}
REMOTE_STATE_BOXES: dict[str, tuple[float, float, float, float]] = {
    "AK": (55.0, 70.0, -162.0, -141.0), "HI": (19.0, 22.2, -160.2, -154.8),
}
COUNTY_NAMES = ("Washington", "Jefferson", "Franklin", "Jackson", "Lincoln", "Madison", "Clay", "Montgomery",
                "Marion", "Union", "Monroe", "Wayne", "Greene", "Warren", "Grant", "Lake", "Polk", "Douglas")
CSV_COLUMNS = ("town", "state", "county", "zip", "latitude", "longitude")


# -- the generated site --------------------------------------------------------------------------


def box_weight(box: tuple[float, float, float, float]) -> float:
    """A box's rough area, so that towns spread evenly over the map rather than evenly over states."""
    south, north, west, east = box
    return (north - south) * (east - west) * max(0.1, 1 - ((south + north) / 2 / 90) ** 2)


def town_rows(count: int, seed: int = SEED) -> Iterator[list[str]]:
    """`count` CSV rows: unique towns at random points inside their state's bounding box."""
    rng = random.Random(seed)
    states = list(STATE_BOXES)
    weights = [box_weight(STATE_BOXES[state]) for state in states]
    for number in range(1, count + 1):
        if rng.random() < ALASKA_HAWAII_SHARE:
            state = rng.choice(list(REMOTE_STATE_BOXES))
            south, north, west, east = REMOTE_STATE_BOXES[state]
        else:
            state = rng.choices(states, weights)[0]
            south, north, west, east = STATE_BOXES[state]
        yield [
            f"Town {number}",
            state,
            f"{rng.choice(COUNTY_NAMES)} County",
            f"{rng.randint(501, 99950):05d}",
            f"{rng.uniform(south, north):.4f}",
            f"{rng.uniform(west, east):.4f}",
        ]


def generate_site(folder: Path, towns: int) -> Settings:
    """The example site with a generated locations.csv in ``folder``; returns settings pointing at it."""
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "site.toml", folder / "site.toml")
    shutil.copytree(ROOT / "templates", folder / "templates")
    shutil.copytree(ROOT / "static", folder / "static")
    with open(folder / "locations.csv", "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(CSV_COLUMNS)
        writer.writerows(town_rows(towns))
    return site_settings(folder)


def site_settings(folder: Path) -> Settings:
    return Settings(site_file=folder / "site.toml", locations_file=folder / "locations.csv",
                    templates_dir=folder / "templates", static_dir=folder / "static", reload_interval=0)


def site_environment(settings: Settings) -> dict[str, str]:
    """LANDING_* variables for a server process serving the generated site."""
    return clean_environment(LANDING_SITE_FILE=str(settings.site_file),
                             LANDING_LOCATIONS_FILE=str(settings.locations_file),
                             LANDING_TEMPLATES_DIR=str(settings.templates_dir),
                             LANDING_STATIC_DIR=str(settings.static_dir), LANDING_RELOAD_INTERVAL="0")


# -- printing ------------------------------------------------------------------------------------


def kib(size: int) -> str:
    return f"{size / 1024:.1f} KiB"


# -- 1-2: load time and memory -------------------------------------------------------------------


def best_of(repeats: int, action: Callable[[], Any]) -> tuple[float, Any]:
    """(fastest wall time in seconds, the last result)."""
    best, result = float("inf"), None
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - started)
    return best, result


def measure_memory_here(folder: Path) -> dict[str, int]:
    """Run in a fresh process: resident KiB after imports, after loading, after the first landing page."""
    gc.collect()
    before = proc_status_kib("VmRSS")
    snapshot = load_snapshot(site_settings(folder))
    gc.collect()
    loaded = proc_status_kib("VmRSS")
    peak = proc_status_kib("VmHWM")
    snapshot.renderer.render_landing(next(iter(snapshot.catalog.pages.values())))
    gc.collect()
    rendered = proc_status_kib("VmRSS")
    return {"before": before, "loaded": loaded, "peak": peak, "rendered": rendered,
            "objects": len(gc.get_objects())}


def measure_memory(folder: Path) -> dict[str, int]:
    command = [sys.executable, __file__, "--child-memory", str(folder)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def report_load_and_memory(settings: Settings) -> Snapshot:
    heading("Load and memory")
    seconds, snapshot = best_of(3, lambda: load_snapshot(settings))
    figure("load_snapshot (validate + index), best of 3", f"{seconds:.2f} s", f"target <= {LOAD_TARGET_SECONDS:g} s",
           seconds <= LOAD_TARGET_SECONDS)
    memory = measure_memory(settings.site_file.parent)
    added = (memory["loaded"] - memory["before"]) / 1024
    figure("RSS before loading (imports only)", f"{memory['before'] / 1024:.1f} MB")
    figure("RSS after loading", f"{memory['loaded'] / 1024:.1f} MB", f"target <= {MEMORY_TARGET_MB:g} MB",
           memory["loaded"] / 1024 <= MEMORY_TARGET_MB)
    figure("  added by the snapshot", f"{added:.1f} MB")
    figure("  peak RSS while loading (VmHWM)", f"{memory['peak'] / 1024:.1f} MB")
    figure("RSS after first page (nearby index)", f"{memory['rendered'] / 1024:.1f} MB")
    figure("Python objects tracked by the GC", f"{memory['objects']:,}")
    return snapshot  # type: ignore[no-any-return]


# -- 3: render rate ------------------------------------------------------------------------------


def report_render(snapshot: Snapshot, count: int) -> None:
    heading("Render rate (uncached)")
    renderer = snapshot.renderer
    served = Served(snapshot, Settings())
    pages = list(snapshot.catalog.pages.values())
    sample = random.Random(SEED).sample(pages, min(count, len(pages)))
    started = time.perf_counter()
    renderer.render_landing(pages[0])  # compiles the templates and builds the nearby-towns index
    figure("first landing page after a load", f"{(time.perf_counter() - started) * 1000:,.0f} ms",
           "templates + nearby index")
    rates = {
        "render_landing (render only)": timed_rate(sample, renderer.render_landing),
        "_response (render + gzip + ETag)": timed_rate(sample, lambda page: served._response(page.path)),
    }
    for label, rate in rates.items():
        figure(label, f"{rate:,.0f} pages/s", f"{1000 / rate:.2f} ms/page")
    full = rates["_response (render + gzip + ETag)"]
    figure(f"all {len(pages):,} pages once, one core", f"{len(pages) / full:.0f} s")


def timed_rate(items: list[Any], action: Callable[[Any], Any]) -> float:
    """Items per second for ``action`` over ``items``."""
    gc.collect()
    started = time.perf_counter()
    for item in items:
        action(item)
    return len(items) / (time.perf_counter() - started)


# -- 4: HTTP throughput --------------------------------------------------------------------------


@dataclass(frozen=True)
class Fetched:
    status: int
    headers: dict[str, str]
    body: bytes


def fetch(url: str, accept_gzip: bool = False, timeout: float = 10) -> Fetched:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip" if accept_gzip else "identity"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return Fetched(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())


@dataclass(frozen=True)
class Run:
    """One wrk run against one server."""

    rps: float
    cpu_us: float  # the server's CPU time (user + system) per request: steadier than rps on a busy machine


def wrk(url: str, seconds: float, accept_gzip: bool) -> tuple[int, float]:
    """(requests, requests per second) of one wrk run (-t1 -c32); warns about errors and non-2xx answers."""
    command = ["wrk", "-t1", f"-c{WRK_CONNECTIONS}", f"-d{seconds:g}s", url]
    if accept_gzip:
        command[1:1] = ["-H", "Accept-Encoding: gzip"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True)
    for problem in ("Socket errors", "Non-2xx or 3xx responses"):
        if problem in result.stdout:
            print(f"  warning: wrk against {url}: " + next(line.strip() for line in result.stdout.splitlines()
                                                          if problem in line), flush=True)
    count = re.search(r"(\d+) requests in", result.stdout)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    if not count or not rate:
        raise RuntimeError(f"unexpected wrk output:\n{result.stdout}\n{result.stderr}")
    return int(count.group(1)), float(rate.group(1))


def measured_run(server: Server, path: str, seconds: float, accept_gzip: bool) -> Run:
    cpu_before = cpu_seconds(server.process.pid)
    requests, rps = wrk(server.url(path), seconds, accept_gzip)
    cpu_used = cpu_seconds(server.process.pid) - cpu_before
    return Run(rps, cpu_used / max(requests, 1) * 1e6)


def landing_command() -> list[str]:
    return [sys.executable, "-m", "landing", "serve"]


def bare_command(body_file: Path, path: str) -> list[str]:
    return [sys.executable, __file__, "--child-bare", str(body_file), path]


def check_bare(server: Server, path: str, body: bytes) -> None:
    """The bare server answers the landing page's bytes, plain, to every client: not landing's own app."""
    for accept_gzip in (False, True):
        answer = fetch(server.url(path), accept_gzip)
        if answer.body != body or "content-encoding" in answer.headers or "etag" in answer.headers:
            raise RuntimeError(f"the bare server does not answer the page's plain bytes (headers {answer.headers})")


def report_page_sizes(server: Server, path: str) -> bytes:
    """Print the page's sizes (plain, gzip) and the stylesheet's; return the plain page."""
    plain = fetch(server.url(path))
    zipped = fetch(server.url(path), accept_gzip=True)
    figure("landing page path", path)
    figure("HTML size", kib(len(plain.body)))
    figure("gzip size (as served)", kib(len(zipped.body)), f"encoding: {zipped.headers.get('content-encoding', 'none')}")
    stylesheet = re.search(rb'<link rel="stylesheet" href="([^"]+)"', plain.body)
    if stylesheet:
        css = fetch(server.url(stylesheet.group(1).decode())).body
        figure("CSS size", kib(len(css)), f"gzip {kib(len(gzip.compress(css, 9)))}")
    return plain.body


def interleaved_runs(servers: list[Server], path: str, seconds: float, rounds: int,
                     accept_gzip: bool) -> dict[str, list[Run]]:
    """``rounds`` wrk runs per server, alternating servers, after a short warm-up run each."""
    for server in servers:
        wrk(server.url(path), 1, accept_gzip)
    runs: dict[str, list[Run]] = {server.name: [] for server in servers}
    for _ in range(rounds):
        for server in servers:
            runs[server.name].append(measured_run(server, path, seconds, accept_gzip))
    return runs


def report_comparison(label: str, runs: dict[str, list[Run]]) -> None:
    """Each run's figures, then landing/bare: of the median rates, per round, and of CPU time per request."""
    landing, bare = runs["landing"], runs["bare"]
    for name, values in runs.items():
        figure(f"  {name} requests/s", " ".join(f"{run.rps:,.0f}" for run in values))
        figure(f"  {name} server CPU us/request", " ".join(f"{run.cpu_us:.0f}" for run in values))
    landing_rps, bare_rps = statistics.median(r.rps for r in landing), statistics.median(r.rps for r in bare)
    ratio = landing_rps / bare_rps
    figure("median requests/s landing / bare", f"{landing_rps:,.0f} / {bare_rps:,.0f}")
    figure(f"ratio landing/bare ({label})", f"{ratio:.3f}", f"target >= {RATIO_TARGET:g}", ratio >= RATIO_TARGET)
    per_round = statistics.median(a.rps / b.rps for a, b in zip(landing, bare))
    figure("  median of per-round ratios", f"{per_round:.3f}")
    cpu_ratio = statistics.median(r.cpu_us for r in bare) / statistics.median(r.cpu_us for r in landing)
    figure("  CPU-time ratio bare/landing", f"{cpu_ratio:.3f}", "= rps ratio if CPU-bound")


def report_background_load() -> None:
    """Other work on the machine skews requests/s (not so much CPU time per request): say how much there is."""
    busy = busy_cores()
    figure("  cores busy before the runs (other work)", f"{busy:.2f} of {os.cpu_count()}")
    if busy > 0.2:
        print("  warning: the machine is busy with other work: requests/s are noisy; "
              "the CPU-time ratio is the steadier figure", flush=True)


def report_http(settings: Settings, snapshot: Snapshot, folder: Path, seconds: float, rounds: int) -> None:
    heading(f"HTTP throughput (wrk -t1 -c{WRK_CONNECTIONS} -d{seconds:g}s, {rounds} interleaved rounds)")
    if shutil.which("wrk") is None:
        print("  skipped: wrk is not installed (apt-get install wrk)")
        return
    pages = list(snapshot.catalog.pages.values())
    path = pages[len(pages) // 2].path
    servers: list[Server] = []
    try:
        landing = start_server("landing", landing_command(), site_environment(settings), folder)
        servers.append(landing)
        wait_ready(landing, "/healthz")
        started = time.perf_counter()
        fetch(landing.url(path), timeout=READY_TIMEOUT_SECONDS)
        figure("first landing page request (HTTP)", f"{(time.perf_counter() - started) * 1000:,.0f} ms",
               "render + nearby index")
        body = report_page_sizes(landing, path)
        body_file = folder / "page.html"
        body_file.write_bytes(body)
        bare = start_server("bare", bare_command(body_file, path), clean_environment(), folder)
        servers.append(bare)
        wait_ready(bare, path)
        check_bare(bare, path, body)
        print(f"  uvicorn options of landing serve, used for both: {uvicorn_options_used(bare)}", flush=True)
        figure("server RSS after start: landing / bare", f"{landing.rss_mb():.0f} / {bare.rss_mb():.0f} MB")
        for label, accept_gzip in (("plain", False), ("gzip", True)):
            print(f"  -- {label} clients", flush=True)
            report_background_load()
            report_comparison(label, interleaved_runs(servers, path, seconds, rounds, accept_gzip))
        figure("server RSS after runs: landing / bare", f"{landing.rss_mb():.0f} / {bare.rss_mb():.0f} MB")
    finally:
        for server in servers:
            stop_server(server)


# -- child processes -----------------------------------------------------------------------------


def serve_bare(body_file: Path, path: str, host: str, port: int) -> None:
    """A Starlette app with one route returning constant bytes, under `landing serve`'s uvicorn options."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    body = body_file.read_bytes()

    async def constant(request: Request) -> Response:
        return Response(body, media_type="text/html; charset=utf-8")

    serve_like_landing(Starlette(routes=[Route(path, constant)]), host, port)


# -- command line --------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--towns", type=int, default=25_000, help="towns in the generated locations.csv (default 25000)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 200 pages rendered, 3-second wrk runs")
    parser.add_argument("--pages", type=int, help="pages rendered for the render rate (default 2000; 200 with --quick)")
    parser.add_argument("--seconds", type=float, help="duration of each wrk run (default 10; 3 with --quick)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved wrk runs per server and client kind (default 3)")
    parser.add_argument("--child-memory", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-bare", nargs=2, metavar=("BODY", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--host", default="127.0.0.1", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.pages = args.pages or (200 if args.quick else 2000)
    args.seconds = args.seconds or (3 if args.quick else 10)
    return args


def main() -> int:
    args = parse_args()
    if args.child_memory:
        print(json.dumps(measure_memory_here(args.child_memory)))
        return 0
    if args.child_bare:
        serve_bare(Path(args.child_bare[0]), args.child_bare[1], args.host, args.port)
        return 0
    with tempfile.TemporaryDirectory(prefix="landing-bench-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        settings = generate_site(folder / "site", args.towns)
        heading(f"Site: {args.towns:,} generated towns (seed {SEED}) in {folder}")
        figure("locations.csv", kib(settings.locations_file.stat().st_size),
               f"made in {time.perf_counter() - started:.1f} s")
        snapshot = report_load_and_memory(settings)
        figure("pages in the catalog", f"{len(snapshot.catalog.pages):,}")
        report_render(snapshot, args.pages)
        report_http(settings, snapshot, folder, args.seconds, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
