"""Speed to lead: how long each enquiry waited for its first status change, per office, and one reminder
to the office about an enquiry still new after site.toml's ``remind_after_minutes`` of its opening hours.

A reminder is a notice in the outbox like a new-enquiry notice (sent, retried and never lost the same way)
whose id is ``reminder-<lead id>``: the outbox's primary key then makes sure each lead gets one reminder,
however many instances sweep at once. It says what a new-enquiry notice says: no patient details.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from landing.catalog import Catalog
from landing.clock import duration_text, open_seconds, parse_utc
from landing.leads.model import Lead, LeadFilter, utc_in, utc_now
from landing.leads.query import where
from landing.leads.store import LeadStore
from landing.leads.sweeps import sweep_forever
from landing.site import Site

REMINDER_PREFIX = "reminder-"
SWEEP_SECONDS = 60.0  # how often new leads are looked at
SWEEP_DAYS = 14  # leads older than this still new (the service was down for weeks) are not reminded of
SUMMARY_LEADS = 5000  # the summary reads at most the latest this many leads of the filter


def reminder_id(lead_id: str) -> str:
    return REMINDER_PREFIX + lead_id


def is_reminder(notice_id: str) -> bool:
    return notice_id.startswith(REMINDER_PREFIX)


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def waited_open(site: Site, office: str, created_at: str, until: dt.datetime, enough: float | None = None) -> float:
    """Seconds of ``office``'s opening hours between a lead's arrival and ``until`` (with ``enough``: or at least
    that many, counted no further)."""
    known = site.offices_by_id.get(office)
    return open_seconds(known.hours if known else (), site.practice.zone, parse_utc(created_at), until, enough)


def is_overdue(site: Site, office: str, created_at: str, now: dt.datetime) -> bool:
    limit = site.leads.remind_after_minutes * 60
    return waited_open(site, office, created_at, now, enough=limit) >= limit


def overdue(site: Site, lead: Lead, now: dt.datetime) -> bool:
    """Still new after ``remind_after_minutes`` of its office's opening hours."""
    return lead.status == "new" and not lead.spam and is_overdue(site, lead.office, lead.created_at, now)


@dataclass(frozen=True)
class Wait:
    """What the list shows of one lead's wait."""

    text: str  # "first contact after 12 min" / "waiting 1 h 05 min of opening hours"
    overdue: bool


async def first_contacts(store: LeadStore, lead_ids: Sequence[str]) -> dict[str, str]:
    """The time of each lead's first status change, for the leads that had one."""
    if not lead_ids:
        return {}
    marks = ", ".join("?" * len(lead_ids))
    rows = await store.fetch(f"SELECT lead_id, MIN(at) FROM lead_events WHERE lead_id IN ({marks}) GROUP BY lead_id",
                             list(lead_ids))
    return {str(lead_id): str(at) for lead_id, at in rows}


async def waits(store: LeadStore, site: Site, leads: Sequence[Lead]) -> dict[str, Wait]:
    firsts = await first_contacts(store, [lead.id for lead in leads])
    now = now_utc()
    shown: dict[str, Wait] = {}
    for lead in leads:
        first = firsts.get(lead.id)
        if first:
            seconds = (parse_utc(first) - parse_utc(lead.created_at)).total_seconds()
            shown[lead.id] = Wait(f"after {duration_text(seconds)}", False)
        elif lead.status == "new" and not lead.spam:
            late = overdue(site, lead, now)
            waited = waited_open(site, lead.office, lead.created_at, now)
            shown[lead.id] = Wait(f"waiting {duration_text(waited)} of opening hours", late)
    return shown


@dataclass(frozen=True)
class OfficeSpeed:
    office: str
    name: str
    leads: int
    answered: int
    median: str  # from arrival to first status change, as a clock counts it; "" when none was answered
    median_open: str  # the same, counting only the office's opening hours
    overdue: int  # still new past remind_after_minutes of opening hours


