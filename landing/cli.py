"""The `landing` command line: thin wrappers over the library."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from landing.errors import ConfigError, LandingError
from landing.settings import SettingError, Settings, whole


def main(argv: Sequence[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        return int(args.run(args, settings))
    except ConfigError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        print(f"{len(exc.problems)} problem{'s' if len(exc.problems) != 1 else ''} found; nothing was changed.",
              file=sys.stderr)
        return 1
    except LandingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def make_parser() -> argparse.ArgumentParser:
    """Every command and option of `landing` (the README lists them all: tests/test_docs.py)."""
    parser = argparse.ArgumentParser(prog="landing", description="Local landing pages for a medical practice.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = commands.add_parser("init", help="write a new practice's site folder (site.toml, locations.csv, a "
                               "treatment template) to edit")
    init.add_argument("folder", type=Path, metavar="DIR", help="the folder to create (or an empty one)")
    init.set_defaults(run=run_init)

    serve = commands.add_parser("serve", help="serve the site (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=whole_number(1, 65_535), default=8000, help="port (default 8000)")
    serve.add_argument("--reload", action="store_true", help="restart when Python code changes (development)")
    serve.add_argument("--workers", type=whole_number(1, 64), default=1, help="worker processes (default 1)")
    serve.set_defaults(run=run_serve)

    check = commands.add_parser("check", help="validate site.toml, templates and locations.csv; render every page; "
                                "report on page quality")
    check.add_argument("--locations", type=Path, help="check this CSV instead of LANDING_LOCATIONS_FILE")
    check.add_argument("--max-similarity", type=similarity_threshold, metavar="SHARE",
                       help="exit non-zero when a page is more similar than this (0-1) to a sibling, e.g. 0.8")
    check.add_argument("--json", action="store_true", help="print the whole report as JSON on standard output")
    check.add_argument("--diff", type=Path, metavar="OLD",
                       help="list the pages an older locations.csv (or the folder of a landing build) has that "
                            "the current files add, remove and change, and the 301s a changed slug needs")
    check.add_argument("--map", type=Path, metavar="FILE.svg", help="write the coverage map (towns by office) as SVG")
    check.add_argument("--worklist", type=Path, metavar="FILE.csv",
                       help="write every town as a row of locations.csv, the pages most in need of local content "
                            "first, each saying what to add: fill it in (in Excel) and use it as locations.csv")
    check.set_defaults(run=run_check)

    confirm = commands.add_parser("confirm", help="accept the site files as they are now: a running service loads "
                                  "them even if they remove more than LANDING_RELOAD_MAX_DROP of the pages")
    confirm.set_defaults(run=run_confirm)

    build = commands.add_parser("build", help="write the whole site as static files into OUT_DIR")
    build.add_argument("out", type=Path, metavar="OUT_DIR", help="folder to write into (new, or an earlier build's)")
    build.add_argument("--quiet", action="store_true", help="no progress bar and no summary (problems still print)")
    build.add_argument("--jobs", type=whole_number(1, 256), metavar="N",
                       help="worker processes rendering pages (default: one per core); the files are the same")
    build.set_defaults(run=run_build)

    from landing.admin.commands import (
        add_staff_commands,  # users and leads: the staff side
    )

    add_staff_commands(commands)
    from landing.admin.site_commands import add_site_commands

    add_site_commands(commands)
    return parser


def run_init(args: argparse.Namespace, settings: Settings) -> int:
    from landing.starter import write_starter

    written = write_starter(args.folder)
    print(f"wrote a new site into {args.folder}:")
    for path in written:
        print(f"  {path}")
    print(f"next: cd {args.folder}, replace the placeholders (see README.md), then `landing check` and `landing serve`")
    return 0


def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    from landing.web.serve import serve

    serve(settings, host=args.host, port=args.port, workers=args.workers, reload=args.reload)
    return 0


def whole_number(minimum: int, maximum: int) -> Callable[[str], int]:
    """An option's whole number, checked as settings are (a port of 99999 is an error, not another port)."""
    parse = whole(minimum, maximum)

    def convert(text: str) -> int:
        try:
            return int(parse(text))
        except SettingError as exc:
            shown = text if len(text) <= 40 else text[:40] + "..."
            raise argparse.ArgumentTypeError(f"'{shown}' {exc}") from None

    return convert


