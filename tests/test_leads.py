"""A visitor sends the form: what they see, and what the practice keeps."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

import httpx
import pytest

from landing.logs import JsonFormatter, TextFormatter
from tests.conftest import ClientFactory
from tests.html import Page
from tests.leads_helpers import LANDING, change, rows, token, valid_form


def stored(site_dir: Path) -> list[dict[str, object]]:
    return rows(site_dir / "leads.sqlite3")


def outbox(site_dir: Path) -> list[dict[str, object]]:
    return rows(site_dir / "leads.sqlite3", "outbox")


async def post(client: httpx.AsyncClient, form: dict[str, str], **kwargs: object) -> httpx.Response:
    return await client.post("/leads", data=form, **kwargs)  # type: ignore[arg-type]


# -- the form on the page ---------------------------------------------------------------------------

async def test_every_landing_page_has_a_labelled_form(client: httpx.AsyncClient) -> None:
    page = Page((await client.get(LANDING)).text)
    (form,) = page.all("form")
    # The fragment brings a visitor whose form needs correcting back to the form, not the top of the page.
    assert form["method"] == "post" and form["action"] == "/leads#enquire"
    for field, kind, autocomplete in [("name", "text", "name"), ("phone", "tel", "tel"), ("email", "email", "email")]:
        (element,) = page.all("input", name=field)
        assert element["type"] == kind and element["autocomplete"] == autocomplete
        assert page.all("label", **{"for": element["id"]})
    assert [r["value"] for r in page.all("input", name="contact")] == ["phone", "text", "email"]
    assert page.all("textarea", name="message")
    assert "Please do not include medical details" in (await client.get(LANDING)).text
    (consent,) = page.all("input", name="consent")
    assert consent["type"] == "checkbox"
    assert "I agree that Test Pain &amp; Spine Clinic may contact me by phone call, text message or email" in (await client.get(LANDING)).text


async def test_the_honeypot_is_hidden_by_position_not_display(client: httpx.AsyncClient) -> None:
    page = Page((await client.get(LANDING)).text)
    (trap,) = page.all("input", name="website")
    assert trap["tabindex"] == "-1" and trap["autocomplete"] == "off"
    assert page.all("div", **{"class": "hp", "aria-hidden": "true"})
    stylesheet = page.all("link", rel="stylesheet")[0]["href"]
    css = (await client.get(stylesheet)).text
    rule = re.search(r"\.hp \{([^}]*)\}", css)
    assert rule and "left: -10000px" in rule.group(1) and "display" not in rule.group(1)


async def test_each_visit_gets_a_fresh_signed_token_and_its_attribution(client: httpx.AsyncClient) -> None:
    response = await client.get(LANDING + "?utm_source=newsletter&utm_medium=email&fbclid=FB1",
                                headers={"referer": "https://mail.example.net/"})
    page = Page(response.text)
    hidden = {attrs["name"]: attrs["value"] for attrs in page.all("input", type="hidden")}
    assert hidden["treatment"] == "intrathecal-pump-therapy" and hidden["town"] == "cary-il"
    assert hidden["form_token"].startswith("lead.")
    assert hidden["utm_source"] == "newsletter" and hidden["utm_medium"] == "email" and hidden["fbclid"] == "FB1"
    assert hidden["landing_referrer"] == "https://mail.example.net/"
    plain = Page((await client.get(LANDING)).text)
    assert not plain.all("input", name="utm_source")


async def test_the_gzip_page_is_the_same_page_with_its_own_token(client: httpx.AsyncClient) -> None:
    zipped = await client.get(LANDING + "?utm_source=x", headers={"accept-encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    raw = zipped.content  # httpx has undone the gzip: a broken stream would have raised
    plain = await client.get(LANDING + "?utm_source=x", headers={"accept-encoding": "identity"})
    mask = re.compile(r'name="form_token" value="[^"]*"')
    assert mask.sub("", raw.decode()) == mask.sub("", plain.text)
    assert int(zipped.headers["content-length"]) < len(plain.content) / 2


# -- sending it ---------------------------------------------------------------------------------------

async def test_a_valid_lead_is_stored_then_the_visitor_sees_thank_you(client: httpx.AsyncClient, site_dir: Path) -> None:
    response = await post(client, valid_form(), headers={"user-agent": "Mozilla/5.0 test"})
    assert response.status_code == 303
    assert response.headers["location"] == "/thank-you/?office=crystal-lake"
    (lead,) = stored(site_dir)
    assert {key: lead[key] for key in ("name", "phone", "email", "contact", "message", "treatment", "town", "office",
                                        "status", "spam", "utm_source", "utm_campaign", "gclid", "referrer",
                                        "user_agent", "consent_version")} == {
        "name": "Jane Q. Patient", "phone": "+18475550142", "email": "jane.patient@example.com", "contact": "phone",
        "message": "Is there an evening appointment?", "treatment": "intrathecal-pump-therapy", "town": "cary-il",
        "office": "crystal-lake", "status": "new", "spam": 0, "utm_source": "google", "utm_campaign": "pumps-fall",
        "gclid": "gclid-123", "referrer": "https://www.google.com/", "user_agent": "Mozilla/5.0 test",
        "consent_version": "2026-11-01",
    }
    assert lead["landing_url"] == "https://pain.example.com/intrathecal-pump-therapy/cary-il/?utm_source=google&utm_campaign=pumps-fall&gclid=gclid-123"
    assert str(lead["consent_text"]).startswith("I agree that Test Pain & Spine Clinic may contact me")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00", str(lead["created_at"]))
    assert len(str(lead["client_hash"])) == 32 and "127.0.0.1" not in str(lead["client_hash"])
    assert [row["lead_id"] for row in outbox(site_dir)] == [lead["id"]]


async def test_thank_you_page_is_noindex_with_the_offices_phone(client: httpx.AsyncClient) -> None:
    response = await client.get("/thank-you/?office=crystal-lake")
    page = Page(response.text)
    assert response.status_code == 200 and page.meta("robots") == "noindex, nofollow"
    assert "tel:+18155550167" in page.links()
    assert "What happens next" in page.text_of("h2")


async def test_mistakes_answer_422_with_errors_beside_fields_input_kept_nothing_stored(
    client: httpx.AsyncClient, site_dir: Path
) -> None:
    response = await post(client, valid_form(phone="555", email="", message="Keep <this> text & me"))
    assert response.status_code == 422
    page = Page(response.text)
    (phone,) = page.all("input", name="phone")
    assert phone["value"] == "555" and phone["aria-invalid"] == "true"
    assert phone["aria-describedby"] == "lead-phone-error"
    assert "Please enter a US phone number with area code, e.g. (847) 555-0142." in page.text_of("p")
    assert page.all("input", name="name")[0]["value"] == "Jane Q. Patient"
    assert "Keep &lt;this&gt; text &amp; me</textarea>" in response.text
    hidden = {a["name"]: a["value"] for a in page.all("input", type="hidden")}
    assert hidden["utm_source"] == "google" and hidden["form_token"]  # attribution survives, with a new token
    assert response.headers["cache-control"] == "no-store"
    assert stored(site_dir) == []


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"website": "http://spam.example"}, "honeypot filled"),
        ({"form_token": ""}, "token missing"),
        ({"form_token": "lead.forged.signature"}, "token signature invalid"),
        ({"form_token": "FRESH"}, "submitted less than 3 seconds after the form was served"),
    ],
)
async def test_bots_get_the_same_answer_and_are_stored_flagged(
    client: httpx.AsyncClient, site_dir: Path, changes: dict[str, str], reason: str
) -> None:
    if changes.get("form_token") == "FRESH":
        changes = {"form_token": token(age=0)}  # made now: parameters are built long before the test runs
    response = await post(client, valid_form(**changes))
    assert response.status_code == 303 and response.headers["location"] == "/thank-you/?office=crystal-lake"
    (lead,) = stored(site_dir)
    assert lead["spam"] == 1 and lead["spam_reason"] == reason
    assert outbox(site_dir) == []  # nobody is emailed about spam


async def test_a_form_left_open_for_over_a_day_asks_to_send_again(client: httpx.AsyncClient, site_dir: Path) -> None:
    response = await post(client, valid_form(form_token=token(age=25 * 3600)))
    assert response.status_code == 422
    assert "This form was open for more than a day" in response.text
    assert stored(site_dir) == []


async def test_over_the_per_address_limit_a_person_gets_a_friendly_429(client: httpx.AsyncClient, site_dir: Path) -> None:
    for _ in range(5):
        assert (await post(client, valid_form())).status_code == 303
    response = await post(client, valid_form())
    assert response.status_code == 429
    assert "Please wait a few minutes" in response.text and "tel:+18155550167" in response.text
    assert len(stored(site_dir)) == 5


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b'{"name": "Jane"}', "application/json", 415),
        (b"name=Jane", "multipart/form-data; boundary=x", 415),
        (b"name=Jane", "text/plain", 415),
        (b"name=%FF%FE&consent=yes", "application/x-www-form-urlencoded", 400),
        (b"name=" + b"a" * 17_000, "application/x-www-form-urlencoded", 413),
    ],
)
async def test_unreadable_posts_get_a_clear_4xx(
    client: httpx.AsyncClient, site_dir: Path, content: bytes, content_type: str, status: int
) -> None:
    response = await client.post("/leads", content=content, headers={"content-type": content_type})
    assert response.status_code == status
    assert Page(response.text).text_of("h1")
    assert stored(site_dir) == []


async def test_a_large_chunked_body_without_length_is_refused(client: httpx.AsyncClient) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b"a" * 1024

    response = await client.post("/leads", content=chunks(), headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "<script>alert(1)</script>", "message": "'; DROP TABLE leads; --"},
        {"name": "Robert'); DELETE FROM leads;--", "message": "\" OR 1=1 --"},
        {"name": "שרה 😀 Levi", "message": "مرحبا \u202e reversed"},
    ],
)
async def test_hostile_but_valid_input_is_stored_exactly_as_sent(
    client: httpx.AsyncClient, site_dir: Path, changes: dict[str, str]
) -> None:
    assert (await post(client, valid_form(**changes))).status_code == 303
    (lead,) = stored(site_dir)
    assert lead["name"] == changes["name"] and lead["message"] == changes["message"]


async def test_hostile_input_is_shown_escaped_when_the_form_comes_back(client: httpx.AsyncClient) -> None:
    response = await post(client, valid_form(name="<script>alert(1)</script>", phone="x", message="</textarea><b>"))
    assert response.status_code == 422
    assert "<script>alert(1)</script>" not in response.text and "</textarea><b>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


async def test_ten_kilobyte_fields_and_nul_bytes_are_refused_clearly(client: httpx.AsyncClient, site_dir: Path) -> None:
    too_long = await post(client, valid_form(name="n" * 10_000))
    assert too_long.status_code == 422 and "under 100 characters" in too_long.text
    nul = await post(client, valid_form(message="hello\x00world"))
    assert nul.status_code == 422 and "characters we cannot store" in nul.text
    assert stored(site_dir) == []


async def test_missing_fields_are_errors_not_crashes(client: httpx.AsyncClient, site_dir: Path) -> None:
    response = await client.post("/leads", data={"treatment": "intrathecal-pump-therapy", "town": "cary-il",
                                                   "form_token": token()})
    assert response.status_code == 422
    assert "Please enter your name." in response.text
    nothing = await client.post("/leads", data={"form_token": token()})
    assert nothing.status_code == 422 and "no longer exists" in nothing.text


async def test_no_personal_field_reaches_any_log(client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    form = valid_form(name="Zebediah Quux", email="zebediah.quux@example.com", phone="(847) 555-0199",
                      message="My private question")
    await client.get(LANDING)
    assert (await post(client, form)).status_code == 303
    assert (await post(client, {**form, "phone": "bad"})).status_code == 422
    assert (await post(client, {**form, "website": "x"})).status_code == 303
    logged = "\n".join(f"{record.getMessage()} {record.args!r} {record.exc_text or ''}" for record in caplog.records)
    # And as the lines are written, in either format (LANDING_LOG_FORMAT), request ids and all.
    logged += "\n".join(formatter.format(record) for record in caplog.records
                        for formatter in (TextFormatter(), JsonFormatter()))
    for secret in ("Zebediah", "zebediah.quux", "555-0199", "5550199", "private question"):
        assert secret not in logged


async def test_a_lead_the_database_cannot_take_is_never_thanked(make_client: ClientFactory, site_dir: Path) -> None:
    client = await make_client()

    refuse_inserts = "CREATE TRIGGER refuse BEFORE INSERT ON leads BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    await asyncio.to_thread(change, site_dir / "leads.sqlite3", refuse_inserts)  # off the event loop: the app's own writer may hold the lock a moment
    response = await post(client, valid_form())
    assert response.status_code == 503
    assert "your enquiry was not saved" in response.text and "tel:+18155550167" in response.text
