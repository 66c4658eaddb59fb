"""`landing serve`: uvicorn, with the options the service needs."""

from __future__ import annotations

import copy
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from landing.settings import Settings
from landing.snapshot import load_snapshot
from landing.web.app import create_app


def serve(settings: Settings, *, host: str, port: int, workers: int = 1, reload: bool = False) -> None:
    # Fail here, with every problem listed, rather than inside a worker. One process serves the app it
    # just built (the site is loaded once); several workers, or --reload, each build their own.
    factory: Any = "landing.web.app:app_from_env"
    if workers > 1 or reload:
        load_snapshot(settings)
    else:
        app = create_app(settings)
        factory = lambda: app  # noqa: E731
    # Client addresses (for rate limits) come from X-Forwarded-For only when the proxy is one we trust.
    trusted = settings.trusted_proxies.strip()
    uvicorn.run(factory, factory=True, host=host, port=port, reload=reload, workers=workers, log_level="info",
                server_header=False, log_config=log_config(), proxy_headers=bool(trusted),
                forwarded_allow_ips=trusted or None,
                # An access log would keep each visitor's address beside the treatment page they read.
                access_log=False)


def log_config() -> dict[str, object]:
    """uvicorn's logging, plus the service's own loggers (reloads, notifications) at INFO."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["landing"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config
