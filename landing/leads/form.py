"""The lead form: which fields it has, and the checks a submission must pass (pure functions)."""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote_to_bytes

import phonenumbers
from email_validator import EmailNotValidError, validate_email

MAX_NAME = 100
MAX_MESSAGE = 2000
MAX_EMAIL = 254
MAX_PHONE = 40
MAX_ATTRIBUTION = 500
CONTACT_CHOICES = {"phone": "Phone call", "text": "Text message", "email": "Email"}
# Carried from the landing URL (and the landing request's Referer) into hidden fields.
CAMPAIGN_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "gclid", "msclkid", "fbclid")
ATTRIBUTION_FIELDS = (*CAMPAIGN_FIELDS, "landing_referrer", "landing_query")
HONEYPOT = "website"
TOKEN = "form_token"
MAX_FIELDS = 60
# Characters a person does not type; refused so that what is stored is what is shown later.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Submission:
    """A form post, checked: ``values`` as the visitor typed them (for showing again), ``errors`` by field."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    phone_e164: str = ""
    email_normalized: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_form(body: bytes) -> list[tuple[str, str]]:
    """An application/x-www-form-urlencoded body as (name, value) pairs, as parse_qsl(keep_blank_values=True)
    reads it, but faster: most fields need no unescaping, and are left as they are.

    Raises ValueError for more than MAX_FIELDS fields, UnicodeDecodeError (a ValueError) for text that is
    not UTF-8, raw or escaped.
    """
    if body.count(b"&") >= MAX_FIELDS:
        raise ValueError(f"more than {MAX_FIELDS} fields")
    pairs = []
    for pair in body.decode().split("&"):
        if pair:
            name, _, value = pair.partition("=")
            if "%" in pair or "+" in pair:
                name, value = _unescape(name), _unescape(value)
            pairs.append((name, value))
    return pairs


def _unescape(text: str) -> str:
    # As unquote(errors="strict") after "+" -> " ", without its search for runs of non-ASCII text. The text was
    # decoded from UTF-8, so what is not escaped comes back as it is, and an escaped ASCII character is that
    # character whatever is around it: only other escapes (UTF-8 sequences, or malformed) need the bytes.
    text = text.replace("+", " ")
    if "%" not in text:
        return text
    head, *escaped = text.split("%")
    parts = [head]
    for item in escaped:
        char = _ASCII_ESCAPES.get(item[:2])
        if char is None:
            return unquote_to_bytes(text).decode()
        parts += (char, item[2:])
    return "".join(parts)


def _spellings(code: int) -> list[str]:
    """The ways a byte's two hex digits may be written: 2f, 2F (and, for letters, mixed case)."""
    digits = f"{code:02x}"
    return list(dict.fromkeys((digits, digits.upper(), digits[0].upper() + digits[1], digits[0] + digits[1].upper())))


_ASCII_ESCAPES = {spelling: chr(code) for code in range(128) for spelling in _spellings(code)}


