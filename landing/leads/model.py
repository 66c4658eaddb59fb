"""What a stored lead and a pending notification are, independent of the database holding them."""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass, fields

STATUSES = ("new", "contacted", "scheduled", "closed", "spam")


def utc_now() -> str:
    """Timestamps are ISO 8601 UTC text of one fixed shape, so they sort and compare as strings."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")


def utc_in(seconds: float) -> str:
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds)).isoformat(timespec="microseconds")


def new_id() -> str:
    """A time-ordered random id (48 bits of milliseconds, 80 random bits): sortable, unguessable, no coordination."""
    return f"{int(time.time() * 1000):012x}{os.urandom(10).hex()}"


@dataclass(frozen=True, slots=True)
class Lead:
    id: str
    created_at: str
    name: str
    phone: str  # E.164 when valid (+18475550142); as sent for spam
    email: str
    contact: str  # phone | text | email
    message: str
    treatment: str
    town: str  # the town's slug
    office: str  # the serving office's id
    consent_text: str
    consent_version: str
    landing_url: str = ""
    referrer: str = ""
    user_agent: str = ""
    client_hash: str = ""
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    utm_term: str = ""
    utm_content: str = ""
    gclid: str = ""
    msclkid: str = ""
    fbclid: str = ""
    status: str = "new"
    spam: bool = False
    spam_reason: str = ""

    def __repr__(self) -> str:
        # Never print personal fields, whoever logs this object.
        return f"Lead(id={self.id!r}, office={self.office!r}, treatment={self.treatment!r}, spam={self.spam})"

    __str__ = __repr__


LEAD_COLUMNS = tuple(spec.name for spec in fields(Lead))


@dataclass(frozen=True, slots=True)
class Notice:
    """One pending email to an office about one lead (no personal data in it)."""

    id: str
    lead_id: str
    office: str
    treatment: str
    town: str
    lead_created_at: str
    attempts: int = 0
    # Set by the notifier before sending (landing.leads.duplicates): the first lead this one repeats, and when
    # it came.
    repeat_of: str = ""
    repeat_at: str = ""


@dataclass(frozen=True)
class LeadFilter:
    """What the staff list and the export select."""

    since: str | None = None  # ISO date or time, inclusive
    until: str | None = None  # exclusive
    office: str | None = None
    treatment: str | None = None
    town: str | None = None
    status: str | None = None
    spam: bool = False  # spam is shown only when asked for
    search: str | None = None
    offices: tuple[str, ...] | None = None  # the offices a staff member may see: None for all, () for none


@dataclass(frozen=True, slots=True)
class User:
    email: str
    password_hash: str
    disabled: bool
    created_at: str
    role: str = "staff"  # admin | staff | marketer (landing/admin/roles.py)
    offices: tuple[str, ...] = ()  # a staff member's offices; () for every office


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    email: str
    csrf: str
    created_at: str
    last_seen: str
    role: str = ""  # the user's, read at each request (not stored with the session); "": none, so no page
    offices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LeadEvent:
    at: str
    actor: str
    status: str


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: str
    actor: str
    action: str
    detail: str
    rows: int
