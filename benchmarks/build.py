"""Static build and page-quality benchmarks for `landing`, at 25,000 towns.

On a site generated like benchmarks/pages.py's (the example site's site.toml, templates and static files,
and a locations.csv of N towns spread over the US, fixed random seed), it measures:

0. `landing build --jobs N` for one core and for every core, as a command (wall clock, and the peak memory
   of all its processes together: target <= 300 MB), beside Hugo building the same pages from front matter
   (a layout made of one of landing's rendered pages) on the same cores: the ratio of pages/s on every core
   (target >= 2.5x; "hugo not installed" and no ratio without `hugo` on PATH);
1. `landing build` into an empty folder: pages per second (wall clock and CPU time of this process, one
   core) and the output's size (target >= 1,500 pages/s);
2. a rebuild with nothing changed (files written: 0) and with one town's intro changed;
3. the similarity report: rendering every page, then shingling every page's <main> and finding each
   one's closest sibling, timed apart; and `landing check` as a whole (target: similarity < 60 s);
4. the quality gate's cost when the site loads ([quality] gate in site.toml).

It prints figures and never fails on them. The machine's load is printed first: on a shared machine the
CPU-time figures are the steadier ones. Run from the project root:

    /work/venv/bin/python benchmarks/build.py            # 25,000 towns
    /work/venv/bin/python benchmarks/build.py --quick    # 2,000 towns
    /work/venv/bin/python benchmarks/build.py --towns 10000
    /work/venv/bin/python benchmarks/build.py --parallel-only --repeat 3   # section 0 alone, best of 3
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python benchmarks/build.py` puts benchmarks/, not the root, on the path

from benchmarks._common import clean_environment, figure, heading  # noqa: E402
from benchmarks.pages import generate_site  # noqa: E402  (the same generated site as benchmarks/pages.py)

from landing import quality  # noqa: E402
from landing.build import build_site  # noqa: E402
from landing.check import check_site  # noqa: E402
from landing.pages import own_names  # noqa: E402
from landing.settings import Settings  # noqa: E402
from landing.snapshot import load_snapshot  # noqa: E402

RATE_TARGET = 1500.0  # pages per second, one core
HUGO_RATIO_TARGET = 2.5  # landing build --jobs (all cores) against Hugo on the same cores
MEMORY_TARGET_MB = 300.0  # all processes of a parallel build together
SIMILARITY_TARGET_SECONDS = 60.0


def timed(action: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds of this process, result)."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    result = action()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def folder_size(folder: Path) -> tuple[int, int]:
    files = [path for path in folder.rglob("*") if path.is_file()]
    return len(files), sum(path.stat().st_size for path in files)


def machine() -> None:
    heading("Machine")
    load = os.getloadavg()
    figure("cores / load average (1, 5 min)", f"{os.cpu_count()} / {load[0]:.1f}, {load[1]:.1f}")
    _, cpu, _ = timed(lambda: sum(range(10_000_000)))
    figure("reference: sum(range(10**7))", f"{cpu:.3f} s CPU", "an idle 3 GHz core: ~0.15 s")


def report_build(settings: Settings, out: Path) -> None:
    heading("landing build")
    wall, cpu, result = timed(lambda: build_site(settings, out, jobs=1))  # one core: CPU time is all here
    files, size = folder_size(out)
    figure("pages", f"{result.pages:,}")
    figure("cold build, wall clock", f"{wall:.1f} s", f"{result.pages / wall:,.0f} pages/s")
    figure("cold build, CPU time", f"{cpu:.1f} s", f"target >= {RATE_TARGET:,.0f} pages/s")
    figure("  pages per CPU second", f"{result.pages / cpu:,.0f}", f"target >= {RATE_TARGET:,.0f}", result.pages / cpu >= RATE_TARGET)
    figure("output", f"{files:,} files", f"{size / 1_048_576:,.1f} MiB")
    figure("  per landing page", f"{size / result.pages / 1024:.1f} KiB")
    wall, cpu, again = timed(lambda: build_site(settings, out))
    figure("rebuild, nothing changed", f"{wall:.1f} s", f"{again.written} files written")
    csv = settings.locations_file
    rows = csv.read_text().splitlines()
    rows[1] = "Renamed " + rows[1]  # a new name and slug: its page moves, and the pages listing it change
    csv.write_text("\n".join(rows) + "\n")
    wall, cpu, changed = timed(lambda: build_site(settings, out))
    figure("rebuild, one town renamed", f"{wall:.1f} s", f"{changed.written} written, {changed.removed} removed")


def tree_rss_mb(session: int) -> float:
    """Memory of every process of a session (a build and its workers) together, in MB: the sum of their
    proportional set sizes (a page shared by forked workers counts once in all, not once per process)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as stat:
                fields = stat.read().rpartition(")")[2].split()
            if int(fields[3]) == session:
                with open(f"/proc/{entry}/smaps_rollup", encoding="ascii") as rollup:
                    total += next(int(line.split()[1]) for line in rollup if line.startswith("Pss:"))
        except (OSError, StopIteration, ValueError):
            continue
    return total / 1024


