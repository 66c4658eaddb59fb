"""Loading a site whose towns are given by name and state only, at 25,000 towns (issue 13's figure).

The towns are real: 25,000 of the places in the ZIP code data (landing.gazetteer) that it places for sure,
all over the US, written as `town,state` with nothing else, so that the service fills in every county,
ZIP code and position when it loads. [quality] allows far towns (they are spread over the country).
Each measurement runs in a new process, as a start of the service does: the ZIP code data is read and
indexed from nothing every time. It prints the load time (best of 3) and the peak memory of the process,
beside the targets (2 s, 250 MB) and beside the same towns given with every column (no lookup).

    .venv/bin/python benchmarks/autofill.py            # 25,000 towns
    .venv/bin/python benchmarks/autofill.py --towns 2000
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks._common import busy_cores, figure, heading  # noqa: E402

LOAD_TARGET_SECONDS, MEMORY_TARGET_MB = 2.0, 250.0

MEASURE = """
import json, resource, sys, time
from pathlib import Path
from landing.settings import Settings
from landing.snapshot import load_snapshot
folder = Path(sys.argv[1])
started = time.perf_counter()
snapshot = load_snapshot(Settings(site_file=folder / "site.toml", locations_file=folder / "locations.csv",
                                  templates_dir=folder / "templates", static_dir=folder / "static",
                                  faqs_file=folder / "faqs.csv"))
seconds = time.perf_counter() - started
filled = sum(1 for location in snapshot.catalog.locations if location.filled)
print(json.dumps({"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "towns": len(snapshot.catalog.locations), "filled": filled}))
"""


def real_towns(count: int) -> tuple[str, str]:
    """(town,state rows, the same towns with every column) for ``count`` towns the ZIP code data places for sure."""
    import zipcodes

    from landing.gazetteer import GAZETTEER, Found, town_key
    from landing.states import STATES

    seen: set[tuple[str, str]] = set()
    bare, full = ["town,state"], ["town,state,county,zip,latitude,longitude"]
    for state in sorted(STATES):
        for record in zipcodes.filter_by_state(state):  # type: ignore[no-untyped-call]
            key = (town_key(record["city"]), state)
            if key in seen or record.get("zip_code_type") != "STANDARD":
                continue
            seen.add(key)
            town = record["city"].title()
            found = GAZETTEER.find(town, state)
            if isinstance(found, Found) and found.latitude is not None and "," not in town:
                bare.append(f"{town},{state}")
                full.append(f"{town},{state},{found.county},{found.zip},{found.latitude},{found.longitude}")
    step = max(1, (len(bare) - 1) // count)
    rows = list(range(1, len(bare), step))[:count]
    return "\n".join([bare[0], *(bare[i] for i in rows)]) + "\n", "\n".join([full[0], *(full[i] for i in rows)]) + "\n"


def site(folder: Path, locations: str) -> Path:
    folder.mkdir(parents=True)
    shutil.copytree(ROOT / "templates", folder / "templates")
    shutil.copytree(ROOT / "static", folder / "static")
    text = (ROOT / "site.toml").read_text(encoding="utf-8")
    (folder / "site.toml").write_text(text + "\n[quality]\nallow_far_towns = true\n", encoding="utf-8")
    (folder / "locations.csv").write_text(locations, encoding="utf-8")
    return folder


def measure(folder: Path) -> dict[str, float]:
    runs = [json.loads(subprocess.run([sys.executable, "-c", MEASURE, str(folder)], check=True, capture_output=True,
                                      text=True, cwd=ROOT).stdout) for _ in range(3)]
    best = min(runs, key=lambda run: run["seconds"])
    return {**best, "peak_mb": max(run["peak_mb"] for run in runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--towns", type=int, default=25_000)
    args = parser.parse_args()
    heading(f"Loading {args.towns:,} real towns given by name and state (busy cores before: {busy_cores():.1f} of 2)")
    bare, full = real_towns(args.towns)
    with tempfile.TemporaryDirectory() as temporary:
        filled = measure(site(Path(temporary) / "bare", bare))
        given = measure(site(Path(temporary) / "full", full))
    figure("towns (filled in from the ZIP code data)", f"{int(filled['towns']):,} ({int(filled['filled']):,})")
    figure("load, town and state only", f"{filled['seconds']:.2f} s", f"target <= {LOAD_TARGET_SECONDS:g} s",
           filled["seconds"] <= LOAD_TARGET_SECONDS)
    figure("  peak memory of the process", f"{filled['peak_mb']:.0f} MB", f"target <= {MEMORY_TARGET_MB:g} MB",
           filled["peak_mb"] <= MEMORY_TARGET_MB)
    figure("load, every column given (no lookup)", f"{given['seconds']:.2f} s", f"{given['peak_mb']:.0f} MB")


if __name__ == "__main__":
    main()
