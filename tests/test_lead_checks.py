"""The lead form's checks and spam guards, as pure functions."""

from __future__ import annotations

import hashlib
import hmac
import random
import time
import unicodedata
from urllib.parse import parse_qsl

import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email

from landing.leads.form import (
    attribution_from_request,
    check_submission,
    first_values,
    hidden_fields,
    parse_form,
)
from landing.leads.guard import FormTokens, TokenVerdict, client_hash
from tests.leads_helpers import SECRET, token, valid_form

TREATMENTS = {"intrathecal-pump-therapy": object()}
PAGES = {"/intrathecal-pump-therapy/cary-il/": object()}


def errors_of(**changes: str) -> dict[str, str]:
    return check_submission(valid_form(**changes), TREATMENTS, PAGES).errors


def test_a_complete_submission_passes_with_phone_and_email_normalized() -> None:
    submission = check_submission(valid_form(email="Jane.Patient@EXAMPLE.com"), TREATMENTS, PAGES)
    assert submission.ok
    assert submission.phone_e164 == "+18475550142"
    assert submission.email_normalized == "Jane.Patient@example.com"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", "Please enter your name."),
        ({"name": "x" * 101}, "name", "Please keep your name under 100 characters."),
        ({"phone": "12345"}, "phone", "Please enter a US phone number with area code, e.g. (847) 555-0142."),
        ({"phone": "+44 20 7946 0958"}, "phone", "Please enter a US phone number with area code, e.g. (847) 555-0142."),
        ({"email": "jane@"}, "email", "Please enter an email address like name@example.com."),
        ({"phone": "", "email": ""}, "phone", "Please give a phone number or an email address, so we can reach you."),
        ({"phone": "", "contact": "text"}, "phone", "Please give a phone number, or choose email as the way to reach you."),
        ({"email": "", "contact": "email"}, "email", "Please give an email address, or choose phone as the way to reach you."),
        ({"contact": "pigeon"}, "contact", "Please choose how we should contact you."),
        ({"message": "m" * 2001}, "message", "Please keep your message under 2000 characters (2001 now)."),
        ({"consent": ""}, "consent", "Please tick the box so we may contact you about your enquiry."),
        ({"name": "Jane\x00Doe"}, "name", "This contains characters we cannot store; please remove them and try again."),
        ({"town": "atlantis-il"}, "form", "This form belongs to a page that no longer exists; please use the form on the current page."),
    ],
)
def test_each_mistake_gets_a_message_beside_its_field(changes: dict[str, str], field: str, message: str) -> None:
    assert errors_of(**changes)[field] == message


def test_one_of_phone_or_email_is_enough() -> None:
    assert errors_of(phone="", contact="email") == {}
    assert errors_of(email="") == {}


def test_emoji_and_right_to_left_text_are_accepted_as_sent() -> None:
    submission = check_submission(valid_form(name="שרה 😀 Levi", message="مرحبا\nthanks"), TREATMENTS, PAGES)
    assert submission.ok and submission.values["name"] == "שרה 😀 Levi"


def test_repeated_fields_keep_the_first_value() -> None:
    assert first_values([("name", "Jane"), ("name", "Mallory")]) == {"name": "Jane"}


@pytest.mark.parametrize("body", [
    b"name=Jane+Patient&email=jane%40example.com&message=a%2Bb+%3D+c&consent=yes",
    b"name=&&phone=&website", b"a=1=2&a=3", b"name=%E2%80%AEevil%F0%9F%98%80", "name=Zoë&town=Ñandú".encode(),
    b"", b"&&&", b"name=%zz%2&x=%", b"utm_source=%20a%20&gclid=+",
])
def test_a_form_body_is_read_as_the_standard_library_reads_it(body: bytes) -> None:
    assert parse_form(body) == parse_qsl(body.decode(), keep_blank_values=True, errors="strict")


@pytest.mark.parametrize("body", [b"name=%FF", b"name=\xff", b"&".join([b"a=1"] * 61)])
def test_a_form_body_that_is_not_utf8_or_has_too_many_fields_is_refused(body: bytes) -> None:
    with pytest.raises(ValueError):
        parse_form(body)


@pytest.mark.parametrize("address", [
    "Jane.Patient@EXAMPLE.com", "jane+clinic@mail.Example.org", "POSTMASTER@example.com", "a@b", "a..b@example.com",
    ".a@example.com", "jane@-example.com", "jane@example..com", "jane@example.com.", "jane@xn--bcher-kva.example",
    "jané@exämple.com", '"jane doe"@example.com', "jane@[127.0.0.1]", "jane@localhost", "j@" + "a" * 64 + ".com",
    "jane@example.c0m", "jane@exam_ple.com", "x" * 65 + "@example.com",
])
def test_an_email_address_is_accepted_and_normalized_as_email_validator_does(address: str) -> None:
    try:
        expected = validate_email(unicodedata.normalize("NFC", address), check_deliverability=False).normalized
    except EmailNotValidError:
        expected = ""
    assert check_submission(valid_form(email=address, phone="(847) 555-0142"), TREATMENTS, PAGES).email_normalized == expected