def similarity_threshold(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a share between 0 and 1 (e.g. 0.8 for 80%)")
    return value


def run_check(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from landing import check
    from landing.coverage import coverage_svg

    if args.locations:
        settings = settings.replace(locations_file=args.locations)
    else:
        settings = towns_in_use(settings, quiet=args.json)
    try:
        report = check.check_site(settings, check.read_slug_record(settings.check_record))
    except ConfigError as exc:
        if not args.json:
            raise
        print(json.dumps({"ok": False, "problems": exc.problems}, indent=1, ensure_ascii=False))
        return 1
    found = report.quality
    assert found is not None and report.catalog is not None
    diff = check.diff_site(settings, args.diff, report.catalog) if args.diff else None
    if args.map:
        args.map.write_text(coverage_svg(report.catalog, found.held_back), encoding="utf-8")
    if not args.locations:  # a proposed CSV is compared with the record, but does not become it
        check.write_slug_record(settings.check_record, found.slug_record)
    above = found.above(args.max_similarity) if args.max_similarity is not None else []
    far = found.far_towns
    if args.worklist:
        rows = check.write_worklist(args.worklist, report.catalog, found)
        if not args.json:
            print(f"worklist of {rows:,} towns written to {args.worklist}, the ones most in need of local content "
                  "first: fill in what each row asks for, then save it as your locations.csv", file=sys.stderr)
    if args.json:
        print(json.dumps(check.report_json(report, args.max_similarity, diff), indent=1, ensure_ascii=False))
        return 1 if above or far else 0
    # The ok line alone on standard output, as scripts read it; the report is advice, on standard error.
    print(report.summary)
    print(check.quality_text(found, report.catalog, settings.locations_file.name), file=sys.stderr)
    if args.map:
        print(f"coverage map written to {args.map}", file=sys.stderr)
    if diff is not None:
        print(check.diff_text(diff))
    if above:
        print(f"{len(above):,} page{'s are' if len(above) != 1 else ' is'} more similar than {args.max_similarity:g} "
              f"to a sibling (--max-similarity {args.max_similarity:g}): give {'them' if len(above) != 1 else 'it'} "
              "local content (an intro, the county, coordinates); the most similar are listed above",
              file=sys.stderr)
    if far:
        print(f"{len(far):,} town{'s are' if len(far) != 1 else ' is'} farther from {'their' if len(far) != 1 else 'its'} "
              f"office than max_office_miles ({report.catalog.site.quality.max_office_miles:g}), so "
              f"{'their' if len(far) != 1 else 'its'} pages are held back: see Other findings above for the fix",
              file=sys.stderr)
    return 1 if above or far else 0


def towns_in_use(settings: Settings, quiet: bool = False) -> Settings:
    """The settings that read the towns the service serves: the newest version published from the staff area (or
    `landing site publish`), else the file on disk; a published version is said on standard error unless
    ``quiet``."""
    from landing.publish import current_source, described

    from landing.leads.store import StoreError

    try:
        current, version = current_source(settings)
    except StoreError as exc:
        raise LandingError(f"cannot read the towns published from the staff area ({exc}); the database is "
                           "LANDING_DATABASE_URL (to check a file alone: landing check --locations FILE)") from None
    if version is not None and not quiet:  # until a first publish, the file on disk is the source, as ever
        print(f"towns: {described(version, settings)}", file=sys.stderr)
    return current


def run_confirm(args: argparse.Namespace, settings: Settings) -> int:
    from landing.reload_guard import confirm, confirmation_file

    snapshot = confirm(settings)
    print(f"confirmed site version {snapshot.version} ({len(snapshot.catalog.pages):,} pages) in "
          f"{confirmation_file(settings)}: a running service loads these files at its next check, however many "
          "pages they remove; any later edit needs no confirmation unless it removes many pages again")
    return 0


def run_build(args: argparse.Namespace, settings: Settings) -> int:
    from landing.build import build_site

    bars = []

    def progress(total: int) -> Callable[[int], object]:
        from tqdm import tqdm

        # disable=None: no bar when standard error is not a terminal (a log file, CI).
        bar = tqdm(total=total, unit="file", disable=None, file=sys.stderr, dynamic_ncols=True, leave=False)
        bars.append(bar)
        return bar.update

    settings = towns_in_use(settings, quiet=args.quiet)
    try:
        result = build_site(settings, args.out, progress=None if args.quiet else progress, jobs=args.jobs)
    finally:
        for bar in bars:
            bar.close()
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if not args.quiet:
        print(result.summary)
    return 0
