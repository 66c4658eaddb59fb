"""site.toml -> Site: the practice, its offices, its treatments and the reviewing physician.

Every problem of the file is collected and raised at once as a ConfigError, each message naming the
file, the line where it can be found, and the fix.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import hashlib
import re
import tomllib
from dataclasses import dataclass, field
import zoneinfo
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slugify import slugify

from landing.errors import ConfigError
from landing.states import STATES
from landing.toml_lines import TomlLines

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# How a treatment's procedure is done, in the words schema.org has for it (structured_data says how each is
# marked up): through an incision, through a needle puncture of the skin, or without either.
PROCEDURE_TYPES = ("Surgical", "Percutaneous", "Noninvasive")


@dataclass(frozen=True, slots=True)
class Hours:
    """One line of opening hours: the same times on each of ``days``."""

    days: tuple[str, ...]
    opens: str  # "08:00", 24-hour, as schema.org wants it
    closes: str

    @property
    def label(self) -> str:
        """Human form, e.g. 'Monday–Friday, 8:00 AM–5:00 PM'."""
        if len(self.days) > 2 and _consecutive(self.days):
            day_text = f"{self.days[0]}–{self.days[-1]}"
        else:
            day_text = ", ".join(self.days)
        return f"{day_text}: {_clock(self.opens)}–{_clock(self.closes)}"


@dataclass(frozen=True, slots=True)
class Office:
    id: str
    name: str
    street: str
    town: str
    state: str
    zip: str
    phone: str
    email: str
    latitude: float | None
    longitude: float | None
    hours: tuple[Hours, ...]

    @property
    def phone_href(self) -> str:
        return tel_href(self.phone)

    @property
    def place(self) -> str:
        return f"{self.town}, {self.state}"


@dataclass(frozen=True, slots=True)
class Faq:
    question: str
    answer: str


@dataclass(frozen=True, slots=True)
class Treatment:
    slug: str
    name: str
    description: str  # one or two sentences, used in meta descriptions and on the home page
    template: str  # path under the templates folder, e.g. treatments/intrathecal-pump-therapy.html
    faqs: tuple[Faq, ...]
    # Optional facts for the therapy's structured data; only what the content itself says.
    procedure_type: str = ""  # one of PROCEDURE_TYPES, or "" when site.toml gives none
    body_location: str = ""
    how_performed: str = ""
    followup: str = ""
    # What a town page shows of the content template: "summary" (its summary block, with a link to the
    # treatment's own page, which carries the whole article) or "full" (the whole article on every town page).
    article: str = "summary"


@dataclass(frozen=True, slots=True)
class Reviewer:
    name: str
    credentials: str
    reviewed: dt.date  # when the treatment content was last medically reviewed

    @property
    def display_name(self) -> str:
        return f"{self.name}, {self.credentials}" if self.credentials else self.name


@dataclass(frozen=True, slots=True)
class Practice:
    name: str
    short_name: str
    base_url: str  # without trailing slash, e.g. https://pain.example.com
    logo: str  # absolute URL or a path on this site
    phone: str
    # The practice's IANA time zone (site.toml [practice] timezone): every time the staff area shows is in it.
    timezone: str = "UTC"

    @property
    def phone_href(self) -> str:
        return tel_href(self.phone)

    @property
    def zone(self) -> ZoneInfo:
        return practice_zone(self.timezone)


DEFAULT_CONSENT = ("I agree that {practice} may contact me by phone call, text message or email about my enquiry. "
                   "Message and data rates may apply. Agreeing is not a condition of treatment, and I can withdraw "
                   "my consent at any time.")
DEFAULT_CONSENT_VERSION = "2026-11-01"


@dataclass(frozen=True, slots=True)
class Consent:
    """The lead form's consent text; its version is stored with every lead that agreed to it."""

    text: str
    version: str


DEFAULT_MAX_OFFICE_MILES = 50.0
DEFAULT_NEARBY_MILES = 30.0
ARTICLES = ("summary", "full")


@dataclass(frozen=True, slots=True)
class Quality:
    """site.toml's optional [quality] table: the quality gate and the distance limit."""

    # Pages more similar than this (0-1) to a sibling page are served noindex and left out of the
    # sitemap; None: no gate (the default).
    gate: float | None = None
    # A town served from farther than this is held back (noindex, not in the sitemap) and named by
    # `landing check`, unless allow_far_towns: a page promising an office hundreds of miles away helps nobody.
    max_office_miles: float = DEFAULT_MAX_OFFICE_MILES
    allow_far_towns: bool = False


