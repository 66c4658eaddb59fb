"""`landing users ...` and `landing leads ...`: the staff side of the command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import getpass
import sys
import tomllib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from landing.admin import auth, roles
from landing.cli import whole_number
from landing.errors import LandingError
from landing.leads.conversions import FORMATS, ConversionFile, export_conversions
from landing.leads.model import STATUSES, utc_in
from landing.leads.private import check_output, private_output
from landing.leads.query import filter_detail, parse_filter
from landing.leads.store import LeadStore, store_for
from landing.settings import Settings
from landing.site import Site

T = TypeVar("T")


def add_staff_commands(commands: Any) -> None:
    users = commands.add_parser("users", help="staff accounts: add, list, disable").add_subparsers(
        dest="users_command", required=True, metavar="ACTION")
    add = users.add_parser("add", help="add a staff user (password prompted, or read from stdin when piped)")
    add.add_argument("email")
    role_options(add, default=roles.STAFF)
    add.set_defaults(run=run_users_add)
    users.add_parser("list", help="list staff users with their roles and offices").set_defaults(run=run_users_list)
    role = users.add_parser("role", help="change a user's role and offices (recorded in the audit log)")
    role.add_argument("email")
    role_options(role, default=None)
    role.set_defaults(run=run_users_role)
    disable = users.add_parser("disable", help="disable a staff user and sign them out everywhere")
    disable.add_argument("email")
    disable.set_defaults(run=run_users_disable)

    leads = commands.add_parser("leads", help="leads: export, purge").add_subparsers(
        dest="leads_command", required=True, metavar="ACTION")
    export = leads.add_parser("export", help="write leads as CSV (the same file as the staff area's download)")
    export.add_argument("--since", default="", help="first day, YYYY-MM-DD")
    export.add_argument("--until", default="", help="last day, YYYY-MM-DD")
    export.add_argument("--office", default="", help="office id")
    export.add_argument("--status", default="", help=f"one of {', '.join(STATUSES)}")
    export.add_argument("-o", "--output", type=Path, help="file to write, readable by you alone (default: standard "
                        "output); never through a symbolic link")
    export.add_argument("--force", action="store_true", help="replace the --output file if it exists")
    export.set_defaults(run=run_leads_export)
    conversions = leads.add_parser("conversions", help="write the ads platforms' offline-conversion import file: "
                                   "leads staff moved to the conversion status, by click id only")
    conversions.add_argument("--since", required=True, type=day, metavar="DAY",
                             help="first day (YYYY-MM-DD, in the practice's time zone) of conversions to include")
    conversions.add_argument("--format", choices=FORMATS, default="google",
                             help="google (Google Ads, the default) or microsoft (Microsoft Advertising)")
    conversions.add_argument("-o", "--output", type=Path, help="file to write, readable by you alone (default: "
                             "standard output); never through a symbolic link")
    conversions.add_argument("--force", action="store_true", help="replace the --output file if it exists")
    conversions.set_defaults(run=run_leads_conversions)
    purge = leads.add_parser("purge", help="delete leads older than DAYS days, with their notifications")
    purge.add_argument("--older-than", type=days, required=True, metavar="DAYS",
                       help=f"a whole number of days, 1 to {MAX_DAYS:,}")
    purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    purge.set_defaults(run=run_leads_purge)


def role_options(parser: argparse.ArgumentParser, default: str | None) -> None:
    parser.add_argument("--role", choices=roles.ROLES, default=default, required=default is None,
                        help="admin: users and everything; staff: leads (of --office offices only, when given); "
                             "marketer: site content, coverage and quality, never a lead"
                             + (f" (default: {default})" if default else ""))
    parser.add_argument("--office", action="append", default=[], metavar="ID",
                        help="a staff member sees only these offices' leads (repeat for several; office ids of "
                             "site.toml); none: every office")


def site_offices(settings: Settings) -> list[str] | None:
    """The office ids of site.toml, or None when it cannot be read (then any id is taken as given)."""
    try:
        with open(settings.site_file, "rb") as file:
            offices = tomllib.load(file).get("offices", [])
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return [str(office.get("id", "")) for office in offices if isinstance(office, dict)]


@asynccontextmanager
async def opened(settings: Settings) -> AsyncIterator[LeadStore]:
    store = store_for(settings.database_url)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def with_store(settings: Settings, work: Callable[[LeadStore], Awaitable[T]]) -> T:
    async def run() -> T:
        async with opened(settings) as store:
            return await work(store)

    return asyncio.run(run())


def actor() -> str:
    """Who ran a command, for the audit log."""
    try:
        return f"command line ({getpass.getuser()})"
    except OSError:
        return "command line"


MAX_DAYS = 36_500  # a hundred years: more reaches back before any lead could have been taken
days = whole_number(1, MAX_DAYS)


def practice_words(settings: Settings) -> list[str]:
    """The practice's name from site.toml, when there is one: the first words an attacker tries."""
    try:
        with open(settings.site_file, "rb") as file:
            practice = tomllib.load(file).get("practice", {})
    except (OSError, tomllib.TOMLDecodeError):
        return []
    return [str(practice.get(key, "")) for key in ("name", "short_name") if practice.get(key)]


def practice_site(settings: Settings) -> Site:
    """site.toml as the service reads it (its time zone, conversions, offices)."""
    from landing.site import load_site

    return load_site(settings.site_file, settings.base_url)


