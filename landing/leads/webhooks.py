"""Webhooks: each new lead announced to a practice's or an office's URL as JSON, signed, through the outbox.

A sweep puts one outbox notice per webhook and lead (id ``webhook-<webhook key>-<lead id>``: the outbox's
primary key keeps it to one however many instances sweep), and the notifier delivers it with the same
retries and backoff as an email (landing.web.webhooks does the HTTP). Spam, and leads whose consent was
revoked, are never sent.

The body is JSON. By default it holds no personal data: the lead's id, office, treatment, town, time and
the staff link. A webhook's ``personal`` list opts into named personal fields (name, phone, email,
contact, message): that sends health data to whoever runs the URL, so the README warns about it.

Signature (the scheme Stripe uses): a header ``Landing-Signature: t=<unix seconds>,v1=<hex>`` where hex is
HMAC-SHA256 with the webhook's secret over ``<t>.<body bytes>``. A receiver recomputes it, compares in
constant time, and refuses a ``t`` more than five minutes from its clock (a replay).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from landing.catalog import Catalog
from landing.leads.model import Lead, utc_in, utc_now
from landing.leads.store import LeadStore
from landing.site import Site, Webhook

PREFIX = "webhook-"
SIGNATURE_HEADER = "Landing-Signature"
TOLERANCE_SECONDS = 300
SWEEP_SECONDS = 2.0
SWEEP_HOURS = 24  # leads older than this are not sent (a webhook added today gets at most the last day's leads)

# New non-spam leads, not revoked, without this webhook's notice yet.
_DUE = ("SELECT id, office, treatment, town, created_at FROM leads WHERE spam = 0 AND created_at >= ? {office}"
        "AND NOT EXISTS (SELECT 1 FROM outbox WHERE outbox.id = ? || leads.id) {revoked}"
        "ORDER BY created_at LIMIT 500")
_ADD = ("INSERT INTO outbox (id, lead_id, office, treatment, town, lead_created_at, next_attempt_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING")
# Revocations (landing.leads.consent) are kept in their own table; a lead with one is never sent.
NOT_REVOKED = "AND NOT EXISTS (SELECT 1 FROM consent_revocations WHERE consent_revocations.lead_id = leads.id) "


def notice_prefix(webhook: Webhook) -> str:
    return f"{PREFIX}{webhook.key}-"


def is_webhook(notice_id: str) -> bool:
    return notice_id.startswith(PREFIX)


def webhook_of(notice_id: str, site: Site) -> Webhook | None:
    """The configured webhook a notice is for (None when it was removed from site.toml since)."""
    return next((hook for hook in site.webhooks if notice_id.startswith(notice_prefix(hook))), None)


async def queue_webhooks(store: LeadStore, site: Site) -> int:
    """Put a notice in the outbox for each webhook and each new lead it has not had; how many were added."""
    since, stamp = utc_in(-SWEEP_HOURS * 3600), utc_now()
    statements = []
    for hook in site.webhooks:
        sql = _DUE.format(office="AND office = ? " if hook.office else "", revoked=NOT_REVOKED)
        args: list[object] = [since, *([hook.office] if hook.office else []), notice_prefix(hook)]
        for lead_id, office, treatment, town, created_at in await store.fetch(sql, args):
            statements.append((_ADD, (notice_prefix(hook) + str(lead_id), lead_id, office, treatment, town,
                                      created_at, stamp)))
    if not statements:
        return 0
    return sum(await store.execute_many(statements))


def payload(lead: Lead, hook: Webhook, catalog: Catalog) -> dict[str, Any]:
    site = catalog.site
    office = site.offices_by_id.get(lead.office)
    treatment = site.treatments_by_slug.get(lead.treatment)
    page = catalog.pages.get(f"/{lead.treatment}/{lead.town}/")
    body: dict[str, Any] = {
        "event": "lead.created",
        "lead": {
            "id": lead.id,
            "office": {"id": lead.office, "name": office.name if office else lead.office},
            "treatment": {"slug": lead.treatment, "name": treatment.name if treatment else lead.treatment},
            "town": {"slug": lead.town, "name": page.location.place if page else lead.town},
            "created_at": lead.created_at,
            "url": catalog.url(f"/admin/leads/{lead.id}"),
        },
    }
    if hook.personal:
        body["lead"]["personal"] = {name: getattr(lead, name) for name in hook.personal}
    return body


def body_bytes(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sign(secret: str, body: bytes, at: int | None = None) -> str:
    """The Landing-Signature header's value for ``body`` sent at ``at`` (unix seconds, default now)."""
    stamp = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode("utf-8"), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def verify(secret: str, body: bytes, header: str, now: float | None = None,
           tolerance: float = TOLERANCE_SECONDS) -> bool:
    """What a receiver does (and the tests' receiver does): a valid v1 signature, made within ``tolerance``."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        stamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - stamp) > tolerance:
        return False
    expected = hmac.new(secret.encode("utf-8"), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))