@dataclass(frozen=True, slots=True)
class Column:
    """A column of the practice's own in locations.csv (site.toml [[locations.columns]]): a local fact that
    templates show as ``location.extra.<name>``, and the default page lists under ``label``."""

    name: str
    label: str = ""  # empty: the default templates do not show it (a template of the site's may)
    max_length: int = 500


@dataclass(frozen=True, slots=True)
class LocationOptions:
    """site.toml's optional [locations] table: how towns are read and linked."""

    columns: tuple[Column, ...] = ()
    # Fill a town's missing county, ZIP and coordinates from the bundled ZIP code data (landing.gazetteer).
    autofill: bool = True
    nearby_miles: float = DEFAULT_NEARBY_MILES  # "nearby towns" are within this distance


DEFAULT_CONVERSION_NAME = "Consultation booked"


@dataclass(frozen=True, slots=True)
class Conversions:
    """site.toml's optional [conversions] table: which status makes a lead a conversion, and how the ads
    platforms' offline-conversion files name and value it."""

    status: str = "scheduled"
    name: str = DEFAULT_CONVERSION_NAME  # must be the conversion action's name in Google Ads / Microsoft Advertising
    value: float | None = None  # None: the files leave Conversion Value and Conversion Currency empty
    currency: str = "USD"


@dataclass(frozen=True, slots=True)
class LeadOptions:
    """site.toml's optional [leads] table: how fast staff are expected to answer."""

    # A lead still new after this many minutes of its office's opening hours is flagged in the list, and the
    # office is reminded once.
    remind_after_minutes: int = 30
    # An enquiry with the phone or email of one received up to this many days before is a repeat of it; 0: off.
    duplicate_days: int = 30


PERSONAL_FIELDS = ("name", "phone", "email", "contact", "message")