def export_zone(settings: Settings) -> dt.tzinfo:
    """The practice's time zone for an export's local times; UTC (said on standard error) without a site.toml."""
    if not settings.site_file.exists():
        print(f"note: no {settings.site_file}, so created_at_local is in UTC (set LANDING_SITE_FILE)", file=sys.stderr)
        return dt.timezone.utc
    return practice_site(settings).practice.zone


def read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password (at least 12 characters, hard to guess: four or more unrelated words): ")
    if getpass.getpass("Same password again: ") != first:
        raise LandingError("the two passwords differ; nothing was changed")
    return first


def run_users_add(args: argparse.Namespace, settings: Settings) -> int:
    email = auth.staff_email(args.email)
    roles.check_role(args.role, args.office, site_offices(settings))  # before the password is asked
    password_hash = auth.hash_password(read_password(), known=[email, *practice_words(settings)])

    async def add(store: LeadStore) -> None:
        if await store.get_user(email) is not None:
            raise LandingError(f"a user {email} already exists")
        await store.add_user(email, password_hash, args.role, args.office)
        await store.audit(actor(), "add user", f"{email}: {roles.describe(args.role, args.office)}")

    with_store(settings, add)
    print(f"added {email} as {roles.describe(args.role, args.office)}")
    return 0


def run_users_list(args: argparse.Namespace, settings: Settings) -> int:
    for user in with_store(settings, lambda store: store.list_users()):
        print(f"{user.email}\t{roles.describe(user.role, user.offices)}\t{'disabled' if user.disabled else 'active'}"
              f"\tsince {user.created_at[:10]}")
    return 0


def run_users_role(args: argparse.Namespace, settings: Settings) -> int:
    email = auth.normalize_email(args.email)
    roles.check_role(args.role, args.office, site_offices(settings))
    now = roles.describe(args.role, args.office)

    async def change(store: LeadStore) -> str:
        user = await store.get_user(email)
        if user is None or not await store.set_role(email, args.role, args.office):
            raise LandingError(f"no user {email} (see `landing users list`)")
        before = roles.describe(user.role, user.offices)
        await store.audit(actor(), "role", f"{email}: {before} -> {now}")
        return before

    before = with_store(settings, change)
    print(f"{email}: {before} -> {now}")
    return 0


def run_users_disable(args: argparse.Namespace, settings: Settings) -> int:
    email = auth.normalize_email(args.email)
    if not with_store(settings, lambda store: store.set_user_disabled(email, True)):
        raise LandingError(f"no user {email} (see `landing users list`)")
    print(f"disabled {email}; their sessions are ended")
    return 0


def run_leads_export(args: argparse.Namespace, settings: Settings) -> int:
    lead_filter, problems = parse_filter({"since": args.since, "until": args.until, "office": args.office,
                                          "status": args.status})
    if problems:
        raise LandingError("; ".join(problems))
    detail = filter_detail(lead_filter)
    zone = export_zone(settings)
    if args.output:
        check_output(args.output, replace=args.force)  # before reading a single lead

    async def export(store: LeadStore) -> int:
        rows = [0]
        with private_output(args.output, replace=args.force) if args.output else contextlib.nullcontext(
                sys.stdout.buffer) as target:
            async with contextlib.aclosing(store.export_csv(lead_filter, rows, zone)) as chunks:
                async for chunk in chunks:
                    target.write(chunk)
            target.flush()
        await store.audit(actor(), "export", detail, rows[0])
        return rows[0]

    count = with_store(settings, export)
    print(f"exported {count} leads" + (f" to {args.output}" if args.output else ""), file=sys.stderr)
    return 0


def day(text: str) -> str:
    try:
        return dt.date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text[:40]}' is not a date (use YYYY-MM-DD, e.g. 2026-11-01)") from None


def run_leads_conversions(args: argparse.Namespace, settings: Settings) -> int:
    site = practice_site(settings)  # the time zone, the conversion status and name
    if args.output:
        check_output(args.output, replace=args.force)

    async def export(store: LeadStore) -> ConversionFile:
        return await export_conversions(store, args.format, args.since, site, actor())

    result = with_store(settings, export)
    data = result.text.encode("utf-8")
    if args.output:
        with private_output(args.output, replace=args.force) as target:
            target.write(data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    left = (f"; {result.left_out} left out: their click id is not one the platform makes" if result.left_out else "")
    print(f"exported {result.rows} {args.format} conversions since {args.since}"
          + (f" to {args.output}" if args.output else "") + left, file=sys.stderr)
    return 0


def run_leads_purge(args: argparse.Namespace, settings: Settings) -> int:
    before = utc_in(-args.older_than * 24 * 60 * 60)
    if not args.yes:
        if not sys.stdin.isatty():
            raise LandingError("purging deletes leads for good: add --yes to confirm when not at a terminal")
        answer = input(f"Delete every lead received before {before[:10]}, with its notifications? Type 'yes': ")
        if answer.strip().lower() != "yes":
            print("nothing was deleted")
            return 1

    async def purge(store: LeadStore) -> int:
        count = await store.purge(before)
        await store.audit(actor(), "purge", f"older than {args.older_than} days (before {before[:10]})", count)
        return count

    print(f"deleted {with_store(settings, purge)} leads received before {before[:10]}")
    return 0



