"""The lead endpoints: POST /leads and /thank-you/. Each answer is decided by the pure checks in form.py
and guard.py; this module only reads the request, stores, and renders."""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from markupsafe import Markup
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import Scope

from landing.catalog import Catalog, LandingPage
from landing.leads.form import (
    ATTRIBUTION_FIELDS,
    CAMPAIGN_FIELDS,
    HONEYPOT,
    MAX_ATTRIBUTION,
    MAX_MESSAGE,
    TOKEN,
    Submission,
    attribution_from_request,
    check_submission,
    first_values,
    hidden_fields,
    parse_form,
)
from landing.leads.guard import FormTokens, RateLimits, TokenVerdict, client_hash
from landing.leads.health import HealthCheck
from landing.leads.model import Lead, new_id, utc_now
from landing.leads.notify import Notifier
from landing.leads.store import LeadStore, StoreError
from landing.logs import Repeated
from landing.metrics import Metrics
from landing.pages import Renderer
from landing.web.live import LiveSite
from landing.web.responses import Slot

log = logging.getLogger("landing.leads")
MAX_BODY = 16 * 1024
NO_STORE = {"cache-control": "no-store", "x-robots-tag": "noindex"}  # the security headers: AddSecurityHeaders
# Spam verdicts of the token: such a post is a bot's, answered like a person's and kept within the spam budget.
SPAM_VERDICTS = (TokenVerdict.MISSING, TokenVerdict.FORGED, TokenVerdict.TOO_FAST)


