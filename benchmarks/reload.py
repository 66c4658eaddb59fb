"""The quality gate's cost at load and reload, at 25,000 towns (issue 16).

On the site benchmarks/pages.py generates, with `gate = 0.96` under [quality] in site.toml, it measures
`landing.snapshot.load_snapshot` (catalog, renderer and the gate's similarity measure):

1. without the quality cache: every page rendered, shingled and compared (what every load cost before);
2. cold, with nothing cached: the same work, and the cache file (LANDING_QUALITY_CACHE) written;
3. a restart: a new process with the cache file (target <= 10 s);
4. a reload after one town's intro is edited, in the same process (target <= 2 s);
5. `landing check`'s similarity report with the cache file (target <= 10 s);
6. serving during a reload: `landing serve` answers a cached page in a loop while an edited template makes
   it measure every page again; the 99th percentile of those answers, beside the one before the edit;
7. `landing serve` starting, with nothing cached and from the cache file: when it first answers (/healthz,
   a lead could be stored) and when its town pages are served (the sitemap answers 200; until then they
   answer 503 while the gate measures them: landing.web.live).

Each load runs in a fresh child process (a restart), or in the same one (a reload), and reports its wall
time and CPU time. It prints figures and never fails on them. Run from the project root:

    .venv/bin/python benchmarks/reload.py              # 25,000 towns
    .venv/bin/python benchmarks/reload.py --towns 5000
    .venv/bin/python benchmarks/reload.py --serving-only   # step 6 alone
    .venv/bin/python benchmarks/reload.py --start-only     # step 7 alone
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python benchmarks/reload.py` puts benchmarks/, not the root, on the path

from benchmarks._common import figure, heading, start_server, stop_server, wait_ready  # noqa: E402
from benchmarks.pages import (  # noqa: E402
    generate_site,
    landing_command,
    site_environment,
    site_settings,
)
from landing.settings import Settings  # noqa: E402

GATE = 0.96
RESTART_TARGET, RELOAD_TARGET, CHECK_TARGET = 10.0, 2.0, 10.0


def child(folder: Path, cache: str, steps: list[str]) -> list[dict[str, float]]:
    """Run ``steps`` (load, edit-reload, check) in a fresh process; their wall and CPU seconds."""
    code = f"""
import csv, json, sys, time
sys.path.insert(0, {str(ROOT)!r})
from pathlib import Path
from benchmarks.pages import site_settings
from landing.check import check_site
from landing.snapshot import load_snapshot
from landing.quality_cache import cache_for
settings = site_settings(Path({str(folder)!r}))
settings = settings.replace(quality_cache=Path({cache!r}) if {cache!r} else None)
out = []
for step in {steps!r}:
    if step == "edit":
        rows = list(csv.reader(settings.locations_file.read_text().splitlines()))
        rows[1][0] = rows[1][0].split(" (")[0] + " (" + str(time.time_ns()) + ")"  # a town renamed: its pages move
        with settings.locations_file.open("w", newline="") as file:
            csv.writer(file).writerows(rows)
        continue
    wall, cpu = time.perf_counter(), time.process_time()
    if step == "check":
        check_site(settings)
    else:
        snapshot = load_snapshot(settings)
    measure = cache_for(settings.quality_cache, settings.site_file).seconds
    out.append({{"step": step, "wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu, "measure": measure,
                 "measured": snapshot.renderer.quality_cache.measured if step == "load" else 0,
                 "held": len(snapshot.renderer.held_back_by_gate) if step == "load" else 0}})
print(json.dumps(out))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


class Prober:
    """Asks for one page over one keep-alive connection, again and again, and keeps each answer's time."""

    def __init__(self, port: int, path: str) -> None:
        self.port, self.path = port, path
        self.times: list[tuple[float, float]] = []  # (when it was sent, seconds it took)
        self.failures = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not self.stop.is_set():
            sent = time.perf_counter()
            try:
                connection.request("GET", self.path)
                answer = connection.getresponse()
                answer.read()
                if answer.status != 200:
                    self.failures += 1
            except (OSError, http.client.HTTPException):
                self.failures += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.times.append((sent, time.perf_counter() - sent))
            time.sleep(0.002)  # a visitor at a time, not a flood: what one page's latency is while reloading

    def between(self, start: float, end: float) -> list[float]:
        return [took for sent, took in self.times if start <= sent < end]


def p99(times: list[float]) -> float:
    return statistics.quantiles(times, n=100, method="inclusive")[98] if len(times) > 1 else (times or [0.0])[0]