async def speed_by_office(store: LeadStore, site: Site, lead_filter: LeadFilter) -> list[OfficeSpeed]:
    """Per office, over the latest SUMMARY_LEADS leads of the filter: how fast staff answered."""
    clause, args = where(lead_filter)
    rows = await store.fetch(
        f"SELECT office, created_at, status, (SELECT MIN(at) FROM lead_events WHERE lead_events.lead_id = leads.id) "
        f"FROM leads WHERE {clause} ORDER BY created_at DESC LIMIT ?", [*args, SUMMARY_LEADS])
    now = now_utc()
    by_office: dict[str, list[tuple[str, str, str | None]]] = {}
    for office, created_at, status, first in rows:
        by_office.setdefault(str(office), []).append((str(created_at), str(status), str(first) if first else None))
    names = [office.id for office in site.offices]
    result = []
    for office in sorted(by_office, key=lambda o: (names.index(o) if o in names else len(names), o)):
        items = by_office[office]
        clock_waits, open_waits, late = [], [], 0
        for created_at, status, first in items:
            if first:
                clock_waits.append((parse_utc(first) - parse_utc(created_at)).total_seconds())
                open_waits.append(waited_open(site, office, created_at, parse_utc(first)))
            elif status == "new" and is_overdue(site, office, created_at, now):
                late += 1
        known = site.offices_by_id.get(office)
        result.append(OfficeSpeed(
            office=office, name=known.name if known else office, leads=len(items), answered=len(clock_waits),
            median=duration_text(statistics.median(clock_waits)) if clock_waits else "",
            median_open=duration_text(statistics.median(open_waits)) if open_waits else "", overdue=late))
    return result


DUE_PER_READ = 500  # new leads looked at per read; a sweep reads on until it has seen them all
_DUE = ("SELECT id, office, treatment, town, created_at FROM leads WHERE status = 'new' AND spam = 0 "
        "AND (created_at, id) > (?, ?) "  # a range of the (created_at, id) index: each read starts where one ended
        "AND NOT EXISTS (SELECT 1 FROM outbox WHERE outbox.id = ? || leads.id) "
        f"ORDER BY created_at, id LIMIT {DUE_PER_READ}")
_REMIND = ("INSERT INTO outbox (id, lead_id, office, treatment, town, lead_created_at, next_attempt_at) "
           "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING")


async def remind_overdue(store: LeadStore, site: Site, now: dt.datetime | None = None) -> int:
    """Put a reminder in the outbox for each lead newly overdue; how many were added.

    Every new lead of the last SWEEP_DAYS is looked at, a page at a time in the order they came: reading only
    the oldest few hundred would leave an overdue lead of an open office unreminded behind that many others not
    overdue yet (an office closed for the weekend, after a busy Friday)."""
    now = (now or now_utc()).astimezone(dt.timezone.utc)  # stored times are UTC text, compared as text
    stamp = now.isoformat(timespec="microseconds")
    after = ((now - dt.timedelta(days=SWEEP_DAYS)).isoformat(timespec="microseconds"), "")
    added = 0
    while True:
        rows = await store.fetch(_DUE, (*after, REMINDER_PREFIX))
        statements = []
        for lead_id, office, treatment, town, created_at in rows:
            if is_overdue(site, str(office), str(created_at), now):
                statements.append((_REMIND, (reminder_id(str(lead_id)), lead_id, office, treatment, town, created_at,
                                             stamp)))
        if statements:
            added += sum(await store.execute_many(statements))
        if len(rows) < DUE_PER_READ:
            return added
        after = (str(rows[-1][4]), str(rows[-1][0]))


class Reminders:
    """Runs in the app's lifespan: sweeps for overdue leads at once, then every ``sweep_seconds``."""

    def __init__(self, store: LeadStore, catalog: Callable[[], Catalog], wake: Callable[[], None],
                 sweep_seconds: float = SWEEP_SECONDS) -> None:
        self.store, self.catalog, self.wake, self.sweep_seconds = store, catalog, wake, sweep_seconds

    async def run(self) -> None:
        await sweep_forever("reminders", lambda: remind_overdue(self.store, self.catalog().site), self.wake,
                            self.sweep_seconds)
