"""site.toml -> Site: the practice, its offices, its treatments and the reviewing physician.

Every problem of the file is collected and raised at once as a ConfigError, each message naming the
file, the line where it can be found, and the fix.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slugify import slugify

from landing.errors import ConfigError
from landing.states import STATES

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


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

    @property
    def address_lines(self) -> tuple[str, str]:
        return (self.street, f"{self.town}, {self.state} {self.zip}")


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
    procedure_type: str = ""
    body_location: str = ""
    how_performed: str = ""
    followup: str = ""


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

    @property
    def phone_href(self) -> str:
        return tel_href(self.phone)


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


@dataclass(frozen=True, slots=True)
class Quality:
    """site.toml's optional [quality] table: the quality gate and what `landing check` reports."""

    # Pages more similar than this (0-1) to a sibling page are served noindex and left out of the
    # sitemap; None: no gate (the default).
    gate: float | None = None
    max_office_miles: float = DEFAULT_MAX_OFFICE_MILES  # farther than this, `landing check` reports a town


@dataclass(frozen=True, slots=True)
class Site:
    practice: Practice
    offices: tuple[Office, ...]
    treatments: tuple[Treatment, ...]
    reviewer: Reviewer
    consent: Consent = Consent(DEFAULT_CONSENT, DEFAULT_CONSENT_VERSION)
    quality: Quality = Quality()
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


