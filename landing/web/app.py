"""create_app(settings) -> Starlette: wires the live site, the lead store and the notifier together."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from typing import TypedDict

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from landing.leads.deadlines import StoreTimeouts
from landing.leads.guard import FormTokens, lead_limits, spam_limits
from landing.leads.health import HealthCheck
from landing.leads.notify import LogMailer, Mailer, Notifier, SMTPMailer
from landing.leads.duplicates import RepeatNotices
from landing.leads.speed import Reminders
from landing.leads.store import store_for
from landing.logs import install_request_ids
from landing.metrics import Metrics
from landing.pageviews import ViewCounter
from landing.settings import Settings, resolve_secret
from landing.web import admin as admin_views
from landing.web import consent as consent_views
from landing.web import conversions as conversion_views
from landing.web import leads as lead_views
from landing.web import public, site_admin
from landing.web import report as report_views
from landing.web import views as view_routes
from landing.web.indexnow import IndexNow, key_routes
from landing.web.intake import LeadIntake
from landing.web.live import LiveSite
from landing.web.published import Follower
from landing.web.observe import Allowed, RequestContext, metrics_route
from landing.web.responses import AddSecurityHeaders, SecurityHeaders
from landing.web.webhooks import Dispatch, Webhooks, WebhookSweep


class State(TypedDict):
    site: LiveSite
    leads: lead_views.LeadDesk
    published: Follower
    views: ViewCounter | None


# A request allocates a few hundred short-lived objects and dozens are in flight at once. At Python's
# default (700) the youngest generation is collected every few requests, what the requests in flight
# hold is promoted, and that sets off a collection of the whole heap, pages and all (~15 ms), twice a
# second under load: a tenth of the CPU time a lead costs (benchmarks/leads.py), and 15 ms pauses.
GC_THRESHOLD = (10_000, 10, 10)


def store_timeouts(settings: Settings) -> StoreTimeouts:
    return StoreTimeouts(lead=settings.lead_timeout, connect=settings.database_connect_timeout,
                         command=settings.database_command_timeout, statement=settings.database_statement_timeout)


def create_app(settings: Settings, worker: str | None = None) -> Starlette:
    """Build the app; raises ConfigError when the site files are invalid, before serving anything.

    ``worker`` names this process's notification worker for longer than the process (landing serve gives its host
    and port): a process restarted under the same name after a crash takes the notices it held back at once.
    """
    install_request_ids()
    secret = resolve_secret(settings)
    tokens = FormTokens(secret)
    metrics = Metrics()
    site = LiveSite(settings, form_fields=lead_views.form_fields_for(tokens), metrics=metrics)
    mailer: Mailer = SMTPMailer(settings.smtp_url) if settings.smtp_url else LogMailer()
    views = (ViewCounter(settings.views_flush_seconds, zone=lambda: site.current.catalog.site.practice.zone)
             if settings.count_views else None)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[State]:
        gc.set_threshold(*GC_THRESHOLD)
        # What startup opens is closed however it ends, a failed startup too (a Redis URL that redis cannot
        # parse): an open store's connection threads would otherwise keep the process from exiting.
        async with contextlib.AsyncExitStack() as opened:
            guards = lead_limits(settings.redis_url, settings.leads_per_address, settings.leads_per_minute)
            opened.push_async_callback(guards.close)
            spam_budget = spam_limits(settings.redis_url)
            opened.push_async_callback(spam_budget.close)
            store = store_for(settings.database_url, store_timeouts(settings))
            await store.open()
            opened.push_async_callback(store.close)
            webhooks = Webhooks(store)
            webhooks.warn_missing_secrets(site.current.catalog.site)  # said at start, not at the first lead
            notifier = Notifier(store, lambda: site.current.catalog, Dispatch(mailer, webhooks), settings.mail_from,
                                retry_seconds=settings.notify_retry_seconds,
                                poll_seconds=min(5.0, settings.notify_retry_seconds),
                                lease_seconds=settings.notify_lease_seconds, worker=worker, metrics=metrics,
                                annotate=RepeatNotices(store, lambda: site.current.catalog))
            desk = lead_views.LeadDesk(store=store, tokens=tokens, guards=guards, spam_budget=spam_budget,
                                       secret=secret, health=HealthCheck(store, settings.lead_timeout),
                                       notifier=notifier, metrics=metrics)
            published = Follower(site, store)
            await published.start()
            # A large gated site's town pages are measured now, while everything else is served (LiveSite.settle).
            measuring = (asyncio.create_task(site.measure_gate(), name="quality-gate")
                         if site.current.renderer.measuring else None)
            if views is not None:  # flushed for the last time before the store closes (callbacks run last first)
                await views.start(store)
                counting = asyncio.create_task(views.run(), name="page-views")
                opened.push_async_callback(views.stop, counting, settings.shutdown_timeout)
            sending = asyncio.create_task(notifier.run(), name="notifier")
            reminding = asyncio.create_task(Reminders(store, lambda: site.current.catalog, notifier.wake).run(),
                                            name="reminders")
            hooking = asyncio.create_task(WebhookSweep(store, lambda: site.current.catalog, notifier.wake).run(),
                                          name="webhooks")
            watching = asyncio.create_task(site.watch(), name="reload") if settings.reload_interval > 0 else None
            following = (asyncio.create_task(published.follow(settings.reload_interval), name="published")
                         if settings.reload_interval > 0 else None)
            submitting = None
            if settings.indexnow_key:
                indexnow = IndexNow(site, store, settings.indexnow_key, settings.indexnow_endpoint,
                                    retry_seconds=settings.notify_retry_seconds,
                                    poll_seconds=min(5.0, settings.notify_retry_seconds))
                submitting = asyncio.create_task(indexnow.run(), name="indexnow")
            try:
                yield {"site": site, "leads": desk, "published": published, "views": views}
            finally:
                for task in (reminding, hooking, following, submitting, measuring):
                    if task is not None:
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await task
                if watching is not None:
                    watching.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await watching
                # Bounded whatever the database does (a crash instead would leave claims to expire: nothing is lost);
                # then the store closes, within its command timeout.
                with contextlib.suppress(TimeoutError):
                    await notifier.stop(sending, settings.shutdown_timeout)

    routes = [
        Route("/leads", lead_views.submit_lead, methods=["POST"], name="submit_lead"),
        Route("/thank-you/", lead_views.thank_you, name="thank_you"),
        metrics_route(metrics, Allowed(settings.metrics_allow)),
        *admin_views.routes(),
        *conversion_views.routes(),
        *consent_views.routes(),
        *site_admin.routes(),
        *key_routes(settings.indexnow_key),
        *view_routes.routes(),
        *report_views.routes(),
        *public.routes(),
    ]

    def security_headers() -> SecurityHeaders:
        return site.current.security_headers

    async def server_error(request: Request, exc: Exception) -> Response:
        # The answer to a bug, with the headers of every other answer; the traceback goes to the log only.
        return PlainTextResponse("Internal Server Error", status_code=500,
                                 headers={name.decode(): value.decode() for name, value in security_headers()})

    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={Exception: server_error}, middleware=[
        # The hot path first, with its headers prepared.
        Middleware(public.CachedPages, site=site, claimed=public.claimed_prefixes(routes), metrics=metrics,
                   views=views),
        # The lead form's post, answered as the route would but without the router and the middlewares' wrappers.
        Middleware(LeadIntake, site=site, metrics=metrics, headers=security_headers),
        Middleware(RequestContext, metrics=metrics),
        Middleware(AddSecurityHeaders, headers=security_headers),
    ])
    app.state.site = site
    return app


def app_from_env() -> Starlette:
    """The factory `landing serve` gives uvicorn: settings from LANDING_* variables."""
    return create_app(Settings.from_env())
