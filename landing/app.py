"""create_app(settings) -> Starlette: wires the live site and the routes together."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TypedDict

from starlette.applications import Starlette

from landing import web
from landing.settings import Settings
from landing.snapshot import LiveSite


class State(TypedDict):
    site: LiveSite


def create_app(settings: Settings) -> Starlette:
    """Build the app; raises ConfigError when the site files are invalid, before serving anything."""
    site = LiveSite(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[State]:
        watcher = asyncio.create_task(site.watch()) if settings.reload_interval > 0 else None
        try:
            yield {"site": site}
        finally:
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher

    app = Starlette(routes=web.routes(), lifespan=lifespan)
    app.state.site = site
    return app


def app_from_env() -> Starlette:
    """The factory `landing serve` gives uvicorn: settings from LANDING_* variables."""
    return create_app(Settings.from_env())
