"""The `landing` command line: thin wrappers over the library."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from landing.errors import ConfigError, LandingError
from landing.settings import Settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="landing", description="Local landing pages for a medical practice.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve the site (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--reload", action="store_true", help="restart when Python code changes (development)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.set_defaults(run=run_serve)

    check = commands.add_parser("check", help="validate site.toml, templates and locations.csv; render every page")
    check.add_argument("--locations", type=Path, help="check this CSV instead of LANDING_LOCATIONS_FILE")
    check.set_defaults(run=run_check)

    from landing.admin.commands import add_staff_commands  # users and leads: the staff side

    add_staff_commands(commands)

    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        return int(args.run(args, settings))
    except ConfigError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        print(f"{len(exc.problems)} problem{'s' if len(exc.problems) != 1 else ''} found; nothing was changed.",
              file=sys.stderr)
        return 1
    except LandingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from landing.snapshot import load_snapshot

    load_snapshot(settings)  # fail here, with every problem listed, rather than inside a worker
    # Client addresses (for rate limits) come from X-Forwarded-For only when the proxy is one we trust.
    trusted = settings.trusted_proxies.strip()
    uvicorn.run("landing.app:app_from_env", factory=True, host=args.host, port=args.port, reload=args.reload,
                workers=args.workers, log_level="info", server_header=False, log_config=log_config(),
                proxy_headers=bool(trusted), forwarded_allow_ips=trusted or None,
                # An access log would keep each visitor's address beside the treatment page they read.
                access_log=False)
    return 0


def log_config() -> dict[str, object]:
    """uvicorn's logging, plus the service's own loggers (reloads, notifications) at INFO."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["landing"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def run_check(args: argparse.Namespace, settings: Settings) -> int:
    from landing.check import check_site

    if args.locations:
        settings = settings.replace(locations_file=args.locations)
    report = check_site(settings)
    print(report.summary)
    return 0