class SpamNotKept:
    """Counts the spam posts answered but not stored (over the spam budget) and logs how many, at most once a
    minute: a flood must not fill the log either. Only a count: nothing of the posts or their senders."""

    def __init__(self, every: float = 60.0) -> None:
        self.every = every
        self.count = 0
        self.logged_at = -math.inf

    def note(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self.count += 1
        if now - self.logged_at >= self.every:
            log.warning("spam budget spent: %d spam submission(s) answered but not stored since the last such "
                        "message (at most one a minute)", self.count)
            self.count, self.logged_at = 0, now


@dataclass
class LeadDesk:
    """Everything the lead endpoints need, made once per app."""

    store: LeadStore
    tokens: FormTokens
    guards: RateLimits  # what a person's lead spends
    spam_budget: RateLimits  # what storing a bot's post spends
    secret: str
    health: HealthCheck
    notifier: Notifier | None = None
    metrics: Metrics = dataclasses.field(default_factory=Metrics)
    spam_not_kept: SpamNotKept = dataclasses.field(default_factory=SpamNotKept)
    # A full disk refuses every lead: the first refusal is logged, the rest summarised once a minute.
    store_trouble: Repeated = dataclasses.field(default_factory=lambda: Repeated(log))

    def refused(self, reason: str) -> None:
        self.metrics.leads_refused.labels(reason).inc()


def form_fields_for(tokens: FormTokens) -> Callable[[Scope], Slot]:
    """The per-request hidden fields of a cached landing page: a fresh token and the visit's attribution, and
    whether there is any attribution (the visitor's own values, for no shared cache to keep)."""

    def fields(scope: Scope) -> Slot:
        query = scope.get("query_string", b"")
        referer = b""
        for name, value in scope["headers"]:
            if name == b"referer":
                referer = value
                break
        attribution = attribution_from_request(query, referer) if query or referer else {}
        return hidden_fields(tokens.issue(), attribution), bool(attribution)

    return fields


def desk(request: Request) -> LeadDesk:
    return request.state.leads  # type: ignore[no-any-return]


def site(request: Request) -> LiveSite:
    return request.state.site  # type: ignore[no-any-return]


class Unreadable(Enum):
    """Why a posted form could not be read."""

    NOT_A_FORM = "not application/x-www-form-urlencoded"
    TOO_LARGE = "over MAX_BODY"
    GONE = "the client went away"
    GARBLED = "not UTF-8, or too many fields"


async def form_pairs(request: Request) -> list[tuple[str, str]] | Unreadable:
    """The (name, value) pairs of a posted urlencoded form of at most MAX_BODY bytes (the lead form's and the
    staff area's), or why there are none."""
    return await read_pairs(request.headers.get("content-type", ""), request.headers.get("content-length", ""),
                            request.stream())


async def read_pairs(content_type: str, declared: str, chunks: AsyncIterator[bytes]) -> list[tuple[str, str]] | Unreadable:
    """form_pairs of a body given as its content type, its declared length and its chunks (which raise
    ClientDisconnect when the client goes away), whoever read them from the request."""
    if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        return Unreadable.NOT_A_FORM
    if declared.isdigit() and int(declared) > MAX_BODY:
        return Unreadable.TOO_LARGE
    body = b""
    try:
        async for chunk in chunks:
            body += chunk  # one chunk, nearly always: nothing is copied
            if len(body) > MAX_BODY:
                return Unreadable.TOO_LARGE
    except ClientDisconnect:
        return Unreadable.GONE
    try:
        return parse_form(body)
    except ValueError:  # UnicodeDecodeError is one
        return Unreadable.GARBLED


def unreadable(why: Unreadable, renderer: Renderer) -> Response:
    """The 4xx that explains why a posted form cannot be read."""
    if why is Unreadable.NOT_A_FORM:
        return message(renderer, 415, "We could not read that form",
                       "The form was sent in a format we do not accept. Please use the form on our page.")
    if why is Unreadable.TOO_LARGE:
        return too_large(renderer)
    if why is Unreadable.GONE:
        return Response(status_code=400)
    return message(renderer, 400, "We could not read that form",
                   "Some of what was sent could not be read. Please check the form and send it again.")


REFUSAL_OF_UNREADABLE = {Unreadable.NOT_A_FORM: "not_a_form", Unreadable.TOO_LARGE: "too_large",
                         Unreadable.GONE: "unreadable", Unreadable.GARBLED: "unreadable"}


def too_large(renderer: Renderer) -> Response:
    return message(renderer, 413, "That message is too long",
                   f"Please shorten your message (at most {MAX_MESSAGE:,} characters) and send it again.")


def message(renderer: Renderer, status: int, title: str, text: str, page: LandingPage | None = None) -> HTMLResponse:
    office = page.office if page else None
    return HTMLResponse(renderer.render_message(title, text, office), status_code=status, headers=NO_STORE)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@dataclass(frozen=True, slots=True)
class Posted:
    """What the answer to POST /leads depends on besides the body: read from a Starlette Request (submit_lead)
    or straight from the ASGI scope (landing.web.intake), the same way."""

    content_type: str
    content_length: str
    user_agent: str
    client: str  # the address uvicorn believes, "unknown" without one


async def submit_lead(request: Request) -> Response:
    headers = request.headers
    posted = Posted(headers.get("content-type", ""), headers.get("content-length", ""),
                    headers.get("user-agent", ""), client_address(request))
    return await answer_lead(desk(request), site(request), posted, request.stream())


async def answer_lead(leads: LeadDesk, live: LiveSite, posted: Posted, chunks: AsyncIterator[bytes]) -> Response:
    """The answer to a posted lead form, given after what it holds is stored (or why it is not)."""
    pairs = await read_pairs(posted.content_type, posted.content_length, chunks)
    if isinstance(pairs, Unreadable):
        leads.refused(REFUSAL_OF_UNREADABLE[pairs])
        return unreadable(pairs, live.current.renderer)
    values = first_values(pairs)
    snapshot = live.current
    catalog, renderer = snapshot.catalog, snapshot.renderer
    page = catalog.pages.get(f"/{values.get('treatment', '')}/{values.get('town', '')}/")
    hashed = client_hash(leads.secret, posted.client)
    verdict = leads.tokens.verify(values.get(TOKEN, ""))
    spam_reason = "honeypot filled" if values.get(HONEYPOT) else ""
    if not spam_reason and verdict in SPAM_VERDICTS:
        spam_reason = verdict.value
    if spam_reason:
        # Answered exactly like a person, so a bot learns nothing, and before the leads' budgets, which its posts
        # must not spend. Kept, flagged, in case a guard misfired, while the spam budget lasts.
        if not await leads.spam_budget.allow(hashed):
            leads.spam_not_kept.note()
            leads.metrics.leads_spam.labels("false").inc()
            return thank_you_redirect(page)
        lead = spam_lead(values, page, catalog, posted.user_agent, hashed, spam_reason)
        stored = await store(leads, renderer, lead, page, notify=False)
        if stored is None:
            leads.metrics.leads_spam.labels("true").inc()
        return stored or thank_you_redirect(page)
    if not await leads.guards.allow(hashed):
        leads.refused("rate_limited")
        return message(renderer, 429, "Please wait a few minutes",
                       "We have received several enquiries from your connection in a short time. Please try again "
                       "in a few minutes, or call us.", page)
    submission = check_submission(values, catalog.site.treatments_by_slug, catalog.pages)
    if verdict is TokenVerdict.EXPIRED and submission.ok:
        submission.errors["form"] = ("This form was open for more than a day. Please check your details and send "
                                     "it again.")
    elif verdict is TokenVerdict.BUILD_EXPIRED and submission.ok:
        # A static copy of the page that was not rebuilt in time: the page shown again is the service's own.
        submission.errors["form"] = ("This copy of the page is out of date. Please check your details and send "
                                     "them again.")
    if page is None:
        leads.refused("page_gone")
        return message(renderer, 422, "This page has moved",
                       "The form you used belongs to a page that no longer exists. Please find your town again "
                       "and use the form there.")
    if not submission.ok:
        expired = verdict in (TokenVerdict.EXPIRED, TokenVerdict.BUILD_EXPIRED) and "form" in submission.errors
        leads.refused("expired" if expired else "invalid")
        return form_again(renderer, page, submission, leads.tokens)
    lead = person_lead(submission, page, catalog, posted.user_agent, hashed)
    stored = await store(leads, renderer, lead, page, notify=True)
    if stored is not None:
        return stored
    leads.metrics.leads_accepted.inc()
    if leads.notifier is not None:
        leads.notifier.wake()
    return thank_you_redirect(page)


async def store(leads: LeadDesk, renderer: Renderer, lead: Lead, page: LandingPage | None,
                notify: bool) -> Response | None:
    """Store and commit; None on success, else the page (with ``page``'s office phone) telling the visitor
    to call instead. A lead not stored within LANDING_LEAD_TIMEOUT is never stored later (the stores see to it)."""
    try:
        await leads.store.add(lead, notify=notify)
    except StoreError as exc:
        leads.refused("store_failed")
        leads.store_trouble.failure(exc.cause, "could not store lead %s for office %s: %s; the visitor was asked to "
                                    "try again or call", lead.id, lead.office or "-", exc.cause, level=logging.ERROR)
        return message(renderer, 503, "We could not send your enquiry",
                       "Something went wrong on our side and your enquiry was not saved. Please try again in a "
                       "minute, or call us.", page)
    leads.store_trouble.success("leads are being stored again")
    return None


def thank_you_redirect(page: LandingPage | None) -> RedirectResponse:
    # Only the office goes in the URL: nothing about the person, and not the treatment they asked about.
    return _see_thank_you(f"/thank-you/?office={page.office.id}" if page else "/thank-you/")


@functools.lru_cache(maxsize=256)
def _see_thank_you(url: str) -> RedirectResponse:
    """One answer per office, made once: nothing in it is the visitor's, and the app and the lean path only read
    it (a response's headers are copied before anything is added)."""
    return RedirectResponse(url, status_code=303)


def form_again(renderer: Renderer, page: LandingPage, submission: Submission, tokens: FormTokens) -> HTMLResponse:
    attribution = {key: submission.values.get(key, "") for key in ATTRIBUTION_FIELDS}
    slot = Markup(hidden_fields(tokens.issue(), attribution).decode())
    html = renderer.render_landing(page, form=submission, form_slot=slot)
    return HTMLResponse(html, status_code=422, headers=NO_STORE)


def person_lead(submission: Submission, page: LandingPage, catalog: Catalog, user_agent: str, hashed: str) -> Lead:
    values = submission.values
    return Lead(
        id=new_id(), created_at=utc_now(), name=values["name"], phone=submission.phone_e164,
        email=submission.email_normalized, contact=values["contact"], message=values["message"],
        treatment=page.treatment.slug, town=page.location.slug, office=page.office.id,
        consent_text=catalog.site.consent.text, consent_version=catalog.site.consent.version,
        **request_facts(values, page, catalog, user_agent, hashed),
    )


def spam_lead(values: dict[str, str], page: LandingPage | None, catalog: Catalog, user_agent: str, hashed: str,
              reason: str) -> Lead:
    def clip(key: str, limit: int = MAX_MESSAGE) -> str:
        return values.get(key, "")[:limit]

    return Lead(
        id=new_id(), created_at=utc_now(), name=clip("name", 200), phone=clip("phone", 100), email=clip("email", 300),
        contact=clip("contact", 20), message=clip("message"), treatment=clip("treatment", 200), town=clip("town", 200),
        office=page.office.id if page else "", consent_text=catalog.site.consent.text if values.get("consent") else "",
        consent_version=catalog.site.consent.version if values.get("consent") else "", spam=True, spam_reason=reason,
        **request_facts(values, page, catalog, user_agent, hashed),
    )


def request_facts(values: dict[str, str], page: LandingPage | None, catalog: Catalog, user_agent: str,
                  hashed: str) -> dict[str, Any]:
    query = values.get("landing_query", "")
    landing_url = catalog.url(page.path) + (f"?{query}" if query else "") if page else ""
    return {
        "landing_url": landing_url[:1000],
        "referrer": values.get("landing_referrer", "")[:MAX_ATTRIBUTION],
        "user_agent": user_agent[:MAX_ATTRIBUTION],
        "client_hash": hashed,
        **{key: values.get(key, "")[:MAX_ATTRIBUTION] for key in CAMPAIGN_FIELDS},
    }


async def thank_you(request: Request) -> Response:
    snapshot = site(request).current
    office = snapshot.catalog.site.offices_by_id.get(request.query_params.get("office", ""))
    html = snapshot.renderer.render_message(
        "Thank you: we have your enquiry", "Thank you for contacting us. Your enquiry is safely with our team.",
        office, kind="thank-you")
    return HTMLResponse(html, headers={**NO_STORE, "cache-control": "private, max-age=0"})