def first_values(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Form pairs -> one value per field: the first wins, so repeating a field cannot smuggle a second value in."""
    values: dict[str, str] = {}
    for key, value in pairs:
        values.setdefault(key, value)
    return values


def check_submission(values: Mapping[str, str], treatments: Mapping[str, object], towns: Mapping[str, object]) -> Submission:
    """Check a submission. ``treatments`` and ``towns`` say which treatment slugs and page paths exist."""
    kept = {key: values.get(key, "") for key in ("name", "phone", "email", "contact", "message", "consent",
                                                 "treatment", "town", *ATTRIBUTION_FIELDS)}
    errors: dict[str, str] = {}
    name = kept["name"].strip()
    if not name:
        errors["name"] = "Please enter your name."
    elif len(name) > MAX_NAME:
        errors["name"] = f"Please keep your name under {MAX_NAME} characters."
    phone_e164 = ""
    phone = kept["phone"].strip()
    if phone:
        phone_e164 = _us_phone(phone)
        if not phone_e164:
            errors["phone"] = "Please enter a US phone number with area code, e.g. (847) 555-0142."
    email_normalized = ""
    email = kept["email"].strip()
    if email:
        email_normalized = _email(email)
        if not email_normalized:
            errors["email"] = "Please enter an email address like name@example.com."
    if not phone and not email:
        errors["phone"] = "Please give a phone number or an email address, so we can reach you."
    contact = kept["contact"] or ("phone" if phone else "email")
    if contact not in CONTACT_CHOICES:
        errors["contact"] = "Please choose how we should contact you."
    elif contact in ("phone", "text") and not phone and "phone" not in errors:
        errors["phone"] = "Please give a phone number, or choose email as the way to reach you."
    elif contact == "email" and not email and "email" not in errors:
        errors["email"] = "Please give an email address, or choose phone as the way to reach you."
    kept["contact"] = contact
    if len(kept["message"]) > MAX_MESSAGE:
        errors["message"] = f"Please keep your message under {MAX_MESSAGE} characters ({len(kept['message'])} now)."
    if kept["consent"] != "yes":
        errors["consent"] = "Please tick the box so we may contact you about your enquiry."
    for key in ("name", "phone", "email", "message"):
        if key not in errors and _CONTROL.search(kept[key]):
            errors[key] = "This contains characters we cannot store; please remove them and try again."
    if kept["treatment"] not in treatments or f"/{kept['treatment']}/{kept['town']}/" not in towns:
        errors["form"] = "This form belongs to a page that no longer exists; please use the form on the current page."
    for key in ATTRIBUTION_FIELDS:
        if kept[key]:  # most are empty
            kept[key] = _CONTROL.sub("", kept[key])[:MAX_ATTRIBUTION]
    kept["name"], kept["phone"], kept["email"] = name, phone, email
    return Submission(values=kept, errors=errors, phone_e164=phone_e164, email_normalized=email_normalized)


_PLAIN_US_PHONE = re.compile(r"^(?:\+?1[\s.-]?)?\(?(\d{3})\)?[\s.-]?(\d{3})[\s.-]?(\d{4})$")


def _us_phone(text: str) -> str:
    if len(text) > MAX_PHONE:
        return ""
    plain = _PLAIN_US_PHONE.match(text)
    if plain:
        # The shapes people type, read directly: parse() costs more than the rest of a submission.
        number = phonenumbers.PhoneNumber(country_code=1, national_number=int("".join(plain.groups())))
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) if _valid_nanp(number) else ""
    try:
        number = phonenumbers.parse(text, "US")
    except phonenumbers.NumberParseException:
        return ""
    if number.country_code != 1 or not _valid_nanp(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _valid_nanp(number: phonenumbers.PhoneNumber) -> bool:
    """is_valid_number(), with the US (nearly every visitor's) checked alone first: is_valid_number tries the
    US first as well (it leads the regions of +1), and then again as the region found, which costs twice."""
    if _valid_in_us is not None and number.country_code == 1:
        in_us = _valid_in_us(phonenumbers.national_significant_number(number))
    else:
        in_us = phonenumbers.is_valid_number_for_region(number, "US")
    return in_us or phonenumbers.is_valid_number(number)


# The number types phonenumbers tells apart; a number of a region is valid when its national significant number
# matches the region's general pattern and one of these (phonenumberutil._number_type_helper is not UNKNOWN).
# Which one does not matter here, so the types of nearly every number come first.
_NUMBER_TYPES = ("fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost", "voip", "personal_number", "pager",
                 "uan", "voicemail")


def _matcher(desc: object) -> Callable[[str], bool]:
    """phonenumberutil._is_number_matching_desc for one description, its pattern compiled once."""
    pattern = getattr(desc, "national_number_pattern", None) if desc is not None else None
    if not pattern:
        return lambda national: False
    lengths = frozenset(getattr(desc, "possible_length", ()) or ())
    compiled = re.compile(pattern)
    return lambda national: (not lengths or len(national) in lengths) and compiled.fullmatch(national) is not None


def _region_validity(region: str) -> Callable[[str], bool] | None:
    """is_valid_number_for_region(number, ``region``) of a number with the region's calling code, as a function of
    its national significant number: the library's own test, its patterns compiled once rather than looked up
    through a dozen calls per number (most of what checking a submission costs). None when the metadata is not
    shaped as this expects; tests/test_lead_checks.py compares the two on random numbers."""
    try:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        if metadata is None:
            return None
        general = _matcher(metadata.general_desc)
        types = tuple(_matcher(getattr(metadata, name)) for name in _NUMBER_TYPES)
    except (AttributeError, TypeError, re.error):  # pragma: no cover - depends on the installed phonenumbers
        return None
    return lambda national: general(national) and any(matches(national) for matches in types)


_valid_in_us = _region_validity("US")


# A plain ASCII address (nearly every one) gets validate_email()'s answer at a fraction of its cost: a
# local part matching the library's own dot-atom pattern comes back unchanged (but for the mailbox names it
# lowercases, left to it), MAX_EMAIL is within its length limit, and the domain, one of the few that
# visitors share, is checked by email-validator once. The pattern and names come from a module it does not
# document: a release without it sends every address through the full check, and pyproject.toml pins the
# releases this was compared with (tests/test_lead_checks.py and tests/test_email_fast_path.py prove the
# agreement: run them before widening the range).
DOT_ATOM_TEXT: re.Pattern[str] | None = None
CASE_INSENSITIVE_MAILBOX_NAMES: Collection[str] = ()
try:
    from email_validator import rfc_constants as _rfc

    DOT_ATOM_TEXT, CASE_INSENSITIVE_MAILBOX_NAMES = _rfc.DOT_ATOM_TEXT, _rfc.CASE_INSENSITIVE_MAILBOX_NAMES
except (ImportError, AttributeError):  # pragma: no cover - depends on the installed email-validator
    pass
_HOSTNAME = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")


def _email(text: str) -> str:
    if len(text) > MAX_EMAIL:
        return ""
    local, _, domain = text.rpartition("@")
    if (DOT_ATOM_TEXT is not None and DOT_ATOM_TEXT.match(local) and local.lower() not in CASE_INSENSITIVE_MAILBOX_NAMES
            and _HOSTNAME.fullmatch(domain)):
        domain = _email_domain(domain)
        return f"{local}@{domain}" if domain else ""
    try:
        return validate_email(unicodedata.normalize("NFC", text), check_deliverability=False).normalized
    except EmailNotValidError:
        return ""


@functools.lru_cache(maxsize=4096)
def _email_domain(domain: str) -> str:
    """The domain as email-validator normalizes it, or "" when it accepts no address there."""
    try:
        return validate_email(f"x@{domain}", check_deliverability=False).domain
    except EmailNotValidError:
        return ""


def attribution_from_request(query_string: bytes, referer: bytes) -> dict[str, str]:
    """Campaign fields from a landing request: its UTM and click-id parameters, its query and its Referer."""
    query = query_string.decode("latin-1")[:MAX_ATTRIBUTION]
    values: dict[str, str] = {}
    if query:
        try:
            pairs = parse_qsl(query, keep_blank_values=False, max_num_fields=50)
        except ValueError:
            pairs = []
        for key, value in pairs:
            if key in CAMPAIGN_FIELDS:
                values.setdefault(key, value[:MAX_ATTRIBUTION])
        values["landing_query"] = query
    if referer:
        values["landing_referrer"] = referer.decode("latin-1")[:MAX_ATTRIBUTION]
    return values


def hidden_fields(token: bytes, attribution: Mapping[str, str]) -> bytes:
    """The form's per-visitor hidden inputs: the signed token, then whatever attribution there is."""
    parts = [b'<input type="hidden" name="form_token" value="', token, b'">']
    for key in ATTRIBUTION_FIELDS:
        value = attribution.get(key)
        if value:
            parts.append(f'<input type="hidden" name="{key}" value="{html.escape(value, quote=True)}">'.encode())
    return b"".join(parts)
