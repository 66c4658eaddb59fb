"""Consent: staff record a revocation (when, how); the lead is marked everywhere and left out of conversions;
admins download the consent certificate."""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import httpx

from landing.leads.model import new_id
from landing.settings import Settings
from tests.leads_helpers import a_lead, change, rows
from tests.conftest import ClientFactory
from tests.test_admin import csrf_of, database, sign_in, staff  # noqa: F401 - the signed-in client fixture

CONSENT = "I agree that Test Pain & Spine Clinic may contact me by phone, text or email."
LEAD = a_lead(name="Rhoda Revoke", gclid="CjRevokedClick", consent_text=CONSENT, consent_version="2026-11-01",
              landing_url="https://pain.example.com/intrathecal-pump-therapy/cary-il/?gclid=CjRevokedClick",
              client_hash="k1:abcdef0123456789", created_at="2026-11-20T15:00:00.000000+00:00")


def chicago(site_dir: Path) -> None:
    path = site_dir / "site.toml"
    path.write_text(path.read_text().replace("[practice]\n", '[practice]\ntimezone = "America/Chicago"\n', 1))


async def revoke(client: httpx.AsyncClient, lead_id: str, **fields: str) -> httpx.Response:
    csrf = csrf_of((await client.get(f"/admin/leads/{lead_id}")).text)
    form = {"csrf": csrf, "revoked_at": "2026-11-24T09:15", "method": "phone", "note": "Asked on the phone", **fields}
    return await client.post(f"/admin/leads/{lead_id}/revoke", data=form)


async def test_a_revocation_is_recorded_and_shown_everywhere(staff, settings: Settings, site_dir: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    chicago(site_dir)
    client = await staff(LEAD)
    assert "Record a revocation" in (await client.get(f"/admin/leads/{LEAD.id}")).text
    response = await revoke(client, LEAD.id)
    assert response.status_code == 303 and response.headers["location"] == f"/admin/leads/{LEAD.id}"
    page = (await client.get(f"/admin/leads/{LEAD.id}")).text
    assert "Consent revoked: the patient asked not to be contacted on 2026-11-24 09:15 CST (Phone call)" in page
    assert "Recorded by staff@example.com" in page and "Record a revocation" not in page
    assert "consent revoked" in (await client.get("/admin/leads?since=2026-11-01")).text
    export = (await client.get("/admin/leads.csv")).content.decode("utf-8-sig")
    (row,) = csv.DictReader(io.StringIO(export))
    assert row["consent_revoked_at"] == "2026-11-24T15:15:00.000000+00:00"  # 09:15 in Chicago, in UTC
    (stored,) = rows(database(settings), "consent_revocations")
    assert stored["method"] == "phone" and stored["note"] == "Asked on the phone"
    # Recorded once: a second form changes nothing.
    await revoke(client, LEAD.id, revoked_at="2026-11-25T10:00", method="email")
    assert [r["method"] for r in rows(database(settings), "consent_revocations")] == ["phone"]


async def test_a_revoked_lead_is_left_out_of_conversions(staff, settings: Settings) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    client = await staff(LEAD)
    change(database(settings), "INSERT INTO lead_events (id, lead_id, at, actor, status) VALUES (?, ?, ?, ?, ?)",
           (new_id(), LEAD.id, "2026-11-21T15:00:00.000000+00:00", "staff@example.com", "scheduled"))
    assert "CjRevokedClick" in (await client.get("/admin/conversions.csv?since=2026-11-01")).text
    assert (await revoke(client, LEAD.id)).status_code == 303
    assert "CjRevokedClick" not in (await client.get("/admin/conversions.csv?since=2026-11-01")).text


async def test_a_revocation_that_makes_no_sense_is_refused_with_the_fix(staff, settings: Settings) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    client = await staff(LEAD)
    future = await revoke(client, LEAD.id, revoked_at="2999-01-01T09:00")
    assert future.status_code == 422 and "that time has not come yet" in future.text
    wrong = await revoke(client, LEAD.id, revoked_at="yesterday", method="pigeon")
    assert wrong.status_code == 422 and "give the date and time the patient asked" in wrong.text
    assert "How: choose one of Phone call, Email" in wrong.text
    assert rows(database(settings), "consent_revocations") == []


async def admin_client(make_client: ClientFactory, settings: Settings, *leads: object) -> httpx.AsyncClient:
    """Signed in as an admin: the certificate is theirs alone."""
    from landing.admin.auth import hash_password
    from landing.leads.store import store_for

    store = store_for(settings.database_url)
    await store.open()
    try:
        await store.add_user("admin@example.com", hash_password("correct horse battery"), "admin", ())
        for lead in leads:
            await store.add(lead, notify=False)  # type: ignore[arg-type]
    finally:
        await store.close()
    client = await make_client(base_url="http://testserver")
    assert (await sign_in(client, email="admin@example.com")).status_code == 303
    return client


async def test_the_consent_certificate_holds_what_was_agreed_and_its_revocation(make_client: ClientFactory,
                                                                               settings: Settings,
                                                                               site_dir: Path) -> None:
    chicago(site_dir)
    client = await admin_client(make_client, settings, LEAD)
    before = await client.get(f"/admin/leads/{LEAD.id}/consent.txt")
    assert before.status_code == 200 and before.headers["content-type"] == "text/plain; charset=utf-8"
    assert before.headers["content-disposition"] == f'attachment; filename="consent-{LEAD.id}.txt"'
    text = before.text
    assert f"Lead: {LEAD.id}" in text
    assert "Received: 2026-11-20T15:00:00.000000+00:00 (2026-11-20 09:00:00 CST)" in text
    assert f"Page: {LEAD.landing_url}" in text and "Consent version: 2026-11-01" in text
    assert f"Consent text SHA-256: {hashlib.sha256(CONSENT.encode()).hexdigest()}" in text
    assert f"    {CONSENT}" in text and "Client address (keyed hash): k1:abcdef0123456789" in text
    assert "Revocation: none recorded" in text
    for personal in ("Rhoda", "jane@example.com", "5550142"):
        assert personal not in text
    await revoke(client, LEAD.id)
    after = (await client.get(f"/admin/leads/{LEAD.id}/consent.txt")).text
    assert "Revocation: the patient asked not to be contacted on 2026-11-24T15:15:00.000000+00:00" in after
    assert "How: Phone call" in after and "Recorded by admin@example.com" in after
    audited = [row for row in rows(database(settings), "audit_log") if row["action"] == "consent certificate"]
    assert len(audited) == 2 and audited[0]["detail"] == f"lead {LEAD.id}"


async def test_the_certificate_is_for_admins_alone(client: httpx.AsyncClient, staff) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    assert (await client.get(f"/admin/leads/{LEAD.id}/consent.txt")).status_code == 401
    member_of_staff = await staff(LEAD)
    assert (await member_of_staff.get(f"/admin/leads/{LEAD.id}/consent.txt")).status_code == 403
    assert "consent.txt" not in (await member_of_staff.get(f"/admin/leads/{LEAD.id}")).text  # no link to it either
