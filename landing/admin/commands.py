"""`landing users ...` and `landing leads ...`: the staff side of the command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import getpass
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from landing.admin import auth
from landing.errors import LandingError
from landing.leads.model import STATUSES, LeadFilter, utc_in
from landing.leads.query import filter_detail
from landing.leads.store import LeadStore, store_for
from landing.settings import Settings

T = TypeVar("T")


def add_staff_commands(commands: Any) -> None:
    users = commands.add_parser("users", help="staff accounts: add, list, disable").add_subparsers(
        dest="users_command", required=True, metavar="ACTION")
    add = users.add_parser("add", help="add a staff user (password prompted, or read from stdin when piped)")
    add.add_argument("email")
    add.set_defaults(run=run_users_add)
    users.add_parser("list", help="list staff users").set_defaults(run=run_users_list)
    disable = users.add_parser("disable", help="disable a staff user and sign them out everywhere")
    disable.add_argument("email")
    disable.set_defaults(run=run_users_disable)

    leads = commands.add_parser("leads", help="leads: export, purge").add_subparsers(
        dest="leads_command", required=True, metavar="ACTION")
    export = leads.add_parser("export", help="write leads as CSV (the same file as the staff area's download)")
    export.add_argument("--since", type=dt.date.fromisoformat, help="first day, YYYY-MM-DD")
    export.add_argument("--until", type=dt.date.fromisoformat, help="last day, YYYY-MM-DD")
    export.add_argument("--office", help="office id")
    export.add_argument("--status", choices=STATUSES)
    export.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    export.set_defaults(run=run_leads_export)
    purge = leads.add_parser("purge", help="delete leads older than DAYS days, with their notifications")
    purge.add_argument("--older-than", type=int, required=True, metavar="DAYS")
    purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    purge.set_defaults(run=run_leads_purge)


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


def read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password (at least 12 characters): ")
    if getpass.getpass("Same password again: ") != first:
        raise LandingError("the two passwords differ; nothing was changed")
    return first


def run_users_add(args: argparse.Namespace, settings: Settings) -> int:
    email = auth.normalize_email(args.email)
    if "@" not in email:
        raise LandingError(f"'{args.email}' is not an email address")
    password_hash = auth.hash_password(read_password())

    async def add(store: LeadStore) -> None:
        if await store.get_user(email) is not None:
            raise LandingError(f"a user {email} already exists")
        await store.add_user(email, password_hash)

    with_store(settings, add)
    print(f"added {email}")
    return 0


def run_users_list(args: argparse.Namespace, settings: Settings) -> int:
    for user in with_store(settings, lambda store: store.list_users()):
        print(f"{user.email}\t{'disabled' if user.disabled else 'active'}\tsince {user.created_at[:10]}")
    return 0


def run_users_disable(args: argparse.Namespace, settings: Settings) -> int:
    email = auth.normalize_email(args.email)
    if not with_store(settings, lambda store: store.set_user_disabled(email, True)):
        raise LandingError(f"no user {email} (see `landing users list`)")
    print(f"disabled {email}; their sessions are ended")
    return 0


def run_leads_export(args: argparse.Namespace, settings: Settings) -> int:
    lead_filter = LeadFilter(since=args.since.isoformat() if args.since else None,
                             until=args.until.isoformat() if args.until else None, office=args.office,
                             status=args.status)
    detail = filter_detail(lead_filter)

    async def export(store: LeadStore) -> int:
        rows = [0]
        target = args.output.open("wb") if args.output else sys.stdout.buffer
        try:
            async with contextlib.aclosing(store.export_csv(lead_filter, rows)) as chunks:
                async for chunk in chunks:
                    target.write(chunk)
        finally:
            if args.output:
                target.close()
            else:
                target.flush()
        await store.audit(actor(), "export", detail, rows[0])
        return rows[0]

    count = with_store(settings, export)
    print(f"exported {count} leads" + (f" to {args.output}" if args.output else ""), file=sys.stderr)
    return 0


def run_leads_purge(args: argparse.Namespace, settings: Settings) -> int:
    if args.older_than < 1:
        raise LandingError("--older-than must be at least 1 day")
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



