"""Lead notifications through a real SMTP server (aiosmtpd on loopback): delivered, delayed, never lost."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.conftest import ClientFactory
from tests.leads_helpers import valid_form
from tests.mail import free_port, smtp_server
from tests.servers import until


async def send_lead(client: httpx.AsyncClient, **changes: str) -> None:
    assert (await client.post("/leads", data=valid_form(**changes))).status_code == 303


async def test_the_serving_office_is_emailed_without_personal_details(make_client: ClientFactory) -> None:
    port = free_port()
    with smtp_server(port) as inbox:
        client = await make_client(smtp_url=f"smtp://127.0.0.1:{port}", mail_from="pages@example.com")
        await send_lead(client, name="Zebediah Quux", email="zeb@example.com", phone="(847) 555-0199",
                        message="About my back")
        await until(lambda: len(inbox.messages) == 1)
    (mail,) = inbox.messages
    assert mail["To"] == "crystal-lake@example.com" and mail["From"] == "pages@example.com"
    assert mail["Subject"] == "New enquiry: Intrathecal Pump Therapy, Cary, IL"
    body = mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert "Crystal Lake office" in body and "https://pain.example.com/admin/leads/" in body
    for personal in ("Zebediah", "zeb@example.com", "555-0199", "5550199", "About my back"):
        assert personal not in mail.as_string()


async def test_spam_is_never_announced(make_client: ClientFactory) -> None:
    port = free_port()
    with smtp_server(port) as inbox:
        client = await make_client(smtp_url=f"smtp://127.0.0.1:{port}")
        await send_lead(client, website="http://bot.example")
        await send_lead(client)
        await until(lambda: len(inbox.messages) == 1)
        await asyncio.sleep(0.3)
    assert len(inbox.messages) == 1


async def test_a_mail_server_that_is_down_delays_the_notice_and_loses_nothing(make_client: ClientFactory) -> None:
    port = free_port()  # nothing listens here yet
    client = await make_client(smtp_url=f"smtp://127.0.0.1:{port}", notify_retry_seconds=0.1)
    await send_lead(client)
    await send_lead(client)
    await asyncio.sleep(0.5)  # several attempts fail meanwhile
    with smtp_server(port) as inbox:
        await until(lambda: len(inbox.messages) == 2)
        await asyncio.sleep(0.5)
    assert len(inbox.messages) == 2  # each lead announced once


async def test_notices_pending_at_shutdown_are_sent_after_a_restart(
    make_client: ClientFactory, settings, site_dir: Path  # type: ignore[no-untyped-def]
) -> None:
    from asgi_lifespan import LifespanManager

    from landing.web.app import create_app

    port = free_port()
    down = settings.replace(smtp_url=f"smtp://127.0.0.1:{port}", notify_retry_seconds=0.1)
    app = create_app(down)
    async with LifespanManager(app) as manager:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url="http://testserver") as client:
            await send_lead(client)
    with smtp_server(port) as inbox:
        client = await make_client(smtp_url=f"smtp://127.0.0.1:{port}", notify_retry_seconds=0.1)
        await until(lambda: len(inbox.messages) == 1)
    assert inbox.messages[0]["To"] == "crystal-lake@example.com"


async def test_without_smtp_notices_are_logged_without_personal_data(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="landing")
    client = await make_client()
    await send_lead(client, name="Zebediah Quux")
    await until(lambda: any("no SMTP configured" in r.getMessage() for r in caplog.records))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "crystal-lake@example.com" in logged and "Zebediah" not in logged