@dataclass(frozen=True)
class Run:
    """A command's run: wall seconds, CPU seconds of all its processes, peak memory of them together (MB)."""

    wall: float
    cpu: float
    peak: float


def timed_command(command: list[str], env: dict[str, str] | None = None) -> Run:
    """Run a command to its end, watching the memory of all its processes together."""
    started, before = time.perf_counter(), os.times()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True)
    peak = 0.0
    while process.poll() is None:
        peak = max(peak, tree_rss_mb(process.pid))
        time.sleep(0.05)
    wall, after = time.perf_counter() - started, os.times()
    if process.returncode:
        raise RuntimeError(f"{command[0]} failed: {process.stderr.read().decode()[-2000:] if process.stderr else ''}")
    # Children's CPU time counts the workers too: a pool joins them before the command ends.
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return Run(wall, cpu, peak)


def best(runs: list[Run]) -> Run:
    """The fastest of repeated runs (the one least slowed by the rest of a shared machine), and the
    highest peak of memory of any."""
    fastest = min(runs, key=lambda run: run.wall)
    return Run(fastest.wall, fastest.cpu, max(run.peak for run in runs))


def hugo_site(folder: Path, settings: Settings) -> int:
    """The same town pages for Hugo: one content file of front matter per page, and a layout made of one of
    landing's own rendered pages with the town's names as parameters (the same markup, the same size)."""
    snapshot = load_snapshot(settings)
    pages = list(snapshot.catalog.pages.values())
    sample = pages[0]
    html = snapshot.renderer.render_path(sample.path).replace("{{", "{ {")
    location = sample.location
    for value, name in ((location.place, "place"), (location.town, "town"), (location.county or "\0", "county"),
                        (location.zip or "\0", "zip")):
        html = html.replace(value, "{{ .Params.%s }}" % name)
    (folder / "layouts" / "_default").mkdir(parents=True)
    (folder / "layouts" / "_default" / "single.html").write_text(html)
    (folder / "layouts" / "_default" / "list.html").write_text("<html><body>{{ .Title }}</body></html>")
    (folder / "hugo.toml").write_text('baseURL = "https://pain.example.com/"\ndisableKinds = ["taxonomy", "term", '
                                      '"RSS", "sitemap", "robotsTXT", "404"]\n')
    for page in pages:
        there = page.location
        target = folder / "content" / page.treatment.slug / f"{there.slug}.md"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f'---\ntitle: "{page.name}"\ntown: "{there.town}"\nplace: "{there.place}"\n'
                          f'county: "{there.county}"\nzip: "{there.zip}"\nlatitude: {there.latitude}\n'
                          f'longitude: {there.longitude}\n---\n')
    return len(pages)


def report_parallel(settings: Settings, folder: Path, repeat: int = 1) -> None:
    heading("landing build --jobs N beside Hugo (same pages, same cores, one run)")
    env = {**clean_environment(LANDING_SITE_FILE=str(settings.site_file),
                               LANDING_LOCATIONS_FILE=str(settings.locations_file),
                               LANDING_TEMPLATES_DIR=str(settings.templates_dir),
                               LANDING_STATIC_DIR=str(settings.static_dir), LANDING_SECRET_KEY="benchmark-secret")}
    landing = [sys.executable, "-m", "landing", "build", "--quiet"]
    pages = len(load_snapshot(settings).catalog.pages)
    cores = os.cpu_count() or 1
    hugo = shutil.which("hugo") is not None
    if hugo:
        hugo_site(folder / "hugo", settings)
    runs: dict[str, list[Run]] = {}
    # Taken in turns, each as often: a busy spell of a shared machine slows both sides alike.
    for _ in range(repeat):
        for jobs in sorted({1, cores}):
            out = folder / f"public-{jobs}"
            shutil.rmtree(out, ignore_errors=True)  # a cold build each time
            runs.setdefault(f"landing {jobs}", []).append(timed_command([*landing, "--jobs", str(jobs), str(out)], env))
        for procs in sorted({1, cores}) if hugo else ():
            out = folder / f"hugo-{procs}"
            shutil.rmtree(out, ignore_errors=True)
            runs.setdefault(f"hugo {procs}", []).append(timed_command(
                ["hugo", "--quiet", "-s", str(folder / "hugo"), "-d", str(out)], {**os.environ, "GOMAXPROCS": str(procs)}))
    found = {name: best(each) for name, each in runs.items()}
    for jobs in sorted({1, cores}):
        run = found[f"landing {jobs}"]
        figure(f"landing build --jobs {jobs}", f"{pages / run.wall:,.0f} pages/s",
               f"{run.wall:.1f} s, {run.cpu:.1f} s CPU, peak {run.peak:,.0f} MB",
               run.peak <= MEMORY_TARGET_MB if jobs == cores else None)
    if not hugo:
        figure("hugo", "hugo not installed", "no ratio")
        return
    for procs in sorted({1, cores}):
        run = found[f"hugo {procs}"]
        figure(f"hugo (GOMAXPROCS={procs})", f"{pages / run.wall:,.0f} pages/s",
               f"{run.wall:.1f} s, {run.cpu:.1f} s CPU, peak {run.peak:,.0f} MB")
    mine, theirs = found[f"landing {cores}"], found[f"hugo {cores}"]
    ratio = theirs.wall / mine.wall
    figure(f"landing / hugo on {cores} cores", f"{ratio:.2f}x", f"target >= {HUGO_RATIO_TARGET}x", ratio >= HUGO_RATIO_TARGET)
    figure("  pages per CPU second, landing / hugo", f"{theirs.cpu / mine.cpu:.2f}x", "(steadier on a busy machine)")