@dataclass(frozen=True, slots=True)
class Webhook:
    """site.toml [[webhooks]]: where each new lead is announced as signed JSON (landing.leads.webhooks)."""

    url: str
    secret_env: str  # the environment variable holding the signing secret: never in site.toml
    office: str = ""  # an office id: that office's leads only; "": every lead of the practice
    personal: tuple[str, ...] = ()  # personal fields opted into (PERSONAL_FIELDS); none by default

    @property
    def key(self) -> str:
        """Names this webhook in the outbox (``webhook-<key>-<lead id>``): the same for the same URL and office."""
        return hashlib.sha256(f"{self.url}\n{self.office}".encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class Site:
    practice: Practice
    offices: tuple[Office, ...]
    treatments: tuple[Treatment, ...]
    reviewer: Reviewer
    consent: Consent = Consent(DEFAULT_CONSENT, DEFAULT_CONSENT_VERSION)
    quality: Quality = Quality()
    locations: LocationOptions = LocationOptions()
    conversions: Conversions = Conversions()
    leads: LeadOptions = LeadOptions()
    webhooks: tuple[Webhook, ...] = ()
    offices_by_id: dict[str, Office] = field(default_factory=dict, compare=False)
    treatments_by_slug: dict[str, Treatment] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        self.offices_by_id.update({office.id: office for office in self.offices})
        self.treatments_by_slug.update({treatment.slug: treatment for treatment in self.treatments})


def load_site(path: Path, base_url: str | None = None) -> Site:
    """Read and validate site.toml; ``base_url`` (from LANDING_BASE_URL) overrides the file's."""
    name = path.name
    try:
        raw_bytes = path.read_bytes()
    except OSError as exc:
        raise ConfigError([f"{name}: cannot read the file ({exc.strerror}); check LANDING_SITE_FILE"])
    try:
        text = raw_bytes.decode("utf-8-sig")
        data = tomllib.loads(text)
    except UnicodeDecodeError:
        raise ConfigError([f"{name}: the file is not UTF-8 text (save it as UTF-8)"])
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{name}: not valid TOML: {exc} (check quotes and brackets on that line)"])
    reader = _Reader(name, text)
    site = reader.site(data, base_url)
    if reader.problems:
        raise ConfigError(reader.problems)
    assert site is not None
    return site


Key = tuple[str | int, ...]  # a path in the parsed document: ("offices", 1, "zip")
KNOWN_KEYS: dict[str, set[str]] = {
    "quality": {"gate", "max_office_miles", "allow_far_towns"},
    "locations": {"columns", "autofill", "nearby_miles"},
    "conversions": {"status", "name", "value", "currency"},
    "leads": {"remind_after_minutes", "duplicate_days"},
}
# Names of locations.csv's own columns, and words templates already use: an extra column may not take them.
_RESERVED_COLUMNS = {"town", "state", "county", "zip", "latitude", "longitude", "slug", "aliases", "office",
                     "treatments", "intro", "notes", "extra", "place", "line", "timezone"}


class _Reader:
    """Walks the parsed TOML, collecting every problem instead of stopping at the first; each message points
    at the line of the key it is about (landing.toml_lines)."""

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.lines = TomlLines(text)
        self.problems: list[str] = []

    def problem(self, at: Key, message: str) -> None:
        """Record a problem about the key (or table) at path ``at``."""
        line = self.lines.line(at)
        where = f"{self.name}:{line}" if line else self.name
        self.problems.append(f"{where}: {message}")

    def text(self, table: dict[str, Any], key: str, where: str, at: Key, *, required: bool = True) -> str:
        value: object = table.get(key, "")
        if not isinstance(value, str):
            self.problem((*at, key), f"{where}: '{key}' must be text in quotes")
            return ""
        value = value.strip()
        if required and not value:
            self.problem((*at, key), f"{where}: '{key}' is missing (add {key} = \"...\")")
        return value

    def number(self, table: dict[str, Any], key: str, default: float, at: Key, message: str, *,
               low: float = 0.0, above: bool = True) -> float:
        value = table.get(key, default)
        if (isinstance(value, bool) or not isinstance(value, (int, float)) or value < low
                or (above and value == low)):
            self.problem((*at, key), message.format(value=value))
            return default
        return float(value)

    def flag(self, table: dict[str, Any], key: str, default: bool, where: str, at: Key) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            self.problem((*at, key), f"{where}: {key} = {value!r} must be true or false, without quotes")
            return default
        return value

    def known_keys(self, table: dict[str, Any], section: str) -> None:
        known = KNOWN_KEYS[section]
        for key in sorted(table.keys() - known):
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known: {', '.join(sorted(known))}"
            self.problem((section, key), f"[{section}]: unknown key '{key}' ({hint})")

    def site(self, data: dict[str, Any], base_url: str | None) -> Site | None:
        practice = self.practice(data.get("practice"), base_url)
        offices = tuple(self.office(i, table) for i, table in enumerate(self.tables(data, "offices")))
        self.unique([office.id for office in offices], "offices", "id")
        treatments = tuple(self.treatment(i, table) for i, table in enumerate(self.tables(data, "treatments")))
        self.unique([t.slug for t in treatments], "treatments", "slug")
        reviewer = self.reviewer(data.get("reviewer"))
        consent = self.consent(data.get("consent", {}), practice)
        quality = self.quality(data.get("quality", {}))
        locations = self.location_options(data.get("locations", {}))
        conversions = self.conversions(data.get("conversions", {}))
        lead_options = self.lead_options(data.get("leads", {}))
        webhooks = tuple(self.webhook(i, table, {o.id for o in offices})
                         for i, table in enumerate(self.tables(data, "webhooks")))
        if not offices:
            self.problem((), "no offices: add at least one [[offices]] table")
        if not treatments:
            self.problem((), "no treatments: add at least one [[treatments]] table")
        if self.problems:
            return None
        return Site(practice=practice, offices=offices, treatments=treatments, reviewer=reviewer, consent=consent,
                    quality=quality, locations=locations, conversions=conversions, leads=lead_options, webhooks=webhooks)

    def table(self, data: Any, section: str, example: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            self.problem((section,), f"[{section}] must be a table, e.g. [{section}] with {example} on the next line")
            return {}
        self.known_keys(data, section)
        return data

    def webhook(self, index: int, table: dict[str, Any], offices: set[str]) -> Webhook:
        at: Key = ("webhooks", index)
        where = f"webhook #{index + 1}"
        for key in sorted(table.keys() - {"url", "secret_env", "office", "personal"}):
            self.problem((*at, key), f"[[webhooks]] {where}: unknown key '{key}' (known: url, secret_env, office, "
                         "personal)")
        url = self.text(table, "url", where, at)
        parts = urlsplit(url)
        loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if url and not (parts.scheme == "https" and parts.hostname or parts.scheme == "http" and loopback):
            self.problem((*at, "url"), f"[[webhooks]] {where}: url '{url}' must start with https:// (plain http only "
                         "to this machine: http://127.0.0.1:...)")
        secret_env = self.text(table, "secret_env", where, at)
        if secret_env and not re.fullmatch(r"[A-Z][A-Z0-9_]*", secret_env):
            self.problem((*at, "secret_env"), f"[[webhooks]] {where}: secret_env '{secret_env}' must be the name of "
                         "an environment variable holding the signing secret, e.g. secret_env = \"CRM_WEBHOOK_SECRET\"")
        office = self.text(table, "office", where, at, required=False)
        if office and office not in offices:
            self.problem((*at, "office"), f"[[webhooks]] {where}: office '{office}' is not an office id (known: "
                         f"{', '.join(sorted(offices))}; leave office out for every lead)")
        personal = table.get("personal", [])
        if not isinstance(personal, list) or any(item not in PERSONAL_FIELDS for item in personal):
            self.problem((*at, "personal"), f"[[webhooks]] {where}: personal = {personal!r} must be a list of the "
                         f"personal fields to send, from {', '.join(PERSONAL_FIELDS)}; leave it out to send none")
            personal = []
        return Webhook(url=url, secret_env=secret_env, office=office, personal=tuple(personal))

    def conversions(self, data: Any) -> Conversions:
        from landing.leads.model import STATUSES

        table = self.table(data, "conversions", 'status = "scheduled"')
        at: Key = ("conversions",)
        status = self.text(table, "status", "[conversions]", at, required=False) or "scheduled"
        if status not in STATUSES or status in ("new", "spam"):
            choices = ", ".join(s for s in STATUSES if s not in ("new", "spam"))
            self.problem((*at, "status"), f"[conversions]: status = '{status}' must be a status staff set once a "
                         f"patient is won: one of {choices}")
            status = "scheduled"
        name = self.text(table, "name", "[conversions]", at, required=False) or DEFAULT_CONVERSION_NAME
        if len(name) > 100 or re.search(r"[\x00-\x1f\x7f]", name):
            self.problem((*at, "name"), "[conversions]: name must be the conversion action's name as the ads "
                         "platform shows it: at most 100 characters on one line")
        value: float | None = None
        if "value" in table:
            value = self.number(table, "value", 0.0, at, "[conversions]: value = {value!r} must be a number of 0 or "
                                "more without quotes (what one booked consultation is worth), e.g. value = 250",
                                above=False)
        currency = (self.text(table, "currency", "[conversions]", at, required=False) or "USD").upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            self.problem((*at, "currency"), f"[conversions]: currency '{currency}' must be a three-letter ISO 4217 "
                         "code, e.g. USD")
        return Conversions(status=status, name=name, value=value, currency=currency)

    def lead_options(self, data: Any) -> LeadOptions:
        table = self.table(data, "leads", "remind_after_minutes = 30")
        value = table.get("remind_after_minutes", 30)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10_080:
            self.problem(("leads", "remind_after_minutes"), f"[leads]: remind_after_minutes = {value!r} must be a "
                         "whole number of minutes from 1 to 10080 without quotes, e.g. remind_after_minutes = 30")
            value = 30
        days = table.get("duplicate_days", 30)
        if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 3650:
            self.problem(("leads", "duplicate_days"), f"[leads]: duplicate_days = {days!r} must be a whole number of "
                         "days from 0 (no matching) to 3650 without quotes, e.g. duplicate_days = 30")
            days = 30
        return LeadOptions(remind_after_minutes=value, duplicate_days=days)

    def quality(self, table: Any) -> Quality:
        if not isinstance(table, dict):
            self.problem(("quality",), "[quality] must be a table, e.g. [quality] with gate = 0.8 on the next line")
            return Quality()
        self.known_keys(table, "quality")
        gate = table.get("gate")
        if gate is not None and (isinstance(gate, bool) or not isinstance(gate, (int, float)) or not 0 < gate < 1):
            self.problem(("quality", "gate"), f"[quality]: gate = {gate!r} must be a number between 0 and 1 without "
                         "quotes, e.g. gate = 0.8 (pages more similar than that to a sibling are held back)")
            gate = None
        miles = self.number(table, "max_office_miles", DEFAULT_MAX_OFFICE_MILES, ("quality",),
                            "[quality]: max_office_miles = {value!r} must be a number of miles above 0 without quotes, "
                            "e.g. max_office_miles = 50")
        far = self.flag(table, "allow_far_towns", False, "[quality]", ("quality",))
        return Quality(gate=None if gate is None else float(gate), max_office_miles=miles, allow_far_towns=far)

    def location_options(self, table: Any) -> LocationOptions:
        if not isinstance(table, dict):
            self.problem(("locations",), "[locations] must be a table, e.g. [locations] with autofill = true on the "
                         "next line")
            return LocationOptions()
        self.known_keys(table, "locations")
        autofill = self.flag(table, "autofill", True, "[locations]", ("locations",))
        nearby = self.number(table, "nearby_miles", DEFAULT_NEARBY_MILES, ("locations",),
                             "[locations]: nearby_miles = {value!r} must be a number of miles above 0 without quotes, "
                             "e.g. nearby_miles = 30")
        columns = []
        for index, item in enumerate(self.tables(table, "columns", ("locations", "columns"))):
            at: Key = ("locations", "columns", index)
            name = self.text(item, "name", f"column #{index + 1}", at).lower()
            where = f"column '{name or index + 1}'"
            if name and not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                self.problem((*at, "name"), f"[[locations.columns]]: name '{name}' must be lower case letters, digits "
                             f"and underscores, starting with a letter (try '{slugify(name, separator='_') or 'x'}')")
            elif name in _RESERVED_COLUMNS:
                self.problem((*at, "name"), f"[[locations.columns]]: '{name}' is already a column or template "
                             "variable of its own (choose another name)")
            label = self.text(item, "label", where, at, required=False)
            limit = int(self.number(item, "max_length", 500, at, f"[[locations.columns]] {where}: max_length = "
                                    "{value!r} must be a whole number of characters above 0, e.g. max_length = 300"))
            for key in sorted(item.keys() - {"name", "label", "max_length"}):
                self.problem((*at, key), f"[[locations.columns]] {where}: unknown key '{key}' (known: name, label, "
                             "max_length)")
            columns.append(Column(name=name, label=label, max_length=limit))
        self.unique([column.name for column in columns], "locations.columns", "name", ("locations", "columns"))
        return LocationOptions(columns=tuple(columns), autofill=autofill, nearby_miles=nearby)

    def consent(self, table: Any, practice: Practice) -> Consent:
        at: Key = ("consent",)
        if not isinstance(table, dict):
            self.problem(at, "[consent] must be a table with text and version")
            table = {}
        text = self.text(table, "text", "[consent]", at, required=False)
        version = self.text(table, "version", "[consent]", at, required=False)
        if text and not version:
            self.problem((*at, "text"), "[consent]: a custom consent text needs a version (e.g. version = "
                         "\"2026-12-01\"), stored with each lead")
        if text and practice.name and practice.name not in text:
            self.problem((*at, "text"), f"[consent]: the text must name the practice ('{practice.name}')")
        return Consent(text or DEFAULT_CONSENT.format(practice=practice.name), version or DEFAULT_CONSENT_VERSION)

    def tables(self, data: dict[str, Any], key: str, at: Key | None = None) -> list[dict[str, Any]]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            written = ".".join(str(part) for part in at if isinstance(part, str)) if at else key
            self.problem(at or (key,), f"'{key}' must be a list of tables written as [[{written}]]")
            return []
        return value

    def unique(self, values: list[str], section: str, key: str, at: Key | None = None) -> None:
        seen: set[str] = set()
        for index, value in enumerate(values):
            if value and value in seen:
                self.problem((*(at or (section,)), index, key),
                             f"[[{section}]]: {key} '{value}' is used twice (each {key} must be unique)")
            seen.add(value)

    def practice(self, table: Any, base_url: str | None) -> Practice:
        at: Key = ("practice",)
        if not isinstance(table, dict):
            self.problem((), "the [practice] table is missing (add [practice] with name and base_url)")
            table = {}
        name = self.text(table, "name", "[practice]", at)
        short_name = self.text(table, "short_name", "[practice]", at, required=False) or name
        url = (base_url or self.text(table, "base_url", "[practice]", at)).rstrip("/")
        if url and not re.match(r"^https?://[^/\s]+$", url):
            self.problem((*at, "base_url"), f"[practice]: base_url '{url}' must look like https://www.example.com "
                         "(scheme and host, no path)")
        logo = self.text(table, "logo", "[practice]", at, required=False)
        phone = self.text(table, "phone", "[practice]", at, required=False)
        if phone:
            self.check_phone(phone, "[practice]", (*at, "phone"))
        timezone = self.text(table, "timezone", "[practice]", at, required=False) or "UTC"
        try:
            practice_zone(timezone)
        except ConfigError as exc:
            self.problem((*at, "timezone"), f"[practice]: {exc.problems[0]}")
            timezone = "UTC"
        return Practice(name=name, short_name=short_name, base_url=url.lower(), logo=logo, phone=phone,
                        timezone=timezone)

    def check_phone(self, phone: str, where: str, at: Key) -> None:
        digits = re.sub(r"\D", "", phone)
        if len(digits) == 11 and digits.startswith("1"):
            digits = digits[1:]
        if len(digits) != 10:
            self.problem(at, f"{where}: phone '{phone}' is not a 10-digit US number (write it like (847) 555-0142)")

    def office(self, index: int, table: dict[str, Any]) -> Office:
        at: Key = ("offices", index)
        office_id = self.text(table, "id", f"office #{index + 1}", at)
        where = f"office '{office_id or index + 1}'"
        if office_id and office_id != slugify(office_id):
            self.problem((*at, "id"), f"{where}: id must be lower case letters, digits and dashes "
                         f"(try '{slugify(office_id)}')")
        values = {key: self.text(table, key, where, at) for key in ("name", "street", "town", "state", "zip", "phone",
                                                                    "email")}
        values["state"] = values["state"].upper()
        if values["state"] and values["state"] not in STATES:
            self.problem((*at, "state"), f"{where}: state '{values['state']}' is not a US state or territory code "
                         "(e.g. IL)")
        if values["zip"] and not re.fullmatch(r"\d{5}", values["zip"]):
            self.problem((*at, "zip"), f"{where}: zip '{values['zip']}' must be 5 digits in quotes, e.g. \"60010\"")
        if values["phone"]:
            self.check_phone(values["phone"], where, (*at, "phone"))
        if values["email"] and not _EMAIL.match(values["email"]):
            self.problem((*at, "email"), f"{where}: email '{values['email']}' is not an email address")
        latitude = self.coordinate(table, "latitude", -90, 90, where, at)
        longitude = self.coordinate(table, "longitude", -180, 180, where, at)
        if ("latitude" in table) != ("longitude" in table):
            self.problem((*at, "latitude" if "latitude" in table else "longitude"),
                         f"{where}: give both latitude and longitude, or neither")
        hours = self.hours(table.get("hours", []), where, (*at, "hours"))
        return Office(id=office_id, latitude=latitude, longitude=longitude, hours=hours, **values)

    def coordinate(self, table: dict[str, Any], key: str, low: float, high: float, where: str, at: Key) -> float | None:
        value = table.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            self.problem((*at, key), f"{where}: {key} must be a number between {low} and {high}, without quotes")
            return None
        return float(value)

    def hours(self, value: Any, where: str, at: Key) -> tuple[Hours, ...]:
        if not isinstance(value, list):
            self.problem(at, f"{where}: hours must be a list of {{ days = [...], opens = \"08:00\", closes = \"17:00\" }}")
            return ()
        result = []
        for item in value:
            if not isinstance(item, dict):
                self.problem(at, f"{where}: each hours entry must be {{ days = [...], opens = ..., closes = ... }}")
                continue
            days = item.get("days", [])
            if isinstance(days, str):
                days = [days]
            bad_days = [day for day in days if day not in DAYS]
            if not days or bad_days:
                self.problem(at, f"{where}: hours days {bad_days or days} must be day names like \"Monday\"")
                continue
            opens, closes = str(item.get("opens", "")), str(item.get("closes", ""))
            if not (TIME.match(opens) and TIME.match(closes)) or opens >= closes:
                self.problem(at, f"{where}: hours opens '{opens}' and closes '{closes}' must be 24-hour times "
                             "like \"08:00\" and \"17:00\", opening first")
                continue
            result.append(Hours(days=tuple(days), opens=opens, closes=closes))
        return tuple(result)

    def treatment(self, index: int, table: dict[str, Any]) -> Treatment:
        at: Key = ("treatments", index)
        slug = self.text(table, "slug", f"treatment #{index + 1}", at)
        where = f"treatment '{slug or index + 1}'"
        if slug and slug != slugify(slug):
            self.problem((*at, "slug"), f"{where}: slug must be lower case letters, digits and dashes "
                         f"(try '{slugify(slug)}')")
        name = self.text(table, "name", where, at)
        description = self.text(table, "description", where, at)
        template = self.text(table, "template", where, at, required=False) or f"treatments/{slug}.html"
        faqs = []
        for number, item in enumerate(self.tables(table, "faqs", (*at, "faqs"))):
            question = self.text(item, "question", f"{where} FAQ", (*at, "faqs", number))
            answer = self.text(item, "answer", f"{where} FAQ", (*at, "faqs", number))
            faqs.append(Faq(question=question, answer=answer))
        optional = {key: self.text(table, key, where, at, required=False)
                    for key in ("procedure_type", "body_location", "how_performed", "followup")}
        written = optional["procedure_type"]
        optional["procedure_type"] = procedure_type(written)
        if written and not optional["procedure_type"]:
            self.problem((*at, "procedure_type"), f"{where}: procedure_type '{written}' is not a kind of procedure "
                         "schema.org has (write Surgical if it is done through an incision, Percutaneous if through a "
                         "needle puncture of the skin, Noninvasive if through neither; or leave procedure_type out)")
        article = self.text(table, "article", where, at, required=False) or "summary"
        if article not in ARTICLES:
            self.problem((*at, "article"), f"{where}: article = '{article}' must be \"summary\" (town pages show the "
                         "template's summary block and link to the treatment's page, which has the whole article) "
                         "or \"full\" (every town page shows the whole article)")
            article = "summary"
        return Treatment(slug=slug, name=name, description=description, template=template, faqs=tuple(faqs),
                         article=article, **optional)

    def reviewer(self, table: Any) -> Reviewer:
        at: Key = ("reviewer",)
        if not isinstance(table, dict):
            self.problem((), "the [reviewer] table is missing (add [reviewer] with name, credentials and reviewed)")
            return Reviewer(name="", credentials="", reviewed=dt.date.min)
        name = self.text(table, "name", "[reviewer]", at)
        credentials = self.text(table, "credentials", "[reviewer]", at, required=False)
        reviewed = table.get("reviewed")
        if not isinstance(reviewed, dt.date) or isinstance(reviewed, dt.datetime):
            self.problem((*at, "reviewed"), "[reviewer]: reviewed must be a date without quotes, e.g. "
                         "reviewed = 2026-11-01")
            reviewed = dt.date.min
        return Reviewer(name=name, credentials=credentials, reviewed=reviewed)


@functools.lru_cache(maxsize=64)
def practice_zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (America/Chicago); a ConfigError saying the fix when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        pass
    if not zoneinfo.available_timezones():
        raise ConfigError([f"timezone '{name}' cannot be looked up: this system has no time zone database "
                           "(install the tzdata package: pip install tzdata, or apt-get install tzdata)"])
    close = difflib.get_close_matches(name, sorted(zoneinfo.available_timezones()), n=1)
    hint = f"did you mean '{close[0]}'?" if close else "e.g. America/Chicago, America/New_York, America/Denver"
    raise ConfigError([f"timezone '{name}' is not an IANA time zone name ({hint})"])


def procedure_type(written: str) -> str:
    """'surgical', 'Non-invasive', 'PercutaneousProcedure' or https://schema.org/PercutaneousProcedure -> the
    word of PROCEDURE_TYPES it means; "" when it means none of them."""
    word = re.sub(r"^https?://schema\.org/", "", written.strip(), flags=re.I)
    word = re.sub(r"[^a-z]", "", word.lower()).removesuffix("procedure")
    return next((kind for kind in PROCEDURE_TYPES if kind.lower() == word), "")


@functools.lru_cache(maxsize=1024)  # a handful of numbers, printed several times on every page
def tel_href(phone: str) -> str:
    """A US phone as a tel: URL in E.164 form, so a phone dials it whatever its country setting."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) == 10:
        digits = "1" + digits
    return f"tel:+{digits}"


def _clock(value: str) -> str:
    hour, minute = (int(part) for part in value.split(":"))
    suffix = "AM" if hour < 12 else "PM"
    return f"{(hour % 12) or 12}:{minute:02d} {suffix}"


def _consecutive(days: tuple[str, ...]) -> bool:
    indexes = [DAYS.index(day) for day in days]
    return indexes == list(range(indexes[0], indexes[0] + len(indexes)))
