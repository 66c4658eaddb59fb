"""Lead notifications through a real SMTP server (aiosmtpd on loopback): delivered, delayed, never lost."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import ssl
import subprocess
from itertools import chain
from pathlib import Path

import httpx
import pytest

from landing.catalog import SourceFiles, load_catalog
from landing.leads.model import Notice
from landing.leads.notify import SMTPMailer
from landing.leads.store import LeadStore
from landing.settings import Settings
from tests.conftest import ClientFactory
from tests.leads_helpers import rows, valid_form
from tests.mail import Logins, free_port, smtp_server
from tests.parts import need
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


async def test_the_email_gives_times_in_the_practice_time_zone(make_client: ClientFactory, site_dir: Path) -> None:
    site_file = site_dir / "site.toml"
    site_file.write_text(site_file.read_text().replace("[practice]\n", '[practice]\ntimezone = "America/Chicago"\n', 1))
    port = free_port()
    with smtp_server(port) as inbox:
        client = await make_client(smtp_url=f"smtp://127.0.0.1:{port}")
        await send_lead(client)
        await send_lead(client)  # the same phone and email again: a repeat of the first
        await until(lambda: len(inbox.messages) == 2)
    first, repeat = (mail.get_payload(decode=True).decode() for mail in inbox.messages)  # type: ignore[union-attr]
    assert "Received: " in first and " UTC" not in first and ("CST" in first or "CDT" in first)
    assert "repeats an earlier enquiry" in repeat and " UTC" not in repeat


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


# -- the mail server's password ----------------------------------------------------------------------------

async def test_a_password_is_never_sent_to_a_mail_server_without_starttls(
    make_client: ClientFactory, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger="landing")
    port = free_port()
    logins = Logins()
    with smtp_server(port, logins=logins) as inbox:  # offers AUTH, but no STARTTLS
        client = await make_client(smtp_url=f"smtp://pages%40example.com:s3cret-pass@127.0.0.1:{port}",
                                   notify_retry_seconds=0.1)
        await send_lead(client)
        database = Path(settings.database_url.removeprefix("sqlite:///"))
        await until(lambda: int(rows(database, "outbox")[0]["attempts"]) >= 3)  # failed, and retried
    assert logins.seen == [] and inbox.messages == []
    (notice,) = rows(database, "outbox")
    assert notice["sent_at"] is None
    assert str(notice["last_error"]).startswith(f"InsecureMailServer: 127.0.0.1:{port} offers no STARTTLS, so the "
                                                "SMTP password was not sent: use a port of the mail server that "
                                                "offers STARTTLS (usually 587), or smtps:// (usually 465)")
    warnings = [r.getMessage() for r in caplog.records if "InsecureMailServer" in r.getMessage()]
    assert warnings and "s3cret-pass" not in "\n".join(r.getMessage() for r in caplog.records)


async def test_without_a_password_a_server_without_starttls_still_gets_the_notice(make_client: ClientFactory) -> None:
    port = free_port()  # a relay inside the practice's network that takes mail without signing in
    with smtp_server(port) as inbox:
        client = await make_client(smtp_url=f"smtp://127.0.0.1:{port}")
        await send_lead(client)
        await until(lambda: len(inbox.messages) == 1)


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(the server's TLS context, a client context that trusts it): a self-signed certificate for 127.0.0.1."""
    if shutil.which("openssl") is None:
        need("openssl is not installed (apt-get install openssl)")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    return server, ssl.create_default_context(cafile=str(cert))


