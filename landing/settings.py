"""Settings that differ by deployment, from LANDING_* environment variables.

Every setting has a default that runs the example site locally, help text that the README's settings
table repeats (a test keeps the two in step), and a parser that reads its text and refuses values that
make no sense (a negative limit, 'maybe' for a yes/no) with a message naming the variable and the fix.
"""

from __future__ import annotations

import ipaddress
import math
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from landing.errors import LandingError

Parser = Callable[[str], Any]


class SettingError(LandingError):
    pass


def whole(minimum: int, maximum: int | None = None) -> Parser:
    def parse(text: str) -> int:
        try:
            value = int(text.strip().replace("_", ""))
        except ValueError:
            raise SettingError("is not a whole number") from None
        if value < minimum or (maximum is not None and value > maximum):
            raise SettingError(f"must be a whole number from {minimum:,}" + (f" to {maximum:,}" if maximum else " up"))
        return value
    return parse


def number(minimum: float, maximum: float | None = None, *, above: bool = False) -> Parser:
    def parse(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise SettingError("is not a number") from None
        low_ok = value > minimum if above else value >= minimum
        if not math.isfinite(value) or not low_ok or (maximum is not None and value > maximum):
            limit = f"above {minimum:g}" if above else f"at least {minimum:g}"
            raise SettingError(f"must be a number {limit}" + (f" and at most {maximum:g}" if maximum is not None else ""))
        return value
    return parse


def url(*schemes: str, path: bool = True) -> Parser:
    def parse(text: str) -> str:
        value = text.strip()
        parts = urlsplit(value)
        if parts.scheme.lower() not in schemes or not (parts.netloc or parts.path):
            raise SettingError(f"must be a URL starting with {' or '.join(f'{scheme}://' for scheme in schemes)}")
        if not path and (parts.path not in ("", "/") or parts.query or parts.fragment or not parts.netloc):
            raise SettingError(f"must be a scheme and host only, e.g. {schemes[0]}://www.example.com")
        return value.rstrip("/") if not path else value
    return parse


def text(value: str) -> str:
    return value.strip()


def choice(*options: str) -> Parser:
    def parse(value: str) -> str:
        chosen = value.strip().lower()
        if chosen not in options:
            raise SettingError(f"must be one of: {', '.join(options)}")
        return chosen
    return parse


def addresses(value: str) -> str:
    """Comma-separated IP addresses or networks (CIDR), e.g. ``127.0.0.1, ::1, 10.0.0.0/8``, kept as text; ``none``
    for none (an empty variable means the default)."""
    if value.strip().lower() == "none":
        return ""
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise SettingError(f"{item!r} is not an IP address or network (e.g. 127.0.0.1 or 10.0.0.0/8)") from None
    return value.strip()


def indexnow_key(value: str) -> str:
    """An IndexNow key: 8 to 128 of a-z, A-Z, 0-9 and '-' (the protocol's rule)."""
    key = value.strip()
    if not (8 <= len(key) <= 128) or not all(char.isascii() and (char.isalnum() or char == "-") for char in key):
        raise SettingError("must be 8 to 128 letters, digits or dashes (e.g. the output of `python -c 'import "
                           "secrets; print(secrets.token_hex(16))'`)")
    return key


def path(value: str) -> Path:
    return Path(value.strip())


BOOLEANS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def boolean(value: str) -> bool:
    try:
        return BOOLEANS[value.strip().lower()]
    except KeyError:
        raise SettingError("must be true or false (or yes/no, 1/0, on/off)") from None


def _setting(default: Any, help: str, parse: Parser) -> Any:
    return field(default=default, metadata={"help": help, "parse": parse})


@dataclass(frozen=True)
class Settings:
    base_url: str | None = _setting(None, "Public address of the site, e.g. https://pain.example.com; overrides "
                                          "site.toml's base_url in canonical URLs, sitemaps and links",
                                    url("https", "http", path=False))
    site_file: Path = _setting(Path("site.toml"), "The practice, offices, treatments and reviewer", path)
    locations_file: Path = _setting(Path("locations.csv"), "One row per town", path)
    faqs_file: Path = _setting(Path("faqs.csv"), "Questions of a town, county or office, shown before the "
                                                 "treatment's FAQ on their pages (optional: no file, no questions)", path)
    templates_dir: Path = _setting(Path("templates"), "The site's templates: treatments/<slug>.html, and any of the "
                                                      "package's page templates to override (same name)", path)
    static_dir: Path = _setting(Path("static"), "The site's logo and images (and any of the package's CSS to "
                                                "override), served under /static/ with fingerprinted names", path)
    reload_interval: float = _setting(2.0, "Seconds between checks for edited site files; 0 turns live reload off",
                                      number(0, 86_400))
    page_cache_size: int = _setting(2000, "How many rendered pages are kept in memory (least recently used go first)",
                                    whole(1, 10_000_000))
    cache_seconds: int = _setting(600, "How long browsers and CDNs may reuse a page (Cache-Control max-age)",
                                  whole(0, 31_536_000))
    database_url: str = _setting("sqlite:///leads.sqlite3", "Where leads are stored: sqlite:///path/to/file.sqlite3 "
                                 "or postgresql://user:password@host:5432/database",
                                 url("sqlite", "postgresql", "postgres"))
    secret_key: str | None = _setting(None, "Signs form tokens and hashes client addresses; when unset, one is "
                                            "generated once into .landing-secret in the working directory", text)
    smtp_url: str | None = _setting(None, "Mail server for lead notifications, e.g. smtp://user:password@mail.example.com:587 "
                                          "(STARTTLS) or smtps://...:465; when unset, notifications are only logged",
                                    url("smtp", "smtps"))
    mail_from: str = _setting("landing@localhost", "Sender address of lead notifications", text)
    notify_retry_seconds: float = _setting(30.0, "First wait before retrying a failed notification; doubles each "
                                                 "time, up to an hour", number(0, 3600, above=True))
    leads_per_address: int = _setting(5, "Lead submissions allowed from one client address in 10 minutes",
                                      whole(1, 1_000_000))
    leads_per_minute: int = _setting(300, "Lead submissions allowed from everyone together in one minute",
                                     whole(1, 10_000_000))
    redis_url: str | None = _setting(None, "Redis for lead rate limits shared by several instances, e.g. "
                                           "redis://127.0.0.1:6379/0; when unset, each instance counts alone",
                                     url("redis", "rediss", "unix"))
    trusted_proxies: str = _setting("", "Comma-separated addresses of proxies whose X-Forwarded-For is believed "
                                        "(client addresses for rate limits); empty: none", text)
    notify_lease_seconds: float = _setting(120.0, "How long a worker may hold a notification before another "
                                                  "worker may send it (after a crash)", number(1, 86_400))
    # Time limits: every part that can hang has one (README: Time limits).
    lead_timeout: float = _setting(5.0, "Seconds a lead may wait to be stored; past it the visitor is asked to try "
                                        "again or call (503) and the lead is not stored", number(0.5, 120))
    database_connect_timeout: float = _setting(5.0, "Seconds to open a connection to the PostgreSQL lead database "
                                                    "(connecting and signing in)", number(0.1, 300))
    database_command_timeout: float = _setting(10.0, "Seconds the service waits for any other answer of the lead "
                                                     "database (reads, staff changes, the notification worker) "
                                                     "before it gives up; a PostgreSQL connection that gave none is "
                                                     "replaced", number(0.5, 3600))
    database_statement_timeout: float = _setting(5.0, "Seconds PostgreSQL lets one statement of the service run "
                                                      "(its statement_timeout, lock waits included); 0: no limit",
                                                 number(0, 3600))
    shutdown_timeout: float = _setting(10.0, "Seconds landing serve gives requests in flight, and then the lead "
                                             "database, at shutdown before it stops anyway", number(0, 600))
    client_timeout: float = _setting(10.0, "Seconds a client may take to send a request's headers and body, from "
                                           "the connection opening (or the request's first byte); a slower "
                                           "connection is closed", number(0.5, 600))
    # Live reload
    reload_settle_seconds: float = _setting(1.0, "How long an edited site file must keep its size and modification "
                                                 "time before it is loaded", number(0, 600))
    reload_max_drop: float = _setting(0.25, "Share of the pages one reload may remove; a larger drop is refused "
                                            "until `landing confirm` accepts the files", number(0, 1))
    # What an operator watches
    log_format: str = _setting("text", "Log lines as text (one line per event) or json (one JSON object per line)",
                               choice("text", "json"))
    metrics_allow: str = _setting("127.0.0.1, ::1", "Comma-separated addresses or networks (CIDR) that may read "
                                                    "/metrics; none: nobody", addresses)
    # Page views counted at the origin (landing/pageviews.py)
    count_views: bool = _setting(True, "Count page views per page and day at the origin (no cookie, no script, no "
                                       "stored address: see Page views in the README)", boolean)
    views_flush_seconds: float = _setting(5.0, "Seconds between the additions of this process's page view counts to "
                                               "the database (and at shutdown)", number(0.1, 3600))
    # landing build (static pages) and landing check (page quality)
    lead_url: str | None = _setting(None, "Absolute address of the running service's /leads, e.g. "
                                          "https://pain.example.com/leads, that the lead forms of a static build "
                                          "(landing build) post to; when unset, the base URL's /leads",
                                    url("https", "http"))
    build_form_days: int = _setting(30, "At least how many days the lead forms of a static build are accepted (up "
                                        "to a week more, so a rebuild in the same week rewrites only changed pages)",
                                    whole(1, 3650))
    check_record: Path = _setting(Path(".landing-check.json"), "Where landing check remembers each town's slugs, "
                                                               "to report a slug changed without an alias", path)
    # Telling search engines what changed (landing/indexnow.py)
    indexnow_key: str | None = _setting(None, "IndexNow key: when set, it is served at /{key}.txt and the pages a "
                                              "publish or a file reload adds, changes or removes are submitted to "
                                              "LANDING_INDEXNOW_ENDPOINT; when unset, nothing is submitted",
                                        indexnow_key)
    indexnow_endpoint: str = _setting("https://api.indexnow.org/indexnow", "Where IndexNow submissions go (the "
                                      "shared endpoint passes them on to Bing, Yandex and the others)",
                                      url("https", "http"))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from LANDING_* variables; raises LandingError naming each variable that makes no sense."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        problems: list[str] = []
        for spec in fields(cls):
            name = env_name(spec.name)
            raw = environ.get(name, "")
            if raw.strip() == "":
                continue
            try:
                values[spec.name] = spec.metadata["parse"](raw)
            except SettingError as exc:
                problems.append(f"{name}={raw!r} {exc} ({spec.metadata['help']})")
        if problems:
            raise LandingError("\n".join(problems))
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def resolve_secret(settings: Settings, fallback: Path = Path(".landing-secret")) -> str:
    """The configured secret, or a development secret generated once and kept in ``fallback``.

    Kept in a file rather than made per process, so that forms served before a restart (or by another
    worker) still verify afterwards. Several workers starting together agree on one: the file is written
    whole under a temporary name and linked into place only if none is there yet, so it is never seen
    empty and never replaced.
    """
    if settings.secret_key:
        return settings.secret_key
    try:
        existing = fallback.read_text().strip()
    except FileNotFoundError:
        existing = ""
    if existing:
        return existing
    secret = secrets.token_urlsafe(32)
    temporary = fallback.with_name(f".{fallback.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(secret)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, fallback)  # fails if another worker's secret got there first: use that one
        except FileExistsError:
            if not fallback.read_text().strip():  # an empty file an older version left: replace it whole
                os.replace(temporary, fallback)
    finally:
        temporary.unlink(missing_ok=True)
    return fallback.read_text().strip()


def env_name(field_name: str) -> str:
    return f"LANDING_{field_name.upper()}"
