"""`landing serve`: uvicorn, with the options the service needs."""

from __future__ import annotations

import math
import socket
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from landing.logs import logging_config
from landing.settings import Settings
from landing.snapshot import load_snapshot
from landing.web.app import create_app
from landing.web.slow_clients import SlowClientsClosed


def serve(settings: Settings, *, host: str, port: int, workers: int = 1, reload: bool = False) -> None:
    # Fail here, with every problem listed, rather than inside a worker. One process serves the app it
    # just built (the site is loaded once); several workers, or --reload, each build their own.
    factory: Any = "landing.web.app:app_from_env"
    if workers > 1 or reload:
        load_snapshot(settings, measure=False)  # the files' problems; each worker measures the quality gate
    else:
        # One process per host and port: its notification worker's name outlives it, so that after a crash the
        # next process on this port takes back at once what it held. (Several workers share a port: each
        # names itself, and what a crashed one held waits out LANDING_NOTIFY_LEASE_SECONDS.)
        app = create_app(settings, worker=f"{socket.gethostname()}:{port}")
        factory = lambda: app  # noqa: E731
    SlowClientsClosed.timeout = settings.client_timeout
    # Client addresses (for rate limits) come from X-Forwarded-For only when the proxy is one we trust.
    trusted = settings.trusted_proxies.strip()
    uvicorn.run(factory, factory=True, host=host, port=port, reload=reload, workers=workers, log_level="info",
                server_header=False, log_config=log_config(settings), proxy_headers=bool(trusted),
                forwarded_allow_ips=trusted or None,
                # An access log would keep each visitor's address beside the treatment page they read.
                access_log=False,
                # A client that sends too slowly is closed (slow_clients.py).
                http=SlowClientsClosed,
                # At shutdown, requests in flight get this long; the lifespan then bounds the database's part.
                timeout_graceful_shutdown=math.ceil(settings.shutdown_timeout))


def log_config(settings: Settings) -> dict[str, object]:
    """uvicorn's logging, one line per event as LANDING_LOG_FORMAT says, plus the service's own loggers at INFO."""
    return logging_config(settings.log_format, LOGGING_CONFIG)
