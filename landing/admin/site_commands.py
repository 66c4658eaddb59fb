"""`landing site publish FILE` and `landing site export FILE`: the staff area's towns from the command line, so a
team that keeps locations.csv in git can sync both ways."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from landing import publish
from landing.admin.commands import actor, with_store
from landing.errors import LandingError
from landing.leads.store import LeadStore
from landing.settings import Settings


def add_site_commands(commands: Any) -> None:
    site = commands.add_parser("site", help="towns published to the database: publish, export").add_subparsers(
        dest="site_command", required=True, metavar="ACTION")
    put = site.add_parser("publish", help="check FILE (CSV or .xlsx) as landing check does, print what it changes "
                          "and publish it: every instance serves it within its reload interval")
    put.add_argument("file", type=Path, metavar="FILE", help="a locations.csv, or an Excel workbook (its first sheet)")
    put.add_argument("--yes", action="store_true", help="publish without asking")
    put.set_defaults(run=run_site_publish)
    export = site.add_parser("export", help="write the towns in use (the newest published version, else the file "
                             "on disk) to FILE as CSV")
    export.add_argument("file", type=Path, metavar="FILE")
    export.set_defaults(run=run_site_export)


def run_site_publish(args: argparse.Namespace, settings: Settings) -> int:
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        raise LandingError(f"cannot read {args.file}: {exc.strerror}") from None
    text = publish.upload_text(args.file.name, data)
    current, version = publish.current_source(settings)
    print(f"compared with the towns of {publish.described(version, settings)}", file=sys.stderr)
    found = publish.preview(current, settings.replace(locations_file=publish.staged(text, args.file.name)))
    print("\n".join(publish.publish_lines(found)))
    base = version.number if version else 0
    if not args.yes:
        if not sys.stdin.isatty():
            raise LandingError("publishing changes the live site: add --yes to confirm when not at a terminal")
        if input(f"Publish these towns as version {base + 1}? Type 'yes': ").strip().lower() != "yes":
            print("nothing was published")
            return 1
    source = f"{args.file.name} (landing site publish)"

    async def put(store: LeadStore) -> int | None:
        number = await store.publish_version(text, actor(), found.summary, source, base=base)
        if number is not None:
            await store.audit(actor(), "publish towns", f"version {number}: {found.summary} ({source})")
        return number

    number = with_store(settings, put)
    if number is None:
        raise LandingError("another version was published while this one was checked; run the command again to see "
                           "what yours changes against it")
    print(f"published version {number}: {found.summary}; every instance serves it within its reload interval "
          f"(LANDING_RELOAD_INTERVAL, {settings.reload_interval:g} s)")
    return 0


def run_site_export(args: argparse.Namespace, settings: Settings) -> int:
    current, version = publish.current_source(settings)
    try:
        text = current.locations_file.read_text(encoding="utf-8-sig")
        args.file.write_text(text, encoding="utf-8", newline="")
    except OSError as exc:
        raise LandingError(f"cannot write {args.file}: {exc.strerror}") from None
    print(f"wrote the towns of {publish.described(version, settings)} to {args.file}", file=sys.stderr)
    return 0
