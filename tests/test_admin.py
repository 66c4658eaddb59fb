"""The staff area: private, throttled and audited; leads listed, worked and exported as staff expect."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import re
import threading
import time
from collections.abc import Awaitable, Callable
from html import unescape
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from starlette.types import ASGIApp, Message

from landing.leads import sqlite_export
from landing.settings import Settings
from landing.web.app import create_app
from tests.conftest import ClientFactory
from tests.html import Page
from tests.leads_helpers import a_lead, change, rows, seed as seed_database
from tests.servers import until

EMAIL, PASSWORD = "staff@example.com", "correct horse battery"
ADMIN_PAGES = ["/admin/leads", "/admin/audit", "/admin/leads/some-id", "/admin/coverage"]


def database(settings: Settings) -> Path:
    return Path(settings.database_url.removeprefix("sqlite:///"))


async def seed(settings: Settings, *leads: object, users: tuple[tuple[str, str], ...] = ((EMAIL, PASSWORD),)) -> None:
    await seed_database(database(settings), *leads, users=users)


async def sign_in(client: httpx.AsyncClient, email: str = EMAIL, password: str = PASSWORD, next: str = "") -> httpx.Response:
    page = Page((await client.get("/admin/login" + (f"?next={next}" if next else ""))).text)
    token = page.all("input", name="token")[0]["value"]
    form = {"email": email, "password": password, "token": token, "next": page.all("input", name="next")[0]["value"]}
    return await client.post("/admin/login", data=form)


def csrf_of(html: str) -> str:
    return Page(html).all("input", name="csrf")[0]["value"]


@pytest.fixture
async def staff(make_client: ClientFactory, settings: Settings) -> Callable[..., Awaitable[httpx.AsyncClient]]:
    async def factory(*leads: object) -> httpx.AsyncClient:
        await seed(settings, *leads)
        client = await make_client(base_url="http://testserver")
        assert (await sign_in(client)).status_code == 303
        return client

    return factory


# -- privacy -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ADMIN_PAGES)
async def test_every_staff_page_sends_an_anonymous_visitor_to_sign_in(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/login?next=" + path
    assert response.headers["cache-control"] == "no-store"


async def test_the_csv_refuses_an_anonymous_visitor_with_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/admin/leads.csv")
    assert response.status_code == 401 and "Jane" not in response.text


async def test_anonymous_posts_change_nothing(client: httpx.AsyncClient, settings: Settings) -> None:
    lead = a_lead()
    await seed(settings, lead)
    response = await client.post(f"/admin/leads/{lead.id}/status", data={"status": "closed"})
    assert response.status_code == 303 and response.headers["location"].startswith("/admin/login")
    assert [row["status"] for row in rows(database(settings))] == ["new"]


async def test_staff_pages_are_private_unframed_and_need_no_inline_code(staff) -> None:  # type: ignore[no-untyped-def]
    client = await staff(a_lead())
    for path in ["/admin/leads", "/admin/audit", "/admin/login"]:
        response = await client.get(path)
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-robots-tag"] == "noindex, nofollow"
        policy = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
        assert "<script" not in response.text and " style=" not in response.text


# -- signing in ---------------------------------------------------------------------------------------

async def test_signing_in_sets_a_private_session_cookie_and_goes_where_asked(make_client: ClientFactory, settings: Settings) -> None:
    await seed(settings)
    client = await make_client(base_url="http://testserver")
    response = await sign_in(client, next="/admin/audit")
    assert response.status_code == 303 and response.headers["location"] == "/admin/audit"
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith("landing_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    assert (await client.get("/admin/audit")).status_code == 200


async def test_the_session_cookie_is_secure_when_the_site_is_https(make_client: ClientFactory, settings: Settings) -> None:
    await seed(settings)
    client = await make_client(client_url="https://testserver")  # the site's base URL is https://pain.example.com
    response = await sign_in(client)
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith("landing_session="))
    assert "Secure" in cookie
    assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_sign_in_never_sends_staff_to_another_site(make_client: ClientFactory, settings: Settings) -> None:
    await seed(settings)
    client = await make_client(base_url="http://testserver")
    response = await sign_in(client, next="https://evil.example/")
    assert response.headers["location"] == "/admin/leads"


async def test_unknown_user_and_wrong_password_look_alike(make_client: ClientFactory, settings: Settings) -> None:
    await seed(settings)
    client = await make_client(base_url="http://testserver")
    timings, texts = {}, {}
    for label, email, password in [("unknown", "nobody@example.com", PASSWORD), ("wrong", EMAIL, "not the password!")]:
        started = time.perf_counter()
        response = await sign_in(client, email=email, password=password)
        timings[label] = time.perf_counter() - started
        assert response.status_code == 401
        texts[label] = Page(response.text).text_of("p")
    assert texts["unknown"] == texts["wrong"]
    assert "That email and password do not match an active account." in texts["wrong"]
    # Both verify an argon2 hash: the unknown user is not answered measurably faster.
    assert timings["unknown"] > 0.5 * timings["wrong"]


async def test_the_session_id_changes_at_every_sign_in(make_client: ClientFactory, settings: Settings) -> None:
    await seed(settings)
    client = await make_client(base_url="http://testserver")
    await sign_in(client)
    first = client.cookies["landing_session"]
    csrf = csrf_of((await client.get("/admin/leads")).text)
    await client.post("/admin/logout", data={"csrf": csrf})
    client.cookies.clear()
    client.cookies.set("landing_session", first, domain="testserver.local")  # an id someone kept or planted
    await sign_in(client)
    issued = [c.value for c in client.cookies.jar if c.name == "landing_session" and c.value != first]
    assert len(issued) == 1
    other = await make_client(base_url="http://testserver")
    await sign_in(other)
    assert other.cookies["landing_session"] != issued[0]


async def test_the_sign_in_form_needs_its_own_token(make_client: ClientFactory, settings: Settings) -> None:
    await seed(settings)
    client = await make_client(base_url="http://testserver")
    response = await client.post("/admin/login", data={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 403


async def test_five_failures_close_the_door_even_to_the_right_password(make_client: ClientFactory, settings: Settings) -> None:
    await seed(settings)
    client = await make_client(base_url="http://testserver")
    for _ in range(5):
        assert (await sign_in(client, password="wrong password!!")).status_code == 401
    response = await sign_in(client)
    assert response.status_code == 429
    assert "Too many failed attempts" in response.text


async def test_an_idle_session_expires_after_eight_hours(staff, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    client = await staff()
    stale = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=8, minutes=1)).isoformat(timespec="microseconds")

    await asyncio.to_thread(change, database(settings), "UPDATE sessions SET last_seen = ?", (stale,))
    assert (await client.get("/admin/leads")).status_code == 303


async def test_signing_out_ends_the_session(staff) -> None:  # type: ignore[no-untyped-def]
    client = await staff()
    cookie = client.cookies["landing_session"]
    csrf = csrf_of((await client.get("/admin/leads")).text)
    response = await client.post("/admin/logout", data={"csrf": csrf})
    assert response.status_code == 303 and response.headers["location"] == "/admin/login"
    client.cookies.set("landing_session", cookie)
    assert (await client.get("/admin/leads")).status_code == 303


# -- working the leads --------------------------------------------------------------------------------

def days_ago(days: int, hour: int = 12) -> str:
    moment = dt.datetime.now(dt.timezone.utc).replace(hour=hour, minute=0, second=0, microsecond=0) - dt.timedelta(days=days)
    return moment.isoformat(timespec="microseconds")


LEADS = [
    a_lead(name="Ann Newest", created_at=days_ago(0), office="barrington", town="barrington-il"),
    a_lead(name="Bob Middle", created_at=days_ago(3), office="crystal-lake", email="bob@example.com", status="contacted"),
    a_lead(name="Cy Oldest", created_at=days_ago(20), office="crystal-lake", phone="+18155550199"),
    a_lead(name="Spam Bot", created_at=days_ago(1), spam=True, spam_reason="honeypot filled"),
]


def listed_names(html: str) -> list[str]:
    return [text for text in Page(html).text_of("a") if text in {lead.name for lead in LEADS}]


async def test_leads_are_listed_newest_first_without_spam(staff) -> None:  # type: ignore[no-untyped-def]
    client = await staff(*LEADS)
    html = (await client.get("/admin/leads")).text
    assert listed_names(html) == ["Ann Newest", "Bob Middle", "Cy Oldest"]
    assert "<svg" in html and "Leads per week by office" in html


async def test_the_chart_of_a_list_filtered_to_one_office_shows_that_office_alone(staff) -> None:  # type: ignore[no-untyped-def]
    client = await staff(*LEADS)
    everyone = (await client.get("/admin/leads")).text
    one = (await client.get("/admin/leads?office=crystal-lake")).text
    assert "Barrington office" in everyone and "Crystal Lake office" in everyone
    legend = re.findall(r'<text x="\d+" y="\d+" font-size="12" fill="#1b2430">([^<]*)</text>', one)
    assert legend == ["Crystal Lake office"]
    # In the colour it has beside the others, so a colour means one office wherever staff look.
    colour = re.search(r'fill="(#[0-9a-f]{6})"><title>Crystal Lake office, week', everyone)
    assert colour is not None and f'fill="{colour.group(1)}"><title>Crystal Lake office, week' in one


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("office=crystal-lake", ["Bob Middle", "Cy Oldest"]),
        ("status=contacted", ["Bob Middle"]),
        ("q=bob%40example", ["Bob Middle"]),
        ("q=815+555+0199", ["Cy Oldest"]),
        ("q=ann", ["Ann Newest"]),
        ("town=barrington-il", ["Ann Newest"]),
        (f"since={days_ago(5)[:10]}", ["Ann Newest", "Bob Middle"]),
        (f"until={days_ago(3)[:10]}", ["Bob Middle", "Cy Oldest"]),
        ("spam=yes", ["Spam Bot"]),
    ],
)
async def test_filters_narrow_the_list(staff, query: str, names: list[str]) -> None:  # type: ignore[no-untyped-def]
    client = await staff(*LEADS)
    assert listed_names((await client.get(f"/admin/leads?{query}")).text) == names


async def test_the_list_is_paginated(staff) -> None:  # type: ignore[no-untyped-def]
    client = await staff(*[a_lead(name=f"Patient {n:03}", created_at=days_ago(0, hour=0)) for n in range(60)])
    first = Page((await client.get("/admin/leads")).text)
    assert "Page 1 of 2" in (await client.get("/admin/leads")).text
    older = [link for link in first.links() if "page=2" in link]
    second = (await client.get(older[0])).text
    assert "Page 2 of 2" in second and second.count("/admin/leads/0") + second.count("/admin/leads/") >= 10


async def test_a_lead_shows_its_attribution_and_consent(staff) -> None:  # type: ignore[no-untyped-def]
    lead = a_lead(utm_source="google", gclid="G-1", landing_url="https://pain.example.com/x/?utm_source=google",
                  consent_text="I agree that Test Pain & Spine Clinic may contact me.")
    client = await staff(lead)
    html = (await client.get(f"/admin/leads/{lead.id}")).text
    assert "utm_source" in html and "google" in html and "G-1" in html
    assert "Version 2026-11-01" in html and "I agree that Test Pain &amp; Spine Clinic may contact me." in html


async def test_stored_hostile_input_is_shown_escaped(staff) -> None:  # type: ignore[no-untyped-def]
    lead = a_lead(name="<script>alert(1)</script>", message="<img src=x onerror=alert(2)>")
    client = await staff(lead)
    for path in ["/admin/leads", f"/admin/leads/{lead.id}"]:
        html = (await client.get(path)).text
        assert "<script>alert(1)" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


async def test_status_changes_need_the_csrf_token_and_record_who_and_when(staff) -> None:  # type: ignore[no-untyped-def]
    lead = a_lead()
    client = await staff(lead)
    refused = await client.post(f"/admin/leads/{lead.id}/status", data={"status": "contacted"})
    assert refused.status_code == 403
    csrf = csrf_of((await client.get(f"/admin/leads/{lead.id}")).text)
    changed = await client.post(f"/admin/leads/{lead.id}/status", data={"status": "contacted", "csrf": csrf})
    assert changed.status_code == 303
    html = (await client.get(f"/admin/leads/{lead.id}")).text
    assert "Status: contacted" in html and "contacted by staff@example.com" in html


# -- export ---------------------------------------------------------------------------------------------

def read_csv(response: httpx.Response) -> list[dict[str, str]]:
    assert response.content.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


async def test_the_csv_is_excel_ready_dated_and_in_the_documented_order(staff) -> None:  # type: ignore[no-untyped-def]
    client = await staff(*LEADS)
    response = await client.get("/admin/leads.csv")
    assert response.status_code == 200 and response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == f'attachment; filename="leads-{dt.date.today().isoformat()}.csv"'
    header = response.content.decode("utf-8-sig").splitlines()[0]
    assert header == ("id,created_at,status,name,phone,email,contact,message,treatment,town,office,utm_source,"
                      "utm_medium,utm_campaign,utm_term,utm_content,gclid,msclkid,fbclid,landing_url,referrer,"
                      "consent_version,spam,spam_reason,created_at_local,consent_revoked_at")
    exported = read_csv(response)
    assert [row["name"] for row in exported] == ["Ann Newest", "Bob Middle", "Cy Oldest"]
    assert dt.datetime.fromisoformat(exported[0]["created_at"]).tzinfo is not None


async def test_the_export_equals_what_the_filtered_list_shows(staff) -> None:  # type: ignore[no-untyped-def]
    client = await staff(*LEADS)
    page = Page((await client.get("/admin/leads?office=crystal-lake")).text)
    csv_link = next(link for link in page.links() if link.startswith("/admin/leads.csv"))
    assert csv_link == "/admin/leads.csv?office=crystal-lake"
    shown = listed_names((await client.get("/admin/leads?office=crystal-lake")).text)
    assert [row["name"] for row in read_csv(await client.get(csv_link))] == shown == ["Bob Middle", "Cy Oldest"]


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r", "  =", "\n+", "\r\n-", " \t@", "＝", "＋", "－", "＠",
                                    " ＝"])
async def test_no_cell_can_run_as_a_formula(staff, prefix: str) -> None:  # type: ignore[no-untyped-def]
    client = await staff(a_lead(name=f"{prefix}HYPERLINK(\"http://evil.example\")", message=f"{prefix}1+1"))
    (row,) = read_csv(await client.get("/admin/leads.csv"))
    assert row["name"] == f"'{prefix}HYPERLINK(\"http://evil.example\")"
    assert row["message"] == f"'{prefix}1+1"
    assert row["phone"] == "(847) 555-0142"  # US numbers in the form staff dial, which needs no guard


async def test_every_export_is_in_the_audit_log(staff) -> None:  # type: ignore[no-untyped-def]
    client = await staff(*LEADS)
    await client.get("/admin/leads.csv?office=crystal-lake")
    html = (await client.get("/admin/audit")).text
    row = Page(html).text_of("td")
    assert row[1:] == ["staff@example.com", "export", "office=crystal-lake", "2"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row[0])


async def test_a_download_abandoned_midway_is_audited_and_stops_reading(settings: Settings,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_export, "EXPORT_BLOCK", 1)  # a piece of the file per lead
    older = [a_lead(name=f"Older {n}", created_at=days_ago(30 + n)) for n in range(10)]
    await seed(settings, *LEADS, *older)
    app = create_app(settings.replace(base_url="http://testserver"))  # as the staff fixture's
    async with LifespanManager(app) as manager:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url="http://testserver") as client:
            assert (await sign_in(client)).status_code == 303
            cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
        header, first = await abandoned_download(manager.app, "/admin/leads.csv", cookie, pieces=2)
        assert header.decode("utf-8-sig").startswith("id,created_at,") and b"Ann Newest" in first

        (entry,) = rows(database(settings), "audit_log")
        assert entry["action"] == "export" and 1 <= entry["rows"] <= 2  # what left for the client, not the 13 leads there are
        await until(lambda: sqlite_export.THREAD_NAME not in {thread.name for thread in threading.enumerate()}, 5)


async def abandoned_download(app: ASGIApp, path: str, cookie: str, pieces: int) -> list[bytes]:
    """GET ``path`` as a client that takes ``pieces`` pieces of the body, then stops reading and goes away."""
    received: list[bytes] = []
    gone = asyncio.Event()
    messages = iter([{"type": "http.request", "body": b"", "more_body": False}])

    async def receive() -> Message:
        if (message := next(messages, None)) is not None:
            return message
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            if len(received) == pieces:
                gone.set()
                await asyncio.Event().wait()  # the client's socket is full: never sent
            received.append(message["body"])

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"testserver"), (b"cookie", cookie.encode())],
             "client": ("127.0.0.1", 50000), "server": ("testserver", 80)}
    await app(scope, receive, send)
    return received


async def test_the_coverage_map_is_drawn_for_staff_only(staff, client: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    assert (await client.get("/admin/coverage.svg")).status_code == 401
    signed_in = await staff()
    page = Page((await signed_in.get("/admin/coverage")).text)
    assert page.all("img", src="/admin/coverage.svg")
    svg = await signed_in.get("/admin/coverage.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.text.lstrip().startswith("<svg") and "<script" not in svg.text
    assert "Barrington office" in svg.text and "Crystal Lake office" in svg.text


# -- what sign-in keeps ----------------------------------------------------------------------------------

async def test_sign_in_attempts_keep_no_text_typed_into_the_email_field(make_client: ClientFactory,
                                                                        settings: Settings) -> None:
    await seed(settings)
    client = await make_client(base_url="http://testserver")
    typed = ["jane.patient@example.org", "MyBankPassword99", EMAIL]  # an unknown email, a password in the wrong field
    for email in typed:
        assert (await sign_in(client, email=email, password="wrong password!!")).status_code == 401
    database = Path(settings.database_url.removeprefix("sqlite:///"))
    kept = "\n".join(str(row) for row in rows(database, "sign_in_attempts"))
    assert kept.count("account:") == 3 and kept.count("address:") == 3
    stored = b"".join(path.read_bytes() for path in database.parent.glob(database.name + "*"))
    for text in typed[:2]:
        assert text.encode() not in stored and text.lower().encode() not in stored and text not in kept


# -- absurd input --------------------------------------------------------------------------------------------

@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, settings: Settings) -> str:
    return settings.database_url if request.param == "sqlite" else str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def staff_on(database_url: str, make_client: ClientFactory) -> httpx.AsyncClient:
    """A signed-in staff client of a service on SQLite or on PostgreSQL, with a few leads."""
    from landing.admin.auth import hash_password
    from landing.leads.store import store_for

    url = database_url
    leads = store_for(url)
    await leads.open()
    try:
        await leads.add_user(EMAIL, hash_password(PASSWORD))
        for lead in LEADS:
            await leads.add(lead, notify=False)
    finally:
        await leads.close()
    client = await make_client(base_url="http://testserver", database_url=url)
    assert (await sign_in(client)).status_code == 303
    return client


async def test_the_last_day_there_is_means_no_end_on_the_list_and_the_export(staff_on: httpx.AsyncClient) -> None:
    shown = listed_names((await staff_on.get("/admin/leads?until=9999-12-31&since=0001-01-01")).text)
    assert shown == ["Ann Newest", "Bob Middle", "Cy Oldest"]
    exported = await staff_on.get("/admin/leads.csv?until=9999-12-31")
    assert exported.status_code == 200 and [row["name"] for row in read_csv(exported)] == shown


@pytest.mark.parametrize(("query", "says"), [
    ("since=2026-13-45", "since: '2026-13-45' is not a date (use YYYY-MM-DD, e.g. 2026-11-27)"),
    ("until=99999-01-01", "until: '99999-01-01' is not a date"),
    ("until=tomorrow", "until: 'tomorrow' is not a date"),
    ("since=2026-11-27&until=2026-11-01", "since (2026-11-27) is after until (2026-11-01), so no lead can match: swap them"),
    ("status=archived", "status: 'archived' is not a status (use one of new, contacted, scheduled, closed, spam)"),
    ("q=jane%00doe", "q: 'jane?doe' cannot be matched"),
    ("office=%00", "office: '?' cannot be matched"),
    ("town=" + "x" * 201, "town: 'xxxxxxxx"),
    ("q=" + "x" * 101, "at most 100 characters"),
])
async def test_filters_that_make_no_sense_get_a_400_saying_what_to_fix(staff_on: httpx.AsyncClient, query: str,
                                                                       says: str) -> None:
    listed = await staff_on.get(f"/admin/leads?{query}")
    assert listed.status_code == 400 and says in Page(listed.text).text_of("p")[0]
    exported = await staff_on.get(f"/admin/leads.csv?{query}")
    assert exported.status_code == 400 and says in exported.text and "Ann Newest" not in exported.text


@pytest.mark.parametrize(("page", "status", "shows"), [
    ("99999999999999999999999", 200, "Page 1 of 1"),  # past the last page: the last one
    ("0", 200, "Page 1 of 1"),
    ("-3", 400, "page: '-3' is not a page number"),
    ("1e3", 400, "page: '1e3' is not a page number"),
    ("١", 400, "is not a page number"),  # a digit to int(), not to a person typing a page number
    ("9" * 5000, 200, "Page 1 of 1"),
])
async def test_any_page_number_gets_a_page_or_a_400(staff_on: httpx.AsyncClient, page: str, status: int,
                                                    shows: str) -> None:
    response = await staff_on.get(f"/admin/leads?page={page}")
    assert response.status_code == status and shows in unescape(response.text)


@pytest.mark.parametrize("lead_id", ["%00", "x" * 5000, "%E2%80%AE", "%27%3B%20DROP%20TABLE%20leads%3B--"])
async def test_any_lead_id_gets_a_404_and_no_status_change(staff_on: httpx.AsyncClient, lead_id: str) -> None:
    assert (await staff_on.get(f"/admin/leads/{lead_id}")).status_code == 404
    csrf = csrf_of((await staff_on.get("/admin/leads")).text)
    changed = await staff_on.post(f"/admin/leads/{lead_id}/status", data={"status": "closed", "csrf": csrf})
    assert changed.status_code == 422 and "could not be set" in changed.text


async def test_a_sign_in_with_text_nobody_types_is_a_plain_failure(staff_on: httpx.AsyncClient, database_url: str,
                                                                     make_client: ClientFactory) -> None:
    stranger = await make_client(base_url="http://testserver", database_url=database_url)
    for email in ["staff@example.com\x00", "x" * 10_000]:
        response = await sign_in(stranger, email=email, password="x\x00")
        assert response.status_code == 401 and "do not match an active account" in response.text
