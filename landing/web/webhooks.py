"""Webhook delivery over HTTP (landing.leads.webhooks holds the what; this is the how).

The notifier sends every outbox notice through one Mailer; Dispatch hands webhook notices to Webhooks
(a signed POST) and the rest to the mailer. A POST answered 2xx is delivered; anything else (another
status, a timeout, a refused connection, a missing secret) is a failure the notifier retries with backoff.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence

import httpx

from landing.catalog import Catalog
from landing.leads.model import Notice
from landing.leads.notify import LogMailer, Mailer
from landing.leads.store import LeadStore
from landing.leads.sweeps import sweep_forever
from landing.site import Site
from landing.leads.webhooks import (
    SIGNATURE_HEADER,
    SWEEP_SECONDS,
    body_bytes,
    is_webhook,
    payload,
    queue_webhooks,
    sign,
    webhook_of,
)

log = logging.getLogger("landing.webhooks")
TIMEOUT_SECONDS = 10.0


class WebhookError(Exception):
    """A delivery that did not succeed (the notifier retries it)."""


class Webhooks:
    def __init__(self, store: LeadStore, environ: Mapping[str, str] | None = None,
                 timeout: float = TIMEOUT_SECONDS) -> None:
        self.store = store
        self.environ = os.environ if environ is None else environ
        self.timeout = timeout

    def warn_missing_secrets(self, site: Site) -> None:
        """Log each environment variable that site.toml's webhooks name and this process lacks."""
        for name in sorted({hook.secret_env for hook in site.webhooks if not self.environ.get(hook.secret_env)}):
            log.warning("the webhook secret %s is not set: deliveries to its webhooks wait and are retried until it "
                        "is", name)

    async def send(self, notice: Notice, catalog: Catalog) -> str:
        """POST the notice's lead; what happened, for the log."""
        hook = webhook_of(notice.id, catalog.site)
        if hook is None:
            return "not sent: its webhook is no longer in site.toml"
        lead = await self.store.get(notice.lead_id)
        if lead is None or lead.spam:
            return "not sent: the lead was removed or marked spam"
        revoked = await self.store.fetch("SELECT 1 FROM consent_revocations WHERE lead_id = ?", (lead.id,))
        if revoked:
            return "not sent: the patient revoked consent"
        secret = self.environ.get(hook.secret_env, "")
        if not secret:
            raise WebhookError(f"the environment variable {hook.secret_env} (the webhook's secret) is not set")
        body = body_bytes(payload(lead, hook, catalog))
        headers = {"content-type": "application/json", SIGNATURE_HEADER: sign(secret, body),
                   "Landing-Webhook-Id": notice.id, "user-agent": "landing-webhooks"}
        async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
            response = await client.post(hook.url, content=body, headers=headers)
        if not 200 <= response.status_code < 300:
            raise WebhookError(f"the receiver answered {response.status_code}")
        return f"delivered ({response.status_code})"


class Dispatch:
    """A Mailer for the notifier: webhook notices to Webhooks, every other notice to ``mailer``."""

    def __init__(self, mailer: Mailer, webhooks: Webhooks) -> None:
        self.mailer, self.webhooks = mailer, webhooks
        self.log_only = isinstance(mailer, LogMailer)

    def quiet(self, notice: Notice) -> bool:
        """Whether the notifier should not say "accepted by the mail server": this logs webhooks itself, and a
        log-only mailer says what it did."""
        return is_webhook(notice.id) or self.log_only

    def only_logs(self, notice: Notice) -> bool:
        """Whether sending ``notice`` only writes a log line: an email notice without a mail server (the notifier
        then marks such notices sent many at a time)."""
        return self.log_only and not is_webhook(notice.id)

    def log(self, notices: Sequence[Notice], catalog: Catalog, sender: str) -> None:
        """The notices ``only_logs`` says of, logged by the log-only mailer (see LogMailer.log)."""
        if not isinstance(self.mailer, LogMailer):
            raise TypeError("only a log-only mailer's notices are logged together")
        self.mailer.log(notices, catalog, sender)

    async def send(self, notice: Notice, catalog: Catalog, sender: str) -> None:
        if is_webhook(notice.id):
            outcome = await self.webhooks.send(notice, catalog)
            log.info("webhook %s for lead %s: %s", notice.id, notice.lead_id, outcome)
            return
        await self.mailer.send(notice, catalog, sender)


class WebhookSweep:
    """Runs in the app's lifespan: queues each new lead for each webhook, every ``sweep_seconds``."""

    def __init__(self, store: LeadStore, catalog: Callable[[], Catalog], wake: Callable[[], None],
                 sweep_seconds: float = SWEEP_SECONDS) -> None:
        self.store, self.catalog, self.wake, self.sweep_seconds = store, catalog, wake, sweep_seconds

    async def run(self) -> None:
        async def work() -> int:
            site = self.catalog().site
            return await queue_webhooks(self.store, site) if site.webhooks else 0

        await sweep_forever("webhooks", work, self.wake, self.sweep_seconds)
