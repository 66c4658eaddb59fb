"""How much of each town page is its own: the similarity of every page to its closest sibling, on sites a
marketer's first file would make (issue 13's measure).

Two sites, both with the example practice's site.toml, treatment template and offices:

1. the example site with every town's `intro` removed (what a first CSV without local writing looks like);
2. a generated set of real towns from the bundled ZIP code data (landing.gazetteer): every town in the ZIP
   data within 45 miles of an office that the data places without doubt, given by `town,state` only, the
   rest (county, ZIP, coordinates) filled in by the service.

For each it prints the median, 90th percentile and maximum similarity (5-word shingles of the visible text
of <main>, the page's own names taken out: landing.quality), beside the targets (median <= 0.80, p90 <=
0.85), and the most similar page with what it shares. Nothing on the pages is invented: only data of the
practice or of the ZIP code data is added. Run from the project root:

    .venv/bin/python benchmarks/similarity.py
"""

from __future__ import annotations

import csv
import io
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python benchmarks/similarity.py` puts benchmarks/, not the root, on the path

from benchmarks._common import figure, heading  # noqa: E402

from landing.check import check_site  # noqa: E402
from landing.gazetteer import GAZETTEER, Found, town_key  # noqa: E402
from landing.geo import miles_between  # noqa: E402
from landing.settings import Settings  # noqa: E402
from landing.site import load_site  # noqa: E402

MEDIAN_TARGET, P90_TARGET = 0.80, 0.85
RADIUS_MILES = 45.0


def example_without_intros(folder: Path) -> Path:
    rows = list(csv.DictReader(io.StringIO((ROOT / "locations.csv").read_text(encoding="utf-8"))))
    for row in rows:
        row["intro"] = ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return write_site(folder, out.getvalue())


def towns_around_the_offices(folder: Path) -> tuple[Path, int]:
    """Every town of the ZIP code data near an office that the data places for sure, as `town,state`."""
    import zipcodes

    site = load_site(ROOT / "site.toml")
    offices = [(office.latitude, office.longitude) for office in site.offices if office.latitude is not None]
    names: dict[tuple[str, str], str] = {}
    for state in ("IL", "WI"):
        for record in zipcodes.filter_by_state(state):  # type: ignore[no-untyped-call]
            if record.get("zip_code_type") != "STANDARD" or not record.get("lat"):
                continue
            latitude, longitude = float(record["lat"]), float(record["long"])
            if min(miles_between(latitude, longitude, lat, lon) for lat, lon in offices) <= RADIUS_MILES:  # type: ignore[arg-type]
                names.setdefault((town_key(record["city"]), state), record["city"].title())
    rows = []
    for (_, state), town in sorted(names.items()):
        found = GAZETTEER.find(town, state)
        if isinstance(found, Found) and found.county and found.latitude is not None:
            rows.append(f"{town},{state}")
    return write_site(folder, "town,state\n" + "\n".join(rows) + "\n"), len(rows)


def write_site(folder: Path, locations: str) -> Path:
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "site.toml", folder / "site.toml")
    shutil.copytree(ROOT / "templates", folder / "templates")
    shutil.copytree(ROOT / "static", folder / "static")
    (folder / "locations.csv").write_text(locations, encoding="utf-8")
    return folder


def report(title: str, folder: Path) -> None:
    heading(title)
    settings = Settings(site_file=folder / "site.toml", locations_file=folder / "locations.csv",
                        templates_dir=folder / "templates", static_dir=folder / "static",
                        faqs_file=folder / "faqs.csv", check_record=folder / ".landing-check.json")
    started = time.perf_counter()
    checked = check_site(settings)
    found = checked.quality
    assert found is not None
    figure("towns, pages", f"{checked.towns:,} towns, {checked.pages:,} pages", f"{time.perf_counter() - started:.1f} s")
    for slug, spread in found.similarity.items():
        figure(f"{slug}: median", f"{spread.median:.3f}", f"target <= {MEDIAN_TARGET}", spread.median <= MEDIAN_TARGET)
        figure(f"{slug}: 90th percentile", f"{spread.p90:.3f}", f"target <= {P90_TARGET}", spread.p90 <= P90_TARGET)
        figure(f"{slug}: max", f"{spread.max:.3f}")
    top = found.pages[0]
    figure("most similar page", f"{top.path} {top.similarity:.3f}", f"twin {top.twin}: {', '.join(top.advice)}")
    far = [finding for finding in found.findings if finding.kind == "far-office"]
    if far:
        figure("towns held back as far from an office", f"{len(far):,}")


def main() -> None:
    with tempfile.TemporaryDirectory() as temporary:
        report("The example site, every intro removed", example_without_intros(Path(temporary) / "example"))
        folder, count = towns_around_the_offices(Path(temporary) / "generated")
        report(f"{count} real towns within {RADIUS_MILES:g} miles of an office, given by town and state only", folder)


if __name__ == "__main__":
    main()
