"""Duplicate enquiries: a lead with the same phone number or email address as an earlier lead, received within
site.toml's ``duplicate_days`` of it, is a repeat of that earlier lead (the first of them in that window).

Matching uses what is already stored with each lead (the phone in E.164 form, the email as validated,
compared without regard to case), through indexes: nothing more about anyone is kept. A repeat is shown
beside its first lead in the staff area, its notification says it is a repeat, and a repeat that converts
counts once with its first lead in the offline-conversion files.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from landing.catalog import Catalog
from landing.clock import parse_utc
from landing.leads.model import Lead, Notice
from landing.leads.store import LeadStore

_MATCH_COLUMNS = "id, created_at, phone, lower(email), office"


@dataclass(frozen=True, slots=True)
class Contact:
    """What matching needs of a lead."""

    id: str
    created_at: str
    phone: str
    email: str  # lower case
    office: str = ""

    @classmethod
    def of(cls, lead: Lead) -> Contact:
        return cls(lead.id, lead.created_at, lead.phone, lead.email.lower(), lead.office)

    def shares(self, other: Contact) -> bool:
        return bool((self.phone and self.phone == other.phone) or (self.email and self.email == other.email))


def window(days: int) -> dt.timedelta:
    return dt.timedelta(days=days)


async def candidates(store: LeadStore, contacts: Sequence[Contact], days: int,
                     later: bool = False) -> list[Contact]:
    """Non-spam leads sharing a phone or email with any of ``contacts``, received up to ``days`` days before the
    earliest of them (and, with ``later``, up to ``days`` after the latest)."""
    phones = sorted({c.phone for c in contacts if c.phone})
    emails = sorted({c.email for c in contacts if c.email})
    if days <= 0 or not (phones or emails):
        return []
    first = min(parse_utc(c.created_at) for c in contacts) - window(days)
    last = max(parse_utc(c.created_at) for c in contacts) + (window(days) if later else dt.timedelta(0))
    matches = []
    args: list[object] = []
    if phones:
        matches.append(f"phone IN ({', '.join('?' * len(phones))})")
        args += phones
    if emails:
        matches.append(f"lower(email) IN ({', '.join('?' * len(emails))})")
        args += emails
    rows = await store.fetch(
        f"SELECT {_MATCH_COLUMNS} FROM leads WHERE spam = 0 AND ({' OR '.join(matches)}) "
        "AND created_at >= ? AND created_at <= ? ORDER BY created_at, id",
        [*args, first.isoformat(timespec="microseconds"), last.isoformat(timespec="microseconds")])
    return [Contact(str(a), str(b), str(c), str(d or ""), str(e)) for a, b, c, d, e in rows]


def first_of(contact: Contact, pool: Iterable[Contact], days: int) -> Contact | None:
    """The earliest lead of ``pool`` before ``contact`` and within ``days`` of it that shares a phone or email."""
    start = parse_utc(contact.created_at) - window(days)
    for other in pool:  # oldest first
        if (other.id != contact.id and (other.created_at, other.id) < (contact.created_at, contact.id)
                and parse_utc(other.created_at) >= start and contact.shares(other)):
            return other
    return None


async def repeats_of(store: LeadStore, leads: Sequence[Lead], days: int) -> dict[str, Contact]:
    """For each of ``leads`` that is a repeat, the first lead it repeats."""
    contacts = [Contact.of(lead) for lead in leads if not lead.spam]
    pool = await candidates(store, contacts, days)
    found = {}
    for contact in contacts:
        first = first_of(contact, pool, days)
        if first is not None:
            found[contact.id] = first
    return found


async def later_repeats(store: LeadStore, lead: Lead, days: int) -> list[Contact]:
    """The leads that repeat ``lead`` (it is the first lead of each)."""
    contact = Contact.of(lead)
    pool = await candidates(store, [contact], days, later=True)
    return [other for other in pool if parse_utc(other.created_at) > parse_utc(contact.created_at)
            and first_of(other, pool, days) == contact]


class RepeatNotices:
    """The notifier's look at a new-enquiry notice before it is sent: is this lead a repeat?"""

    def __init__(self, store: LeadStore, catalog: Callable[[], Catalog]) -> None:
        self.store, self.catalog = store, catalog

    async def __call__(self, notice: Notice) -> Notice:
        days = self.catalog().site.leads.duplicate_days
        if days <= 0 or notice.id.startswith("reminder-"):
            return notice
        lead = await self.store.get(notice.lead_id)
        if lead is None:
            return notice
        first = (await repeats_of(self.store, [lead], days)).get(lead.id)
        return replace(notice, repeat_of=first.id, repeat_at=first.created_at) if first else notice


def counted_once(converted: Sequence[Contact], days: int) -> set[str]:
    """Of leads that converted (oldest first), the ids that count: a repeat of a converted lead does not."""
    kept: set[str] = set()
    for contact in converted:
        if first_of(contact, converted, days) is None:
            kept.add(contact.id)
    return kept