class _Reader:
    """Walks the parsed TOML, collecting every problem instead of stopping at the first."""

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.lines = text.splitlines()
        self.problems: list[str] = []

    def problem(self, near: str | tuple[str, str] | None, message: str) -> None:
        """Record a problem; ``near`` finds its line: some text, or (text of the table, key inside it)."""
        line = None
        if isinstance(near, tuple):
            anchor = self._line_of(near[0]) or 1
            line = self._line_of(f"{near[1]} =", start=anchor, stop_at_table=True) or anchor
        elif near:
            line = self._line_of(near)
        where = f"{self.name}:{line}" if line else self.name
        self.problems.append(f"{where}: {message}")

    def _line_of(self, needle: str, start: int = 1, stop_at_table: bool = False) -> int | None:
        for number, line in enumerate(self.lines[start - 1:], start=start):
            if stop_at_table and number > start and line.lstrip().startswith("["):
                return None
            if needle in line:
                return number
        return None

    def text(self, table: dict[str, Any], key: str, where: str, near: str | None, *, required: bool = True) -> str:
        value: object = table.get(key, "")
        if not isinstance(value, str):
            self.problem((near or "", key), f"{where}: '{key}' must be text in quotes")
            return ""
        value = value.strip()
        if required and not value:
            self.problem(near, f"{where}: '{key}' is missing (add {key} = \"...\")")
        return value

    def site(self, data: dict[str, Any], base_url: str | None) -> Site | None:
        practice = self.practice(data.get("practice"), base_url)
        offices = tuple(self.office(i, table) for i, table in enumerate(self.tables(data, "offices")))
        self.unique([office.id for office in offices], "offices", "id")
        treatments = tuple(self.treatment(i, table) for i, table in enumerate(self.tables(data, "treatments")))
        self.unique([t.slug for t in treatments], "treatments", "slug")
        reviewer = self.reviewer(data.get("reviewer"))
        consent = self.consent(data.get("consent", {}), practice)
        quality = self.quality(data.get("quality", {}))
        if not offices:
            self.problem(None, "no offices: add at least one [[offices]] table")
        if not treatments:
            self.problem(None, "no treatments: add at least one [[treatments]] table")
        if self.problems:
            return None
        return Site(practice=practice, offices=offices, treatments=treatments, reviewer=reviewer, consent=consent,
                    quality=quality)

    def quality(self, table: Any) -> Quality:
        if not isinstance(table, dict):
            self.problem("[quality]", "[quality] must be a table, e.g. [quality] with gate = 0.8 on the next line")
            return Quality()
        for key in sorted(table.keys() - {"gate", "max_office_miles"}):
            self.problem(("[quality]", key), f"[quality]: unknown key '{key}' (known: gate, max_office_miles)")
        gate = table.get("gate")
        if gate is not None and (isinstance(gate, bool) or not isinstance(gate, (int, float)) or not 0 < gate < 1):
            self.problem(("[quality]", "gate"), f"[quality]: gate = {gate!r} must be a number between 0 and 1 without "
                         "quotes, e.g. gate = 0.8 (pages more similar than that to a sibling are held back)")
            gate = None
        miles = table.get("max_office_miles", DEFAULT_MAX_OFFICE_MILES)
        if isinstance(miles, bool) or not isinstance(miles, (int, float)) or miles <= 0:
            self.problem(("[quality]", "max_office_miles"), f"[quality]: max_office_miles = {miles!r} must be a "
                         "number of miles above 0 without quotes, e.g. max_office_miles = 50")
            miles = DEFAULT_MAX_OFFICE_MILES
        return Quality(gate=None if gate is None else float(gate), max_office_miles=float(miles))

    def consent(self, table: Any, practice: Practice) -> Consent:
        if not isinstance(table, dict):
            self.problem("[consent]", "[consent] must be a table with text and version")
            table = {}
        text = self.text(table, "text", "[consent]", "[consent]", required=False)
        version = self.text(table, "version", "[consent]", "[consent]", required=False)
        if text and not version:
            self.problem("[consent]", "[consent]: a custom consent text needs a version (e.g. version = \"2026-12-01\"), "
                         "stored with each lead")
        if text and practice.name and practice.name not in text:
            self.problem("[consent]", f"[consent]: the text must name the practice ('{practice.name}')")
        return Consent(text or DEFAULT_CONSENT.format(practice=practice.name), version or DEFAULT_CONSENT_VERSION)

    def tables(self, data: dict[str, Any], key: str) -> list[dict[str, Any]]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            self.problem(key, f"'{key}' must be a list of tables written as [[{key}]]")
            return []
        return value

    def unique(self, values: list[str], section: str, key: str) -> None:
        seen: set[str] = set()
        for value in values:
            if value and value in seen:
                self.problem(f'"{value}"', f"[[{section}]]: {key} '{value}' is used twice (each {key} must be unique)")
            seen.add(value)

    def practice(self, table: Any, base_url: str | None) -> Practice:
        if not isinstance(table, dict):
            self.problem(None, "the [practice] table is missing (add [practice] with name and base_url)")
            table = {}
        near = "[practice]"
        name = self.text(table, "name", "[practice]", near)
        short_name = self.text(table, "short_name", "[practice]", near, required=False) or name
        url = (base_url or self.text(table, "base_url", "[practice]", near)).rstrip("/")
        if url and not re.match(r"^https?://[^/\s]+$", url):
            self.problem("base_url", f"[practice]: base_url '{url}' must look like https://www.example.com "
                         "(scheme and host, no path)")
        logo = self.text(table, "logo", "[practice]", near, required=False)
        phone = self.text(table, "phone", "[practice]", near, required=False)
        if phone:
            self.check_phone(phone, "[practice]")
        return Practice(name=name, short_name=short_name, base_url=url.lower(), logo=logo, phone=phone)

    def check_phone(self, phone: str, where: str) -> None:
        digits = re.sub(r"\D", "", phone)
        if len(digits) == 11 and digits.startswith("1"):
            digits = digits[1:]
        if len(digits) != 10:
            self.problem(phone, f"{where}: phone '{phone}' is not a 10-digit US number (write it like (847) 555-0142)")

    def office(self, index: int, table: dict[str, Any]) -> Office:
        office_id = self.text(table, "id", f"office #{index + 1}", "[[offices]]")
        where = f"office '{office_id or index + 1}'"
        near = f'"{office_id}"' if office_id else "[[offices]]"
        if office_id and office_id != slugify(office_id):
            self.problem(near, f"{where}: id must be lower case letters, digits and dashes (try '{slugify(office_id)}')")
        values = {key: self.text(table, key, where, near) for key in ("name", "street", "town", "state", "zip", "phone", "email")}
        values["state"] = values["state"].upper()
        if values["state"] and values["state"] not in STATES:
            self.problem((near, "state"), f"{where}: state '{values['state']}' is not a US state or territory code (e.g. IL)")
        if values["zip"] and not re.fullmatch(r"\d{5}", values["zip"]):
            self.problem((near, "zip"), f"{where}: zip '{values['zip']}' must be 5 digits in quotes, e.g. \"60010\"")
        if values["phone"]:
            self.check_phone(values["phone"], where)
        if values["email"] and not _EMAIL.match(values["email"]):
            self.problem((near, "email"), f"{where}: email '{values['email']}' is not an email address")
        latitude = self.coordinate(table, "latitude", -90, 90, where, near)
        longitude = self.coordinate(table, "longitude", -180, 180, where, near)
        if ("latitude" in table) != ("longitude" in table):
            self.problem(near, f"{where}: give both latitude and longitude, or neither")
        hours = self.hours(table.get("hours", []), where, near)
        return Office(id=office_id, latitude=latitude, longitude=longitude, hours=hours, **values)

    def coordinate(self, table: dict[str, Any], key: str, low: float, high: float, where: str, near: str) -> float | None:
        value = table.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            self.problem((near, key), f"{where}: {key} must be a number between {low} and {high}, without quotes")
            return None
        return float(value)

    def hours(self, value: Any, where: str, near: str) -> tuple[Hours, ...]:
        if not isinstance(value, list):
            self.problem(near, f"{where}: hours must be a list of {{ days = [...], opens = \"08:00\", closes = \"17:00\" }}")
            return ()
        result = []
        for item in value:
            if not isinstance(item, dict):
                self.problem(near, f"{where}: each hours entry must be {{ days = [...], opens = ..., closes = ... }}")
                continue
            days = item.get("days", [])
            if isinstance(days, str):
                days = [days]
            bad_days = [day for day in days if day not in DAYS]
            if not days or bad_days:
                self.problem(near, f"{where}: hours days {bad_days or days} must be day names like \"Monday\"")
                continue
            opens, closes = str(item.get("opens", "")), str(item.get("closes", ""))
            if not (TIME.match(opens) and TIME.match(closes)) or opens >= closes:
                self.problem(near, f"{where}: hours opens '{opens}' and closes '{closes}' must be 24-hour times "
                             "like \"08:00\" and \"17:00\", opening first")
                continue
            result.append(Hours(days=tuple(days), opens=opens, closes=closes))
        return tuple(result)

    def treatment(self, index: int, table: dict[str, Any]) -> Treatment:
        slug = self.text(table, "slug", f"treatment #{index + 1}", "[[treatments]]")
        where = f"treatment '{slug or index + 1}'"
        near = f'"{slug}"' if slug else "[[treatments]]"
        if slug and slug != slugify(slug):
            self.problem(near, f"{where}: slug must be lower case letters, digits and dashes (try '{slugify(slug)}')")
        name = self.text(table, "name", where, near)
        description = self.text(table, "description", where, near)
        template = self.text(table, "template", where, near, required=False) or f"treatments/{slug}.html"
        faqs = []
        for item in self.tables(table, "faqs"):
            question = self.text(item, "question", f"{where} FAQ", near)
            answer = self.text(item, "answer", f"{where} FAQ", near)
            faqs.append(Faq(question=question, answer=answer))
        optional = {key: self.text(table, key, where, near, required=False)
                    for key in ("procedure_type", "body_location", "how_performed", "followup")}
        return Treatment(slug=slug, name=name, description=description, template=template, faqs=tuple(faqs), **optional)

    def reviewer(self, table: Any) -> Reviewer:
        if not isinstance(table, dict):
            self.problem(None, "the [reviewer] table is missing (add [reviewer] with name, credentials and reviewed)")
            return Reviewer(name="", credentials="", reviewed=dt.date.min)
        near = "[reviewer]"
        name = self.text(table, "name", "[reviewer]", near)
        credentials = self.text(table, "credentials", "[reviewer]", near, required=False)
        reviewed = table.get("reviewed")
        if not isinstance(reviewed, dt.date) or isinstance(reviewed, dt.datetime):
            self.problem("reviewed", "[reviewer]: reviewed must be a date without quotes, e.g. reviewed = 2026-11-01")
            reviewed = dt.date.min
        return Reviewer(name=name, credentials=credentials, reviewed=reviewed)


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