def report_similarity(settings: Settings) -> None:
    heading("Similarity report (landing check)")
    snapshot = load_snapshot(settings)
    renderer, catalog = snapshot.renderer, snapshot.catalog
    pages = list(catalog.pages.values())
    renderer.render_path(pages[0].path)  # compiles the templates and builds the nearby index: not timed
    wall, cpu, rendered = timed(lambda: [renderer.render_path(page.path) for page in pages])
    figure("render every page (as check does)", f"{cpu:.1f} s CPU", f"{len(pages) / cpu:,.0f} pages/s")

    def shingle(rendered: list[str]) -> quality.SimilarityMeter:
        meter = quality.SimilarityMeter()
        for page, html in zip(pages, rendered):
            meter.add(page.treatment.slug, page.path, html, own_names(page), (page.treatment.name,))
        return meter

    _, shingling, meter = timed(lambda: shingle(rendered))
    rendered.clear()  # 25,000 pages of HTML: let them go before timing the rest
    figure("shingle every page's <main>", f"{shingling:.1f} s CPU", f"{shingling / len(pages) * 1000:.2f} ms/page")
    _, nearest, results = timed(meter.results)
    figure("find every page's closest sibling", f"{nearest:.1f} s CPU")
    figure("similarity, shingles + siblings", f"{shingling + nearest:.1f} s CPU",
           f"target < {SIMILARITY_TARGET_SECONDS:g} s", shingling + nearest < SIMILARITY_TARGET_SECONDS)
    found = quality.distribution([measured.similarity for measured in results.values()])
    figure("distribution: median / p90 / max", f"{found.median:.3f} / {found.p90:.3f} / {found.max:.3f}")
    wall, cpu, report = timed(lambda: check_site(settings))
    figure("landing check, everything", f"{cpu:.1f} s CPU", f"wall {wall:.1f} s")


def report_gate(settings: Settings) -> None:
    heading("Quality gate: measuring when the site loads")
    plain, _, _ = timed(lambda: load_snapshot(settings))
    site = settings.site_file.read_text()
    settings.site_file.write_text(site + "\n[quality]\ngate = 0.96\n")
    try:
        wall, cpu, snapshot = timed(lambda: load_snapshot(settings))
    finally:
        settings.site_file.write_text(site)
    renderer = snapshot.renderer
    figure("load without a gate", f"{plain:.1f} s")
    figure("load with gate = 0.96", f"{wall:.1f} s", f"CPU {cpu:.1f} s")
    figure("  pages held back", f"{len(renderer.held_back):,} of {len(snapshot.catalog.pages):,}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--towns", type=int, help="towns in the generated locations.csv (default 25000; 2000 with --quick)")
    parser.add_argument("--quick", action="store_true", help="a smoke run on 2,000 towns")
    parser.add_argument("--skip-check", action="store_true", help="skip the similarity report and the gate")
    parser.add_argument("--parallel-only", action="store_true",
                        help="only `landing build --jobs N` beside Hugo (section 0)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each build of section 0, taken in turns; the fastest counts (default 1)")
    args = parser.parse_args()
    towns = args.towns or (2000 if args.quick else 25_000)
    machine()
    with tempfile.TemporaryDirectory(prefix="landing-build-bench-") as tmp:
        folder = Path(tmp)
        settings = generate_site(folder / "site", towns).replace(secret_key="benchmark-secret")
        heading(f"Site: {towns:,} generated towns in {folder}")
        report_parallel(settings, folder, max(1, args.repeat))
        if args.parallel_only:
            return 0
        report_build(settings, folder / "public")
        if not args.skip_check:
            report_similarity(settings)
            report_gate(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