@pytest.mark.parametrize("tls", ["starttls", "smtps"])
async def test_the_password_goes_only_over_an_encrypted_connection(settings: Settings, tls: str,
                                                                   certificate: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_tls, client_tls = certificate
    port = free_port()
    logins = Logins()
    catalog = load_catalog(SourceFiles(settings.site_file, settings.locations_file, settings.templates_dir))
    notice = Notice("n1", "lead1", "crystal-lake", "intrathecal-pump-therapy", "cary-il", "2026-11-05T10:00:00+00:00")
    scheme = "smtp" if tls == "starttls" else "smtps"
    with smtp_server(port, logins=logins, tls=server_tls, implicit_tls=tls == "smtps") as inbox:
        mailer = SMTPMailer(f"{scheme}://pages%40example.com:s3cret-pass@127.0.0.1:{port}", tls_context=client_tls)
        await mailer.send(notice, catalog, "pages@example.com")
    assert logins.seen == [("pages@example.com", "s3cret-pass", True)]  # over TLS
    assert inbox.messages[0]["Subject"] == "New enquiry: Intrathecal Pump Therapy, Cary, IL"


async def test_a_certificate_the_system_does_not_trust_stops_the_mail(settings: Settings,
                                                                       certificate: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_tls, _ = certificate
    port = free_port()
    logins = Logins()
    catalog = load_catalog(SourceFiles(settings.site_file, settings.locations_file, settings.templates_dir))
    notice = Notice("n1", "lead1", "crystal-lake", "intrathecal-pump-therapy", "cary-il", "2026-11-05T10:00:00+00:00")
    with smtp_server(port, logins=logins, tls=server_tls) as inbox:
        with pytest.raises(ssl.SSLCertVerificationError):
            await SMTPMailer(f"smtp://pages%40example.com:s3cret-pass@127.0.0.1:{port}").send(notice, catalog, "x@example.com")
    assert logins.seen == [] and inbox.messages == []
async def test_the_log_says_sent_only_when_the_mail_server_accepted_it(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="landing")
    port = free_port()
    client = await make_client(smtp_url=f"smtp://127.0.0.1:{port}", notify_retry_seconds=0.1)
    await send_lead(client)
    await until(lambda: any("failed (attempt 1" in r.getMessage() for r in caplog.records))
    assert not any("accepted" in r.getMessage() or " sent" in r.getMessage() for r in caplog.records)
    with smtp_server(port) as inbox:
        await until(lambda: len(inbox.messages) == 1)
        await until(lambda: any("accepted by the mail server" in r.getMessage() for r in caplog.records))
    (accepted,) = [r.getMessage() for r in caplog.records if "accepted by the mail server" in r.getMessage()]
    assert "for office crystal-lake" in accepted


async def test_without_smtp_nothing_is_said_to_be_sent(make_client: ClientFactory, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="landing")
    client = await make_client()
    await send_lead(client)
    await until(lambda: any("no SMTP configured" in r.getMessage() for r in caplog.records))
    await asyncio.sleep(0.2)
    assert not any("accepted" in r.getMessage() or " sent" in r.getMessage() for r in caplog.records)


@pytest.mark.slow
async def test_a_crash_mid_round_sends_at_most_one_notice_twice_and_the_restart_sends_the_rest_at_once(
    site_dir: Path,
) -> None:
    import signal

    from tests.mail import lead_ids
    from tests.servers import start_server, stop, wait_until_up

    smtp_port, port = free_port(), free_port()
    settings = {"smtp_url": f"smtp://127.0.0.1:{smtp_port}", "notify_retry_seconds": "0.2"}  # lease: the default 120 s
    with smtp_server(smtp_port, delay=0.3) as inbox:  # each email accepted 0.3 s after it arrives
        server = start_server(site_dir, port, **settings)
        try:
            await wait_until_up(port, server)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                for n in range(15):
                    await send_lead(client, name=f"Patient {n}")
            await until(lambda: len(inbox.messages) >= 4)
            server.send_signal(signal.SIGKILL)  # mid-round: most of the claimed notices unsent, one in flight
            server.wait(timeout=10)
        finally:
            stop(server)
        restarted = start_server(site_dir, port, **settings)  # the same host and port: the same worker name
        try:
            await wait_until_up(port, restarted)
            # Long before the 120 s lease would free the crashed worker's claims:
            await until(lambda: len(set(lead_ids(inbox))) == 15, seconds=20)
            await asyncio.sleep(1.0)  # time for a late duplicate to show
        finally:
            stop(restarted)
    ids = lead_ids(inbox)
    assert len(set(ids)) == 15
    assert len(ids) - 15 <= 1, f"{len(ids) - 15} duplicates after one crash"


@pytest.mark.parametrize("dispatch", [False, True], ids=["log mailer", "the service's dispatch"])
async def test_notices_only_logged_are_marked_sent_many_at_a_time(tmp_path: Path, site_dir: Path, dispatch: bool,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    """Without a mail server a round logs a whole batch and marks it sent in one write, so the notifier keeps
    up with any intake; every notice is logged once."""
    from landing.leads import notify
    from landing.leads.store import store_for
    from tests.leads_helpers import a_lead

    store = store_for(f"sqlite:///{tmp_path / 'leads.sqlite3'}")
    await store.open()
    try:
        leads = [a_lead() for _ in range(notify.LOGGED_PER_ROUND + 50)]
        for lead in leads:
            await store.add(lead, notify=True)
        catalog = load_catalog(SourceFiles(site_dir / "site.toml", site_dir / "locations.csv", site_dir / "templates"))
        writes: list[int] = []
        real = store.notices_sent

        async def counted(ids: list[str]) -> None:
            writes.append(len(ids))
            await real(ids)

        store.notices_sent = counted  # type: ignore[method-assign]
        from landing.web.webhooks import Dispatch, Webhooks

        mailer = Dispatch(notify.LogMailer(), Webhooks(store)) if dispatch else notify.LogMailer()  # as create_app wires it
        notifier = notify.Notifier(store, lambda: catalog, mailer, "pages@example.com")
        caplog.set_level("INFO", logger="landing.notify")
        while await notifier.send_due():
            pass
        assert writes == [notify.LOGGED_PER_ROUND, 50]
        assert await store.pending_notices() == 0
        logged = [record.getMessage() for record in caplog.records if "no SMTP configured" in record.getMessage()]
        named = [re.findall(r"new enquiry (\S+) for", line) for line in logged]
        assert sorted(chain.from_iterable(named)) == sorted(lead.id for lead in leads)
        # A line per office and fifty notices, not one per notice: a burst of leads costs the log little.
        assert len(logged) == -(-notify.LOGGED_PER_ROUND // notify.LOGGED_PER_LINE) + 1
        office = catalog.site.offices_by_id[leads[0].office]
        assert all(line.startswith(f"notification (no SMTP configured) to {office.email}: new enquiry ") for line in logged)
    finally:
        await store.close()


def test_notices_only_logged_get_a_line_per_office_naming_each_and_no_patient(
        site_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    from landing.leads import notify

    catalog = load_catalog(SourceFiles(site_dir / "site.toml", site_dir / "locations.csv", site_dir / "templates"))
    at = "2026-11-05T10:00:00+00:00"
    notices = [Notice("n1", "lead1", "crystal-lake", "intrathecal-pump-therapy", "cary-il", at),
               Notice("n2", "lead2", "barrington", "intrathecal-pump-therapy", "barrington-il", at),
               Notice("reminder-lead3", "lead3", "crystal-lake", "intrathecal-pump-therapy", "algonquin-il", at)]
    caplog.set_level("INFO", logger="landing.notify")
    notify.LogMailer().log(notices, catalog, "pages@example.com")
    assert [record.getMessage() for record in caplog.records] == [
        "notification (no SMTP configured) to crystal-lake@example.com: new enquiry lead1 for "
        "intrathecal-pump-therapy, cary-il; reminder of enquiry lead3 for intrathecal-pump-therapy, algonquin-il",
        "notification (no SMTP configured) to barrington@example.com: new enquiry lead2 for "
        "intrathecal-pump-therapy, barrington-il",
    ]


async def test_a_burst_of_leads_is_notified_in_a_few_rounds_and_none_is_left(
        tmp_path: Path, site_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Woken by every lead, the notifier would claim and mark sent after each commit; once it has caught up it
    lets notices gather for a moment instead, so a burst costs a few database writes."""
    from landing.leads import notify
    from landing.leads.store import store_for
    from tests.leads_helpers import a_lead

    store = store_for(f"sqlite:///{tmp_path / 'leads.sqlite3'}")
    await store.open()
    catalog = load_catalog(SourceFiles(site_dir / "site.toml", site_dir / "locations.csv", site_dir / "templates"))
    claims: list[int] = []
    real = store.claim_notices

    async def counted(*args: object, **kwargs: object) -> list[Notice]:
        claimed = await real(*args, **kwargs)  # type: ignore[arg-type]
        claims.append(len(claimed))
        return claimed

    store.claim_notices = counted  # type: ignore[method-assign]
    notifier = notify.Notifier(store, lambda: catalog, notify.LogMailer(), "pages@example.com")
    caplog.set_level("INFO", logger="landing.notify")
    running = asyncio.create_task(notifier.run())
    try:
        leads = [a_lead() for _ in range(300)]
        for lead in leads:
            await store.add(lead, notify=True)
            notifier.wake()  # as the lead form does
        await until(lambda: _none_pending(store))
        named = [re.findall(r"new enquiry (\S+) for", record.getMessage()) for record in caplog.records]
        assert sorted(chain.from_iterable(named)) == sorted(lead.id for lead in leads)
        assert len([count for count in claims if count]) <= 30, claims  # 300 rounds without the gathering
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await store.close()


async def _none_pending(store: LeadStore) -> bool:
    return await store.pending_notices() == 0
