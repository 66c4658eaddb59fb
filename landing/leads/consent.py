"""Consent: a patient's revocation as staff record it, and a lead's consent certificate.

A revocation ("asked not to be contacted") says when the patient asked, how (METHODS), an optional note,
and who recorded it when. It is final: a lead with one is marked in the staff area and the export, and is
left out of offline conversions and webhooks. The certificate is the record of what the person agreed
to: the consent text as the form showed it, its version and SHA-256, the page, the time, the keyed hash
of their address, and the revocation if any.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from landing.catalog import Catalog
from landing.clock import local_text
from landing.leads.model import Lead, utc_now
from landing.leads.store import LeadStore

METHODS = {"phone": "Phone call", "email": "Email", "text": "Text message", "letter": "Letter",
           "in-person": "In person", "other": "Other"}
MAX_NOTE = 500


@dataclass(frozen=True, slots=True)
class Revocation:
    lead_id: str
    revoked_at: str  # when the patient asked (ISO 8601 UTC)
    method: str  # a key of METHODS
    note: str
    recorded_by: str
    recorded_at: str

    @property
    def method_name(self) -> str:
        return METHODS.get(self.method, self.method)


_COLUMNS = "lead_id, revoked_at, method, note, recorded_by, recorded_at"


async def revocation(store: LeadStore, lead_id: str) -> Revocation | None:
    rows = await store.fetch(f"SELECT {_COLUMNS} FROM consent_revocations WHERE lead_id = ?", (lead_id,))
    return Revocation(*(str(value) for value in rows[0])) if rows else None


async def revoked_among(store: LeadStore, lead_ids: list[str]) -> set[str]:
    if not lead_ids:
        return set()
    rows = await store.fetch(f"SELECT lead_id FROM consent_revocations WHERE lead_id IN ({', '.join('?' * len(lead_ids))})",
                             lead_ids)
    return {str(row[0]) for row in rows}


def check_revocation(when: str, method: str, note: str, zone: dt.tzinfo,
                     now: dt.datetime | None = None) -> tuple[str, list[str]]:
    """A staff form's revocation: the time asked (a local ``YYYY-MM-DDTHH:MM`` in ``zone``) as ISO UTC, and what is
    wrong, each problem with its fix."""
    problems = []
    revoked_at = ""
    try:
        moment = dt.datetime.fromisoformat(when.strip()).replace(tzinfo=zone)
        if moment > (now or dt.datetime.now(dt.timezone.utc)) + dt.timedelta(minutes=5):
            problems.append("When: that time has not come yet (give the time the patient asked)")
        revoked_at = moment.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")
    except ValueError:
        problems.append("When: give the date and time the patient asked, e.g. 2026-11-27 14:30")
    if method not in METHODS:
        problems.append(f"How: choose one of {', '.join(METHODS.values())}")
    if len(note) > MAX_NOTE or any(ord(char) < 32 and char not in "\r\n\t" for char in note):
        problems.append(f"Note: at most {MAX_NOTE} characters of plain text")
    return revoked_at, problems


async def record_revocation(store: LeadStore, lead_id: str, revoked_at: str, method: str, note: str,
                            actor: str) -> bool:
    """Record it once (a second revocation of the same lead changes nothing); False when there is no such lead or
    it was already revoked."""
    changed = await store.execute_many([
        ("INSERT INTO consent_revocations (lead_id, revoked_at, method, note, recorded_by, recorded_at) "
         "SELECT id, ?, ?, ?, ?, ? FROM leads WHERE id = ? ON CONFLICT (lead_id) DO NOTHING",
         (revoked_at, method, note.strip(), actor, utc_now(), lead_id)),
    ])
    return changed[0] > 0


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def certificate(lead: Lead, revoked: Revocation | None, catalog: Catalog, actor: str) -> str:
    """The consent certificate of ``lead`` as plain text."""
    zone = catalog.site.practice.zone

    def when(stamp: str) -> str:
        return f"{stamp} ({local_text(stamp, zone, seconds=True, label=True)})"

    consent_text = lead.consent_text or "(no consent text was recorded)"
    lines = [
        "Consent certificate",
        "===================",
        f"Practice: {catalog.site.practice.name}",
        f"Lead: {lead.id}",
        f"Received: {when(lead.created_at)}",
        f"Page: {lead.landing_url or '(unknown)'}",
        f"Consent version: {lead.consent_version or '(none)'}",
        f"Consent text SHA-256: {text_hash(lead.consent_text)}",
        f"Client address (keyed hash): {lead.client_hash or '(not recorded)'}",
        "",
        "Consent text, as the form showed it:",
        *(f"    {line}" for line in consent_text.splitlines()),
        "",
    ]
    if revoked is None:
        lines.append("Revocation: none recorded")
    else:
        lines += [
            f"Revocation: the patient asked not to be contacted on {when(revoked.revoked_at)}",
            f"    How: {revoked.method_name}",
            *([f"    Note: {revoked.note}"] if revoked.note else []),
            f"    Recorded by {revoked.recorded_by} on {when(revoked.recorded_at)}",
        ]
    lines += ["", f"Issued {when(utc_now())} to {actor}."]
    return "\n".join(lines) + "\n"
