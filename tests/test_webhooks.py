"""Webhooks: each new lead POSTed as signed JSON to a local receiver (a real HTTP server on loopback) that
checks the signature; personal fields only where opted into; retried through the outbox; spam and revoked
leads never sent."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from landing.errors import ConfigError
from landing.leads.model import utc_now
from landing.leads.webhooks import sign, verify
from landing.settings import Settings
from landing.site import load_site
from tests.conftest import ClientFactory
from tests.leads_helpers import a_lead, change, valid_form
from tests.servers import free_port, until
from tests.test_admin import database, seed

SECRET = "whsec-test-0123456789"


class Receiver:
    """What a practice's CRM would run: takes POSTs, checks each signature, answers ``statuses`` in turn (then 200)."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.received: list[dict[str, Any]] = []
        self.statuses = list(statuses or [])

    def handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["content-length"]))
                valid = verify(SECRET, body, self.headers.get("Landing-Signature", ""))
                status = receiver.statuses.pop(0) if receiver.statuses else (200 if valid else 400)
                receiver.received.append({"path": self.path, "body": body, "valid": valid, "status": status,
                                          "id": self.headers.get("Landing-Webhook-Id"),
                                          "type": self.headers.get("content-type")})
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def delivered(self, path: str) -> list[dict[str, Any]]:
        return [json.loads(item["body"]) for item in self.received if item["path"] == path and item["status"] == 200]


@contextlib.contextmanager
def receiver(statuses: list[int] | None = None) -> Iterator[tuple[Receiver, int]]:
    kept = Receiver(statuses)
    server = ThreadingHTTPServer(("127.0.0.1", 0), kept.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield kept, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def add_webhooks(site_dir: Path, port: int) -> None:
    path = site_dir / "site.toml"
    path.write_text(path.read_text() + f"""
[[webhooks]]
url = "http://127.0.0.1:{port}/practice"
secret_env = "TEST_WEBHOOK_SECRET"

[[webhooks]]
url = "http://127.0.0.1:{port}/crystal-lake"
secret_env = "TEST_WEBHOOK_SECRET"
office = "crystal-lake"
personal = ["name", "phone"]

[[webhooks]]
url = "http://127.0.0.1:{port}/barrington"
secret_env = "TEST_WEBHOOK_SECRET"
office = "barrington"
""")


async def test_a_new_lead_is_sent_signed_without_personal_data_unless_opted_in(
        make_client: ClientFactory, site_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", SECRET)
    with receiver() as (inbox, port):
        add_webhooks(site_dir, port)
        client = await make_client()
        form = valid_form(name="Wanda Webhook", phone="(847) 555-0166", email="wanda@example.com",
                          message="Evening calls please")
        assert (await client.post("/leads", data=form)).status_code == 303
        await until(lambda: len(inbox.received) == 2, seconds=15)
    assert all(item["valid"] and item["type"] == "application/json" for item in inbox.received)
    (practice,) = inbox.delivered("/practice")
    lead = practice["lead"]
    assert practice["event"] == "lead.created"
    assert set(lead) == {"id", "office", "treatment", "town", "created_at", "url"}
    assert lead["office"] == {"id": "crystal-lake", "name": "Crystal Lake office"}
    assert lead["town"] == {"slug": "cary-il", "name": "Cary, IL"}
    assert lead["url"] == f"https://pain.example.com/admin/leads/{lead['id']}"
    raw = next(item["body"] for item in inbox.received if item["path"] == "/practice").decode()
    for personal in ("Wanda", "0166", "wanda@example.com", "Evening"):
        assert personal not in raw
    (office,) = inbox.delivered("/crystal-lake")
    assert office["lead"]["personal"] == {"name": "Wanda Webhook", "phone": "+18475550166"}
    assert inbox.delivered("/barrington") == []  # another office's webhook


async def test_a_failing_receiver_gets_the_lead_again_until_it_accepts(
        make_client: ClientFactory, site_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", SECRET)
    with receiver(statuses=[500, 503]) as (inbox, port):
        path = site_dir / "site.toml"
        path.write_text(path.read_text() + f'\n[[webhooks]]\nurl = "http://127.0.0.1:{port}/p"\nsecret_env = '
                        '"TEST_WEBHOOK_SECRET"\n')
        client = await make_client(notify_retry_seconds=0.1)
        assert (await client.post("/leads", data=valid_form())).status_code == 303
        await until(lambda: len(inbox.delivered("/p")) == 1, seconds=20)
    assert [item["status"] for item in inbox.received] == [500, 503, 200]
    assert len({item["id"] for item in inbox.received}) == 1  # one delivery id, for the receiver to deduplicate


async def test_a_secret_missing_from_the_environment_is_said_at_start(
        make_client: ClientFactory, site_dir: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv("TEST_WEBHOOK_SECRET", raising=False)
    add_webhooks(site_dir, free_port())
    await make_client()
    warnings = [record.getMessage() for record in caplog.records if record.name == "landing.webhooks"]
    assert warnings == ["the webhook secret TEST_WEBHOOK_SECRET is not set: deliveries to its webhooks wait and are "
                        "retried until it is"]


async def test_spam_and_revoked_leads_are_never_sent(make_client: ClientFactory, settings: Settings, site_dir: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    monkeypatch.setenv("TEST_WEBHOOK_SECRET", SECRET)
    revoked, kept = a_lead(name="Revoked"), a_lead(name="Kept")
    await seed(settings, revoked, kept, a_lead(spam=True, spam_reason="honeypot filled"))
    change(database(settings), "INSERT INTO consent_revocations (lead_id, revoked_at, method, recorded_by, recorded_at)"
           " VALUES (?, ?, 'phone', 'staff@example.com', ?)", (revoked.id, utc_now(), utc_now()))
    with receiver() as (inbox, port):
        add_webhooks(site_dir, port)
        await make_client()
        await until(lambda: len(inbox.received) == 2, seconds=15)  # the kept lead, to two webhooks
        await asyncio.sleep(2.5)  # another sweep: nothing more
    assert {json.loads(item["body"])["lead"]["id"] for item in inbox.received} == {kept.id}


def test_the_signature_is_hmac_sha256_of_the_time_and_body() -> None:
    import hashlib
    import hmac

    body = b'{"event":"lead.created"}'
    header = sign(SECRET, body, at=1_800_000_000)
    expected = hmac.new(SECRET.encode(), b"1800000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1800000000,v1={expected}"
    assert verify(SECRET, body, header, now=1_800_000_100)
    assert not verify(SECRET, body, header, now=1_800_000_400)  # older than five minutes: a replay
    assert not verify(SECRET, body + b" ", header, now=1_800_000_100)
    assert not verify("another secret", body, header, now=1_800_000_100)


@pytest.mark.parametrize(("lines", "message"), [
    ('url = "http://crm.example.com/hook"\nsecret_env = "S"', "must start with https://"),
    ('url = "https://crm.example.com/hook"\nsecret_env = "my secret"', "must be the name of an environment variable"),
    ('url = "https://crm.example.com/hook"\nsecret_env = "S"\npersonal = ["ssn"]', "must be a list of the personal"),
    ('url = "https://crm.example.com/hook"\nsecret_env = "S"\noffice = "nowhere"', "is not an office id"),
])
def test_a_webhook_that_makes_no_sense_is_refused(site_dir: Path, lines: str, message: str) -> None:
    path = site_dir / "site.toml"
    path.write_text(path.read_text() + f"\n[[webhooks]]\n{lines}\n")
    with pytest.raises(ConfigError, match=message):
        load_site(path)
