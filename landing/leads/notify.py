"""Lead notifications: an outbox worker that emails each office about its new leads, and never loses one.

Each non-spam lead's notice is written in the same transaction as the lead. This worker claims due
notices with a lease, sends them one at a time, and marks each sent as soon as its mail server accepted
it, so a crash sends again at most the one notice in flight. A failure schedules a retry with backoff. A
process that dies leaves its claims to expire so another worker sends them; a worker restarted under the
same name (landing serve names it by host and port) takes its own back at once.
The email names the office, treatment, town and time, and links to the staff area: never the patient.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib

from landing.catalog import Catalog
from landing.clock import local_text
from landing.leads.model import Notice, new_id
from landing.leads.speed import is_reminder
from landing.leads.store import LeadStore, StoreError
from landing.logs import Repeated
from landing.metrics import Metrics

log = logging.getLogger("landing.notify")
LEASE_SECONDS = 120.0
MAX_RETRY_SECONDS = 3600.0
EMAILS_PER_ROUND = 20  # notices claimed at once when each is an email
LOGGED_PER_ROUND = 500  # when notices are only logged: one write marks them all sent
LOGGED_PER_LINE = 50  # notices one log line names at most, when they are only logged
GATHER_SECONDS = 0.1  # after a round that emptied the outbox, the wait before the next (a notice is that late at most)


class Mailer(Protocol):
    async def send(self, notice: Notice, catalog: Catalog, sender: str) -> None: ...


class InsecureMailServer(Exception):
    """The mail server offers no encryption, and LANDING_SMTP_URL has a password: it is never sent in clear."""


@dataclass(frozen=True)
class SMTPMailer:
    """smtp://host:25 (STARTTLS when offered), smtp://user:password@host:587 (STARTTLS required: without it
    the password would cross the network in clear) or smtps://user:password@host:465 (TLS from the start).

    Certificates are checked against the system's trusted authorities (or ``tls_context``'s).
    """

    url: str
    timeout: float = 20.0
    tls_context: ssl.SSLContext | None = None

    async def send(self, notice: Notice, catalog: Catalog, sender: str) -> None:
        message = notice_email(notice, catalog, sender)
        parts = urlsplit(self.url)
        implicit_tls = parts.scheme == "smtps"
        host, port = parts.hostname or "localhost", parts.port or (465 if implicit_tls else 25)
        username = unquote(parts.username) if parts.username else ""
        password = unquote(parts.password) if parts.password else ""
        client = aiosmtplib.SMTP(hostname=host, port=port, use_tls=implicit_tls, start_tls=False,
                                 timeout=self.timeout, tls_context=self.tls_context)
        async with client:
            if not implicit_tls:
                await client.ehlo()
                if client.supports_extension("starttls"):
                    await client.starttls()
                elif username or password:
                    raise InsecureMailServer(
                        f"{host}:{port} offers no STARTTLS, so the SMTP password was not sent: use a port of the "
                        "mail server that offers STARTTLS (usually 587), or smtps:// (usually 465)")
            if username or password:
                await client.login(username, password)
            await client.send_message(message)


class LogMailer:
    """Without a mail server, say in the log that a notice would have gone out (it holds no personal data)."""

    async def send(self, notice: Notice, catalog: Catalog, sender: str) -> None:
        self.log([notice], catalog, sender)

    def log(self, notices: Sequence[Notice], catalog: Catalog, sender: str) -> None:
        """One line per office for up to LOGGED_PER_LINE notices: at a burst of leads, a line each cost a fifth of
        the CPU time of taking a lead. Not built as emails: that costs more than storing the leads did."""
        by_office: dict[str, list[Notice]] = {}
        for notice in notices:
            by_office.setdefault(notice.office, []).append(notice)
        for office_id, theirs in by_office.items():
            office = catalog.site.offices_by_id.get(office_id)
            for start in range(0, len(theirs), LOGGED_PER_LINE):
                log.info("notification (no SMTP configured) to %s: %s", office.email if office else sender,
                         "; ".join(f"{'reminder of enquiry' if is_reminder(notice.id) else 'new enquiry'} "
                                   f"{notice.lead_id} for {notice.treatment}, {notice.town}"
                                   for notice in theirs[start:start + LOGGED_PER_LINE]))


def notice_email(notice: Notice, catalog: Catalog, sender: str) -> EmailMessage:
    """The email to the office about a notice: a new enquiry, a repeat, or the one reminder of an enquiry still
    new. Office, treatment, town, times in the practice's time zone and a staff link; never the patient."""
    site = catalog.site
    office = site.offices_by_id.get(notice.office)
    office_name = office.name if office else notice.office
    treatment = site.treatments_by_slug.get(notice.treatment)
    treatment_name = treatment.name if treatment else notice.treatment
    page = catalog.pages.get(f"/{notice.treatment}/{notice.town}/")
    town = page.location.place if page else notice.town
    received = local_text(notice.lead_created_at, site.practice.zone, label=True)
    link = catalog.url(f"/admin/leads/{notice.lead_id}")
    details = f"Treatment: {treatment_name}\nTown: {town}\n"
    privacy = "For the patient's privacy this email holds no personal details.\n"
    if is_reminder(notice.id):
        subject = f"Waiting for an answer: {treatment_name}, {town}"
        text = (f"An enquiry for the {office_name} received {received} is still new after "
                f"{site.leads.remind_after_minutes} minutes of opening hours.\n\n{details}\n"
                f"Sign in to answer it: {link}\n\nThis is the only reminder about this enquiry. {privacy}")
    else:
        subject = f"{'Repeat' if notice.repeat_of else 'New'} enquiry: {treatment_name}, {town}"
        repeat = ""
        if notice.repeat_of:
            earlier = local_text(notice.repeat_at, site.practice.zone, label=True)
            repeat = (f"It repeats an earlier enquiry with the same phone number or email address, received "
                      f"{earlier}: {catalog.url(f'/admin/leads/{notice.repeat_of}')}\n\n")
        text = (f"A new enquiry has arrived for the {office_name}.\n\n{details}Received: {received}\n\n"
                f"Sign in to see it: {link}\n\n{repeat}{privacy}")
    message = EmailMessage()
    message["From"] = sender
    message["To"] = office.email if office else sender
    message["Subject"] = subject
    # One id per notice: if a crash makes a worker send it again, mail systems can tell it is the same.
    message["Message-ID"] = f"<{notice.id}@landing.notice>"
    message.set_content(text)
    return message


