"""Settings that differ by deployment, from LANDING_* environment variables.

Every setting has a default that runs the example site locally, and help text that the README's
settings table repeats (a test keeps the two in step).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from landing.errors import LandingError


def _setting(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    base_url: str | None = _setting(None, "Public address of the site, e.g. https://pain.example.com; overrides "
                                          "site.toml's base_url in canonical URLs, sitemaps and links")
    site_file: Path = _setting(Path("site.toml"), "The practice, offices, treatments and reviewer")
    locations_file: Path = _setting(Path("locations.csv"), "One row per town")
    templates_dir: Path = _setting(Path("templates"), "The site's templates: treatments/<slug>.html, and any of the package's page templates to override (same name)")
    static_dir: Path = _setting(Path("static"), "The site's logo and images (and any of the package's CSS to override), served under /static/ with fingerprinted names")
    reload_interval: float = _setting(2.0, "Seconds between checks for edited site files; 0 turns live reload off")
    page_cache_size: int = _setting(2000, "How many rendered pages are kept in memory (least recently used go first)")
    cache_seconds: int = _setting(600, "How long browsers and CDNs may reuse a page (Cache-Control max-age)")
    database_url: str = _setting("sqlite:///leads.sqlite3", "Where leads are stored: sqlite:///path/to/file.sqlite3")
    secret_key: str | None = _setting(None, "Signs form tokens and hashes client addresses; when unset, one is "
                                            "generated once into .landing-secret in the working directory")
    smtp_url: str | None = _setting(None, "Mail server for lead notifications, e.g. smtp://user:password@mail.example.com:587 "
                                          "(STARTTLS) or smtps://...:465; when unset, notifications are only logged")
    mail_from: str = _setting("landing@localhost", "Sender address of lead notifications")
    notify_retry_seconds: float = _setting(30.0, "First wait before retrying a failed notification; doubles each "
                                                 "time, up to an hour")
    leads_per_address: int = _setting(5, "Lead submissions allowed from one client address in 10 minutes")
    leads_per_minute: int = _setting(300, "Lead submissions allowed from everyone together in one minute")
    redis_url: str | None = _setting(None, "Redis for lead rate limits shared by several instances, e.g. "
                                           "redis://127.0.0.1:6379/0; when unset, each instance counts alone")
    trusted_proxies: str = _setting("", "Comma-separated addresses of proxies whose X-Forwarded-For is believed "
                                        "(client addresses for rate limits); empty: none")
    notify_lease_seconds: float = _setting(120.0, "How long a worker may hold a notification before another "
                                                  "worker may send it (after a crash)")
    # landing build (static pages) and landing check (page quality)
    lead_url: str | None = _setting(None, "Absolute address of the running service's /leads, e.g. "
                                          "https://pain.example.com/leads, that the lead forms of a static build "
                                          "(landing build) post to; when unset, the base URL's /leads")
    build_form_days: int = _setting(30, "At least how many days the lead forms of a static build are accepted (up "
                                        "to a week more, so a rebuild in the same week rewrites only changed pages)")
    check_record: Path = _setting(Path(".landing-check.json"), "Where landing check remembers each town's slugs, "
                                                               "to report a slug changed without an alias")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for spec in fields(cls):
            name = env_name(spec.name)
            if name not in environ or environ[name] == "":
                continue
            raw = environ[name]
            kind = type(spec.default) if spec.default is not None else str
            try:
                values[spec.name] = Path(raw) if isinstance(spec.default, Path) else kind(raw)
            except ValueError:
                raise LandingError(f"{name}={raw!r} is not a valid {kind.__name__} ({spec.metadata['help']})") from None
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def resolve_secret(settings: Settings, fallback: Path = Path(".landing-secret")) -> str:
    """The configured secret, or a development secret generated once and kept in ``fallback``.

    Kept in a file rather than made per process, so that forms served before a restart (or by another
    worker) still verify afterwards.
    """
    if settings.secret_key:
        return settings.secret_key
    try:
        return fallback.read_text().strip()
    except FileNotFoundError:
        secret = secrets.token_urlsafe(32)
        fallback.touch(mode=0o600)
        fallback.write_text(secret)
        return secret


def env_name(field_name: str) -> str:
    return f"LANDING_{field_name.upper()}"


def documented_settings() -> list[tuple[str, str, str]]:
    """(variable, default, help) for each setting, as the README lists them."""
    return [(env_name(spec.name), "" if spec.default is None else str(spec.default), spec.metadata["help"])
            for spec in fields(Settings)]