def serving_during_reload(folder: Path, settings: Settings, cache: str) -> None:
    """Step 6: a cached page's answers while an edited template makes the service measure every page again."""
    env = {**site_environment(settings), "LANDING_RELOAD_INTERVAL": "0.5", "LANDING_RELOAD_SETTLE_SECONDS": "0.2",
           "LANDING_QUALITY_CACHE": cache}
    server = start_server("landing", landing_command(), env, folder)
    template = next((settings.templates_dir / "treatments").glob("*.html"))
    original = template.read_text()
    try:
        wait_ready(server, "/sitemap.xml", timeout=900)  # the town pages measured and served
        with open(server.log, "rb") as log:
            started_log = len(log.read())
        sitemap = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        sitemap.request("GET", "/sitemap.xml")
        urls = re.findall(r"<loc>https?://[^/<]+(/[^<]+)</loc>", sitemap.getresponse().read().decode())
        path = next(url for url in urls if url.count("/") == 3)  # /treatment/town/
        prober = Prober(server.port, path)
        prober.thread.start()
        time.sleep(5)
        edited = time.perf_counter()
        template.write_text(original.replace("<p>", "<p>Ask us about it. ", 1))  # every page measured again
        deadline = edited + 900
        done_line = b"site files changed: now serving"  # the reload's (not the startup measure's "now serving")
        while time.perf_counter() < deadline and done_line not in server.log.read_bytes()[started_log:]:
            time.sleep(0.1)
        done = time.perf_counter()
        time.sleep(1)
        prober.stop.set()
        prober.thread.join()
        before, during = prober.between(0, edited), prober.between(edited, done)
        figure("reload after a template edit (every page)", f"{done - edited:.1f} s",
               "done" if done < deadline else "not done in 900 s")
        figure("a cached page, p99 before the edit", f"{p99(before) * 1000:.1f} ms", f"{len(before):,} answers")
        figure("a cached page, p99 during the reload", f"{p99(during) * 1000:.1f} ms",
               f"{len(during):,} answers, max {max(during, default=0) * 1000:.0f} ms")
        figure("  failed answers", f"{prober.failures}")
    finally:
        template.write_text(original)
        stop_server(server)


def service_start(settings: Settings, folder: Path, cache: str, label: str) -> None:
    """Step 7: `landing serve` from its start until it answers, and until it serves its town pages."""
    env = {**site_environment(settings), "LANDING_QUALITY_CACHE": cache}
    started = time.perf_counter()
    server = start_server("landing", landing_command(), env, folder)
    try:
        wait_ready(server, "/healthz", timeout=900)
        answering = time.perf_counter() - started
        wait_ready(server, "/sitemap.xml", timeout=900)
        serving = time.perf_counter() - started
    finally:
        stop_server(server)
    figure(f"landing serve, {label}: answers", f"{answering:.1f} s", "leads, /healthz, home, hubs")
    figure("  town pages served (503 until then)", f"{serving:.1f} s", f"target <= {RESTART_TARGET:g} s",
           serving <= RESTART_TARGET)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--towns", type=int, default=25_000)
    parser.add_argument("--site", type=Path, help="an already generated site folder to use")
    parser.add_argument("--check-only", action="store_true", help="only the landing check figures")
    parser.add_argument("--serving-only", action="store_true", help="only the figures of serving during a reload")
    parser.add_argument("--start-only", action="store_true", help="only the figures of the service's start")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="landing-reload-bench-") as tmp:
        folder = args.site or Path(tmp) / "site"
        settings = site_settings(folder) if args.site else generate_site(folder, args.towns)
        site = settings.site_file.read_text()
        if "[quality]" not in site:
            settings.site_file.write_text(site + f"\n[quality]\ngate = {GATE}\n")
        cache = str(Path(tmp) / "quality.cache")
        heading(f"Quality gate = {GATE} at {args.towns:,} towns; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        if args.serving_only:
            serving_during_reload(folder, settings, cache)
            return 0
        if args.start_only:
            service_start(settings, folder, cache, "nothing cached")
            service_start(settings, folder, cache, "from the cache file")
            return 0
        if not args.check_only:
            (plain,) = child(folder, "", ["load"])
            figure("load without the cache (baseline)", f"{plain['wall']:.1f} s", f"CPU {plain['cpu']:.1f} s")
            (cold,) = child(folder, cache, ["load"])
            figure("cold load, nothing cached", f"{cold['wall']:.1f} s", f"{cold['measured']:,.0f} pages measured")
            restart, reload = child(folder, cache, ["load", "edit", "load"])
            figure("restart, from the cache file", f"{restart['wall']:.1f} s", f"target <= {RESTART_TARGET:g} s",
                   restart["wall"] <= RESTART_TARGET)
            figure("  pages measured", f"{restart['measured']:,.0f}", f"CPU {restart['cpu']:.1f} s")
            figure("reload after one town's edit", f"{reload['wall']:.1f} s", f"target <= {RELOAD_TARGET:g} s",
                   reload["wall"] <= RELOAD_TARGET)
            figure("  pages measured", f"{reload['measured']:,.0f}", f"CPU {reload['cpu']:.1f} s")
            figure("  pages held back (same as without the cache)", f"{reload['held']:,.0f}", f"baseline {plain['held']:,.0f}")
            serving_during_reload(folder, settings, cache)
            Path(cache).unlink(missing_ok=True)
            service_start(settings, folder, cache, "nothing cached")
            service_start(settings, folder, cache, "from the cache file")
        settings.site_file.write_text(site)  # no gate: check measures the similarity itself
        (uncached_check,) = child(folder, "", ["check"])
        (filled,) = child(folder, cache, ["check"])  # fills the cache for a site without a gate
        (check,) = child(folder, cache, ["edit", "check"])
        figure("landing check without the cache (baseline)", f"{uncached_check['wall']:.1f} s", f"CPU {uncached_check['cpu']:.1f} s")
        figure("landing check after one town's edit", f"{check['wall']:.1f} s", f"CPU {check['cpu']:.1f} s")
        figure("  of which the similarity report", f"{check['measure']:.1f} s CPU", f"target <= {CHECK_TARGET:g} s",
               check["measure"] <= CHECK_TARGET)
        figure("  the same, nothing cached (baseline)", f"{uncached_check['measure']:.1f} s CPU",
               f"(every page shingled and compared; {filled['measure']:.1f} s writing the file too)")
    return 0


if __name__ == "__main__":
    started = time.perf_counter()
    code = main()
    print(f"\n  ({time.perf_counter() - started:.0f} s in all)")
    sys.exit(code)
