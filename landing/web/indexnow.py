"""IndexNow from the service: the key file at /{key}.txt, and a worker that submits what a publish or a file reload
changed (landing/indexnow.py) through an outbox (landing/leads/indexnow_outbox.py): a failure is retried with
backoff, and serving never waits for a search engine."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

import httpx
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from landing.build import site_fingerprint
from landing.indexnow import Side, batch_id, batches, changed_urls, request_body
from landing.leads.indexnow_outbox import IndexNowStore, Submission
from landing.snapshot import Snapshot
from landing.web.live import LiveSite

log = logging.getLogger("landing.indexnow")
TIMEOUT_SECONDS = 20.0
LEASE_SECONDS = 120.0
MAX_RETRY_SECONDS = 3600.0
ACCEPTED = (200, 202)


def key_routes(key: str | None) -> list[BaseRoute]:
    """/{key}.txt, which proves to search engines that the submissions come from this site."""
    if not key:
        return []

    async def key_file(request: Request) -> Response:
        return PlainTextResponse(key, headers={"cache-control": "public, max-age=86400"})

    return [Route(f"/{key}.txt", key_file, name="indexnow_key")]


async def post_json(url: str, body: bytes, timeout: float) -> int:
    """POST a JSON body; the HTTP status (an error status too). Raises httpx.TransportError when there is no
    answer."""
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=True) as client:
        response = await client.post(url, content=body, headers={
            "content-type": "application/json; charset=utf-8", "user-agent": "landing (IndexNow)"})
        return response.status_code


class IndexNow:
    """Listens to the site's changes and submits them. Made inside the running event loop (the app's lifespan)."""

    def __init__(self, site: LiveSite, store: IndexNowStore, key: str, endpoint: str, retry_seconds: float = 30.0,
                 poll_seconds: float = 5.0) -> None:
        self.site, self.store, self.key, self.endpoint = site, store, key, endpoint
        self.retry_seconds, self.poll_seconds = retry_seconds, poll_seconds
        self.loop = asyncio.get_running_loop()
        self.wake = asyncio.Event()
        self.digest = site_fingerprint(site.settings)
        site.listeners.append(self.changed)

    def changed(self, old: Snapshot, new: Snapshot) -> None:
        """In the reloading thread: what the change submits, queued from the event loop."""
        digest = site_fingerprint(self.site.settings)
        urls = changed_urls(Side(old, self.digest), Side(new, digest))
        self.digest = digest
        if urls:
            queued = [(batch_id(old.version, new.version, number, batch), batch)
                      for number, batch in enumerate(batches(urls))]
            asyncio.run_coroutine_threadsafe(self.queue(queued), self.loop)

    async def queue(self, queued: list[tuple[str, list[str]]]) -> None:
        try:
            await self.store.queue_submissions(queued)
        except Exception:  # the database is down: this change goes unsubmitted (the sitemap still tells)
            log.exception("could not queue %d IndexNow submission(s)", len(queued))
        self.wake.set()

    async def run(self) -> None:
        """Send what is due, forever (cancelled at shutdown)."""
        while True:
            try:
                due = await self.store.claim_submissions(LEASE_SECONDS)
            except Exception:
                log.exception("could not read the IndexNow outbox; trying again")
                due = []
            for submission in due:
                try:
                    await self.send(submission)
                except Exception:  # its claim lapses and it is sent again
                    log.exception("could not record an IndexNow submission's outcome")
            if not due:
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), self.poll_seconds)

    async def send(self, submission: Submission) -> None:
        body = json.dumps(request_body(self.site.current.catalog.base_url, self.key, submission.urls)).encode()
        try:
            status = await post_json(self.endpoint, body, TIMEOUT_SECONDS)
            error = "" if status in ACCEPTED else f"HTTP {status}"
        except httpx.TransportError as exc:
            error = f"no answer ({type(exc).__name__})"
        if not error:
            await self.store.submission_sent(submission.id)
            log.info("submitted %d URL(s) to IndexNow", len(submission.urls))
            return
        wait = min(MAX_RETRY_SECONDS, self.retry_seconds * 2 ** (submission.attempts - 1))
        log.warning("IndexNow submission of %d URL(s) failed (%s); trying again in %.0f s", len(submission.urls),
                    error, wait)
        await self.store.submission_failed(submission.id, wait, error)