@pytest.mark.parametrize("phone", [
    "(847) 555-0142", "847.555.0142", "+1 847 555 0142", "(416) 555-0142", "876-555-0142", "(800) 555-0142",
    "(123) 456-7890", "555-0142", "+44 20 7946 0958", "1 (312) 555-0100 ext 4", "(847) 555-01422",
])
def test_a_phone_is_accepted_when_phonenumbers_calls_it_a_valid_north_american_number(phone: str) -> None:
    try:
        number = phonenumbers.parse(phone, "US")
        valid = number.country_code == 1 and phonenumbers.is_valid_number(number)
    except phonenumbers.NumberParseException:
        valid = False
    expected = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) if valid else ""
    assert check_submission(valid_form(phone=phone, email=""), TREATMENTS, PAGES).phone_e164 == expected


def library_e164(phone: str) -> str:
    try:
        number = phonenumbers.parse(phone, "US")
    except phonenumbers.NumberParseException:
        return ""
    valid = number.country_code == 1 and phonenumbers.is_valid_number(number)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) if valid else ""


def test_random_phone_numbers_are_judged_as_phonenumbers_judges_them() -> None:
    # The form tests a US number against the library's patterns compiled once: they must agree everywhere,
    # on every area code and exchange, in the shapes people type them.
    chance = random.Random(16)  # the same numbers every run: a failure can be reproduced
    shapes = ["({} ) {}-{}", "({}) {}-{}", "{}.{}.{}", "+1 {} {} {}", "1-{}-{}-{}", "{}{}{}"]
    for _ in range(20_000):
        area, exchange, line = f"{chance.randrange(1000):03d}", f"{chance.randrange(1000):03d}", f"{chance.randrange(10_000):04d}"
        phone = chance.choice(shapes).format(area, exchange, line)
        assert check_submission(valid_form(phone=phone, email=""), TREATMENTS, PAGES).phone_e164 == library_e164(phone), phone


def test_random_form_bodies_are_read_as_the_standard_library_reads_them() -> None:
    pieces = ["a", "Z", "0", "=", "&", "+", "%", "%2", "%41", "%4a", "%7f", "%80", "%3D", "%26", "%2B", "%e2%80%ae", "%F0%9F%98%80",
              "é", " "]
    chance = random.Random(16)
    for _ in range(5_000):
        body = "".join(chance.choices(pieces, k=chance.randint(0, 20))).encode()
        try:
            expected: object = parse_qsl(body.decode(), keep_blank_values=True, errors="strict")
        except ValueError:
            expected = ValueError
        try:
            got: object = parse_form(body)
        except ValueError:
            got = ValueError
        assert got == expected, body


def test_tokens_reject_forms_sent_too_fast_too_late_or_forged() -> None:
    tokens = FormTokens(SECRET)
    assert tokens.verify(token(age=10)) is TokenVerdict.OK
    assert tokens.verify(token(age=1)) is TokenVerdict.TOO_FAST
    assert tokens.verify(token(age=25 * 3600)) is TokenVerdict.EXPIRED
    assert tokens.verify(token(secret="someone-else")) is TokenVerdict.FORGED
    assert tokens.verify("") is TokenVerdict.MISSING
    fresh = tokens.issue().decode()
    assert tokens.verify(fresh) is TokenVerdict.TOO_FAST
    assert tokens.verify(fresh, now=time.time() + 5) is TokenVerdict.OK


def test_client_hash_is_keyed_and_never_the_address() -> None:
    hashed = client_hash(SECRET, "203.0.113.7")
    assert "203.0.113.7" not in hashed and hashed == client_hash(SECRET, "203.0.113.7")
    assert hashed != client_hash("other-secret", "203.0.113.7")
    # The same keyed hash as the stored leads' (an HMAC-SHA256, hex, the first 32 digits): counts by address go on.
    expected = hmac.new(SECRET.encode(), b"client:203.0.113.7", hashlib.sha256).hexdigest()[:32]
    assert hashed == expected


def test_attribution_comes_from_the_landing_url_and_referrer() -> None:
    found = attribution_from_request(b"utm_source=google&utm_medium=cpc&gclid=G1&msclkid=M1&fbclid=F1&page=2",
                                     b"https://www.bing.com/")
    assert found == {"utm_source": "google", "utm_medium": "cpc", "gclid": "G1", "msclkid": "M1", "fbclid": "F1",
                     "landing_query": "utm_source=google&utm_medium=cpc&gclid=G1&msclkid=M1&fbclid=F1&page=2",
                     "landing_referrer": "https://www.bing.com/"}


def test_hidden_fields_escape_what_the_url_carried() -> None:
    html = hidden_fields(b"tok", {"utm_source": '"><script>alert(1)</script>'}).decode()
    assert "<script>" not in html and "&quot;&gt;&lt;script&gt;" in html
