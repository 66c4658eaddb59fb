"""Publishing towns from the staff area, timed on a generated site (benchmarks/pages.py's, fixed seed).

1. the preview of an upload that adds one town: the upload checked as `landing check` checks a file, compared
   with the towns served (whose similarity is measured too, the first time);
2. the same preview again (the preview page shown once more), and the preview of the next upload once the
   first one is published (the towns served were measured as that upload: not again);
3. publishing's summary (the two sides' catalogs compared, no rendering), and an instance switching to the
   published version (loading it; what each instance does within its reload interval).

It prints figures and never fails on them. Run from the project root:

    /work/venv/bin/python benchmarks/publish.py              # 5,000 towns
    /work/venv/bin/python benchmarks/publish.py --towns 25000
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python benchmarks/publish.py` puts benchmarks/, not the root, on the path

from benchmarks._common import figure, heading  # noqa: E402
from benchmarks.pages import generate_site  # noqa: E402

from landing import publish  # noqa: E402
from landing.web.live import LiveSite  # noqa: E402

NEW_TOWN = "Oakwood Hills,IL,McHenry County,60013,42.2478,-88.2434"


def timed(action: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds of this process, result)."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    result = action()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--towns", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = generate_site(Path(folder) / "site", args.towns)
        text = settings.locations_file.read_text(encoding="utf-8")
        columns = text.split("\n", 1)[0].count(",")
        first = text.rstrip("\n") + "\n" + NEW_TOWN + "," * (columns - NEW_TOWN.count(",")) + "\n"
        second = first.replace("Oakwood Hills", "Oakwood Hills Village")
        heading(f"Publishing towns: {args.towns:,} towns")
        with publish.staged_for(first, "towns.csv") as path:
            draft = settings.replace(locations_file=path)
            wall, cpu, found = timed(lambda: publish.preview(settings, draft))
            figure("pages", f"{found.pages:,}")
            figure("preview of an upload (2 checks)", f"{wall:.1f} s", f"CPU {cpu:.1f} s; {found.summary}")
            wall, cpu, _ = timed(lambda: publish.preview(settings, draft))
            figure("the same preview again", f"{wall * 1000:.0f} ms")
            wall, cpu, summary = timed(lambda: publish.summarize(settings, draft))
            figure("publish: summary of the change", f"{wall:.1f} s", f"CPU {cpu:.1f} s")
            site = LiveSite(settings)
            wall, cpu, switched = timed(lambda: site.use_locations(path, 1))
            figure("an instance switching to it", f"{wall:.1f} s", f"CPU {cpu:.1f} s; loaded: {switched}")
            with publish.staged_for(second, "towns.csv") as next_path:
                wall, cpu, _ = timed(lambda: publish.preview(draft, settings.replace(locations_file=next_path)))
                figure("preview of the next upload (1 check)", f"{wall:.1f} s", f"CPU {cpu:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