class Notifier:
    """Runs in the app's lifespan: sends due notices, retrying with backoff, until cancelled."""

    def __init__(self, store: LeadStore, catalog: Callable[[], Catalog], mailer: Mailer, sender: str,
                 retry_seconds: float = 30.0, poll_seconds: float = 5.0, lease_seconds: float = LEASE_SECONDS,
                 worker: str | None = None, metrics: Metrics | None = None,
                 annotate: Callable[[Notice], Awaitable[Notice]] | None = None) -> None:
        self.store = store
        self.catalog = catalog
        self.mailer = mailer
        self.sender = sender
        self.retry_seconds = retry_seconds
        self.poll_seconds = poll_seconds
        self.lease_seconds = lease_seconds
        self.metrics = metrics
        self.annotate = annotate  # adds what the email says beyond the outbox row (a repeat enquiry)
        self._wake = asyncio.Event()
        # Names this worker's claims: to give them back at shutdown, and, when the name outlives the process (a
        # host and port), for the next process of that name to take them back at once after a crash.
        self.worker = worker or new_id()
        self.accepted: list[str] = []  # notices a mail server accepted that the outbox does not know are sent yet
        self.outbox_trouble = Repeated(log)
        self.full_round = False  # the last round claimed as many as a round may: more may be due at once

    def wake(self) -> None:
        """A lead was just stored: look now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            # Python 3.11's asyncio.wait_for returns the result of what it waited for when that finished just as the
            # task was cancelled, dropping the cancellation (a store answer at shutdown): stop here all the same,
            # and again before waiting for the next round.
            _reraise_cancellation()
            try:
                sent_any = await self.send_due()
            except StoreError as exc:  # the database is down, full, slow: keep the worker alive, say it once
                _reraise_cancellation()
                self.outbox_trouble.failure(exc.cause, "notification worker: %s; trying again every %.0f s", exc,
                                            self.poll_seconds)
                sent_any = False
            except Exception:  # a bug: its traceback, but the worker goes on
                _reraise_cancellation()
                log.exception("notification worker failed; trying again in %.0f s", self.poll_seconds)
                sent_any = False
            else:
                self.outbox_trouble.success("notification worker: the outbox answers again")
            _reraise_cancellation()
            if sent_any and not self.full_round:
                # Caught up: the next notices gather for a moment, so that a burst of leads makes a few large
                # rounds (two database writes each) instead of one per commit of the lead writer.
                await asyncio.sleep(GATHER_SECONDS)
            elif not sent_any:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
                except TimeoutError:
                    pass

    async def send_due(self) -> bool:
        """Send what is due now; True when anything was claimed."""
        await self.record_accepted()  # what the outbox could not be told last round, before anything new
        # Notices only logged are claimed and marked sent many at a time: one database write per round rather
        # than per notice keeps up with any intake (and a crash can only log a few again, which sends nothing).
        logging_only = isinstance(self.mailer, LogMailer) or bool(getattr(self.mailer, "log_only", False))
        limit = LOGGED_PER_ROUND if logging_only else EMAILS_PER_ROUND
        notices = await self.store.claim_notices(self.lease_seconds, limit=limit, worker=self.worker)
        self.full_round = len(notices) == limit
        alone = notices
        log_many = getattr(self.mailer, "log", None)  # LogMailer's, or Dispatch's around one
        logged: list[Notice] = []
        others: list[Notice] = []
        for notice in notices:
            (logged if self.only_logs(notice) else others).append(notice)
        if log_many is not None and logged:
            try:
                log_many(logged, self.catalog(), self.sender)
            except Exception:  # noqa: BLE001 - then each is sent alone below, and its failure retried as any other's
                pass
            else:
                self.accepted += [notice.id for notice in logged]
                alone = others
        for notice in alone:
            if await self.send(notice):
                self.accepted.append(notice.id)
                if not self.only_logs(notice):
                    # Recorded at once, not at the end of the round: a crash then resends at most the one in flight.
                    await self.record_accepted()
        await self.record_accepted()
        return bool(notices)

    def only_logs(self, notice: Notice) -> bool:
        """Whether sending ``notice`` only writes a log line (no mail server: LogMailer, or a mailer that says so
        of the notice, as the webhook dispatch does of an email notice)."""
        if isinstance(self.mailer, LogMailer):
            return True
        only_logs = getattr(self.mailer, "only_logs", None)
        return bool(only_logs and only_logs(notice))

    async def record_accepted(self) -> None:
        """Mark sent what the mail server accepted. Shielded: a shutdown in the middle still records it; a failure
        keeps the ids for the next try (and stops the round, so no more is sent meanwhile)."""
        if self.accepted:
            await asyncio.shield(self.store.notices_sent(list(self.accepted)))
            self.accepted.clear()

    async def send(self, notice: Notice) -> bool:
        """Send one notice; on failure schedule its retry. True when it went out."""
        try:
            if self.annotate is not None and not self.only_logs(notice):  # a log line does not say it is a repeat
                notice = await self.annotate(notice)
            await self.mailer.send(notice, self.catalog(), self.sender)
        except Exception as exc:  # noqa: BLE001 - any failure means: try again later
            _reraise_cancellation()
            delay = min(self.retry_seconds * 2 ** (notice.attempts - 1), MAX_RETRY_SECONDS)
            log.warning("notification %s for office %s failed (attempt %d, %s); retrying in %.0f s",
                        notice.id, notice.office, notice.attempts, type(exc).__name__, delay)
            if self.metrics is not None:
                self.metrics.notifications_failed.inc()
            await self.store.notice_failed(notice.id, delay, f"{type(exc).__name__}: {exc}")
            return False
        quiet = getattr(self.mailer, "quiet", None)  # a mailer that says itself what happened (webhooks)
        if not isinstance(self.mailer, LogMailer) and not (quiet and quiet(notice)):  # LogMailer says it only logged
            log.info("notification %s for office %s accepted by the mail server", notice.id, notice.office)
            if self.metrics is not None:
                self.metrics.notifications_sent.inc()
        return True

    async def stop(self, task: asyncio.Task[None], timeout: float) -> None:
        """At shutdown, within ``timeout`` seconds whatever the database does: stop ``task`` (this worker's run),
        record what the mail server accepted, and give back the notices this worker holds unsent."""
        async with asyncio.timeout(timeout):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            with contextlib.suppress(StoreError):
                await self.record_accepted()
                # Only after that: a notice released before its mark would be sent again by another worker.
                if not self.accepted:
                    await self.store.release_notices(self.worker)


def _reraise_cancellation() -> None:
    """A mail client may turn our cancellation into its own error (asyncio.wait_for can, before 3.12);
    shutting down must still stop the worker rather than schedule another retry."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
