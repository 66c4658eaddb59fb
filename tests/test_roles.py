"""Roles: each staff route answers each role as the table below says, on the server; a route without a row
fails the table's own test. Staff limited to an office see, open and export only that office's leads."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import sqlite3
from pathlib import Path

import httpx
import pytest
from starlette.routing import Route

from landing.admin.auth import hash_password
from landing.leads.migrations import MIGRATIONS
from landing.leads.store import store_for
from landing.settings import Settings
from landing.web.app import create_app
from tests.conftest import ClientFactory
from tests.html import Page
from tests.leads_helpers import a_lead, rows

PASSWORD = "correct horse battery"
# email -> (role, offices)
USERS = {
    "admin": ("admin@example.com", "admin", ()),
    "staff": ("desk@example.com", "staff", ()),
    "barrington": ("barrington@example.com", "staff", ("barrington",)),
    "marketer": ("marketing@example.com", "marketer", ()),
}
BARRINGTON_LEAD = a_lead(name="Barry Barrington", office="barrington", town="barrington-il")
CRYSTAL_LAKE_LEAD = a_lead(name="Crystal Lakeside", office="crystal-lake", town="crystal-lake-il")

# (method, route path) -> the path asked for, and the status each role gets. A lead URL asks for Crystal
# Lake's lead: a Barrington-only staff member gets 404 for it, as for a lead that does not exist (422 for a
# status change, as for one that does not exist). Anonymous visitors are sent to sign in (401 for files).
SEE_OTHER, OK, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, UNPROCESSABLE = 303, 200, 401, 403, 404, 422
LEAD = f"/admin/leads/{CRYSTAL_LAKE_LEAD.id}"
TABLE: dict[tuple[str, str], tuple[str, dict[str, int]]] = {
    ("GET", "/admin/"): ("/admin/", dict(anonymous=SEE_OTHER, admin=SEE_OTHER, staff=SEE_OTHER, barrington=SEE_OTHER,
                                         marketer=SEE_OTHER)),
    ("GET", "/admin"): ("/admin", dict(anonymous=SEE_OTHER, admin=SEE_OTHER, staff=SEE_OTHER, barrington=SEE_OTHER,
                                       marketer=SEE_OTHER)),
    ("GET", "/admin/leads"): ("/admin/leads", dict(anonymous=SEE_OTHER, admin=OK, staff=OK, barrington=OK,
                                                   marketer=FORBIDDEN)),
    ("GET", "/admin/leads.csv"): ("/admin/leads.csv", dict(anonymous=UNAUTHORIZED, admin=OK, staff=OK, barrington=OK,
                                                           marketer=FORBIDDEN)),
    ("GET", "/admin/leads/{lead_id}"): (LEAD, dict(anonymous=SEE_OTHER, admin=OK, staff=OK, barrington=NOT_FOUND,
                                                   marketer=FORBIDDEN)),
    ("POST", "/admin/leads/{lead_id}/status"): (LEAD + "/status", dict(
        anonymous=SEE_OTHER, admin=SEE_OTHER, staff=SEE_OTHER, barrington=UNPROCESSABLE, marketer=FORBIDDEN)),
    ("GET", "/admin/audit"): ("/admin/audit", dict(anonymous=SEE_OTHER, admin=OK, staff=OK, barrington=OK,
                                                   marketer=FORBIDDEN)),
    ("GET", "/admin/coverage"): ("/admin/coverage", dict(anonymous=SEE_OTHER, admin=OK, staff=OK, barrington=OK,
                                                         marketer=OK)),
    ("GET", "/admin/coverage.svg"): ("/admin/coverage.svg", dict(anonymous=UNAUTHORIZED, admin=OK, staff=OK,
                                                                 barrington=OK, marketer=OK)),
    # The towns (marketers and admins), asked for a draft and a version that do not exist.
    ("GET", "/admin/site/"): ("/admin/site/", dict(anonymous=SEE_OTHER, admin=OK, staff=FORBIDDEN,
                                                   barrington=FORBIDDEN, marketer=OK)),
    ("POST", "/admin/site/upload"): ("/admin/site/upload", dict(anonymous=SEE_OTHER, admin=UNPROCESSABLE,
                                                                staff=FORBIDDEN, barrington=FORBIDDEN,
                                                                marketer=UNPROCESSABLE)),
    ("GET", "/admin/site/drafts/{draft_id}"): ("/admin/site/drafts/none", dict(
        anonymous=SEE_OTHER, admin=NOT_FOUND, staff=FORBIDDEN, barrington=FORBIDDEN, marketer=NOT_FOUND)),
    ("POST", "/admin/site/drafts/{draft_id}/publish"): ("/admin/site/drafts/none/publish", dict(
        anonymous=SEE_OTHER, admin=NOT_FOUND, staff=FORBIDDEN, barrington=FORBIDDEN, marketer=NOT_FOUND)),
    ("POST", "/admin/site/drafts/{draft_id}/alias"): ("/admin/site/drafts/none/alias", dict(
        anonymous=SEE_OTHER, admin=NOT_FOUND, staff=FORBIDDEN, barrington=FORBIDDEN, marketer=NOT_FOUND)),
    ("POST", "/admin/site/drafts/{draft_id}/discard"): ("/admin/site/drafts/none/discard", dict(
        anonymous=SEE_OTHER, admin=SEE_OTHER, staff=FORBIDDEN, barrington=FORBIDDEN, marketer=SEE_OTHER)),
    ("GET", "/admin/site/history"): ("/admin/site/history", dict(anonymous=SEE_OTHER, admin=OK, staff=FORBIDDEN,
                                                                 barrington=FORBIDDEN, marketer=OK)),
    ("GET", "/admin/site/locations.csv"): ("/admin/site/locations.csv", dict(
        anonymous=UNAUTHORIZED, admin=OK, staff=FORBIDDEN, barrington=FORBIDDEN, marketer=OK)),
    ("GET", "/admin/site/versions/{number}.csv"): ("/admin/site/versions/1.csv", dict(
        anonymous=UNAUTHORIZED, admin=NOT_FOUND, staff=FORBIDDEN, barrington=FORBIDDEN, marketer=NOT_FOUND)),
    ("POST", "/admin/site/versions/{number}/rollback"): ("/admin/site/versions/1/rollback", dict(
        anonymous=SEE_OTHER, admin=NOT_FOUND, staff=FORBIDDEN, barrington=FORBIDDEN, marketer=NOT_FOUND)),
    ("GET", "/admin/report"): ("/admin/report", dict(anonymous=SEE_OTHER, admin=OK, staff=FORBIDDEN,
                                                     barrington=FORBIDDEN, marketer=OK)),
    ("GET", "/admin/report.csv"): ("/admin/report.csv", dict(anonymous=UNAUTHORIZED, admin=OK, staff=FORBIDDEN,
                                                             barrington=FORBIDDEN, marketer=OK)),
    # Signing out last: it ends the session the rows above use.
    ("POST", "/admin/logout"): ("/admin/logout", dict(anonymous=SEE_OTHER, admin=SEE_OTHER, staff=SEE_OTHER,
                                                      barrington=SEE_OTHER, marketer=SEE_OTHER)),
}
# Open to anyone: the sign-in form and its POST (tested in test_admin.py).
PUBLIC = {("GET", "/admin/login"), ("HEAD", "/admin/login"), ("POST", "/admin/login")}


def database(settings: Settings) -> Path:
    return Path(settings.database_url.removeprefix("sqlite:///"))


async def seed_roles(database_url: str) -> None:
    store = store_for(database_url)
    await store.open()
    try:
        for email, role, offices in USERS.values():
            await store.add_user(email, hash_password(PASSWORD), role, offices)
        for lead in (BARRINGTON_LEAD, CRYSTAL_LAKE_LEAD):
            await store.add(lead, notify=False)
    finally:
        await store.close()


async def signed_in(make_client: ClientFactory, who: str, **overrides: str) -> httpx.AsyncClient:
    client = await make_client(base_url="http://testserver", **overrides)
    if who != "anonymous":
        page = Page((await client.get("/admin/login")).text)
        token = page.all("input", name="token")[0]["value"]
        response = await client.post("/admin/login", data={"email": USERS[who][0], "password": PASSWORD,
                                                           "token": token, "next": ""})
        assert response.status_code == 303, response.text
    return client


async def csrf(client: httpx.AsyncClient) -> str:
    inputs = Page((await client.get("/admin/coverage")).text).all("input", name="csrf")
    return inputs[0]["value"] if inputs else ""


def admin_routes(settings: Settings) -> set[tuple[str, str]]:
    found = set()
    for route in create_app(settings).routes:
        if isinstance(route, Route) and route.path.startswith("/admin"):
            found |= {(method, route.path) for method in route.methods or ()}
    return found


def test_every_staff_route_has_a_rule_for_every_role(settings: Settings) -> None:
    routes = admin_routes(settings) - PUBLIC - {("HEAD", path) for _, path in TABLE}
    missing = sorted(routes - set(TABLE))
    assert missing == [], f"staff routes without a row in TABLE (say which roles may open them): {missing}"
    assert sorted(set(TABLE) - routes) == []
    assert all(set(statuses) == {"anonymous", *USERS} for _, statuses in TABLE.values())


@pytest.mark.parametrize("who", ["anonymous", *USERS])
async def test_each_role_gets_what_the_table_says_on_every_staff_route(make_client: ClientFactory, settings: Settings,
                                                                       who: str) -> None:
    await seed_roles(settings.database_url)
    client = await signed_in(make_client, who)
    token = await csrf(client)
    got, expected = {}, {}
    for (method, route), (path, statuses) in TABLE.items():
        if route == "/admin/site/upload":  # a file: an empty one, which is refused as such
            response = await client.post(path, data={"csrf": token}, files={"towns": ("t.csv", b"", "text/csv")})
        elif method == "POST":
            response = await client.post(path, data={"csrf": token, "status": "contacted"})
        else:
            response = await client.get(path)
        got[route, method] = response.status_code
        expected[route, method] = statuses[who]
        assert "Crystal Lakeside" not in response.text or who in ("admin", "staff")
    assert got == expected


async def test_a_marketer_is_refused_every_lead_url_and_shown_no_link_to_one(make_client: ClientFactory,
                                                                              settings: Settings) -> None:
    await seed_roles(settings.database_url)
    client = await signed_in(make_client, "marketer")
    landed = await client.get("/admin/")
    assert landed.headers["location"] == "/admin/site/"
    page = await client.get("/admin/coverage")
    links = [a["href"] for a in Page(page.text).all("a")]
    assert "/admin/coverage" in links and not [link for link in links if link.startswith(("/admin/leads", "/admin/audit"))]
    for path in ["/admin/leads", f"/admin/leads/{BARRINGTON_LEAD.id}", "/admin/leads.csv?office=barrington",
                 "/admin/audit", "/admin/leads?q=Barry"]:
        response = await client.get(path)
        assert response.status_code == 403 and "Barry" not in response.text
        assert "Your role (marketer) cannot open this page" in response.text
    assert (await client.get("/admin/leads.csv")).headers["content-type"].startswith("text/plain")


async def test_staff_of_one_office_see_filter_and_export_only_its_leads(make_client: ClientFactory,
                                                                        settings: Settings) -> None:
    await seed_roles(settings.database_url)
    client = await signed_in(make_client, "barrington")
    listed = await client.get("/admin/leads")
    assert "Barry Barrington" in listed.text and "Crystal Lakeside" not in listed.text
    offices = [option["value"] for option in Page(listed.text).all("option") if option.get("value") in
               ("barrington", "crystal-lake")]
    assert offices == ["barrington"]
    asked_for_other = await client.get("/admin/leads?office=crystal-lake")
    assert asked_for_other.status_code == 200 and "Crystal Lakeside" not in asked_for_other.text
    exported = await client.get("/admin/leads.csv")
    names = [row["name"] for row in csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig")))]
    assert exported.status_code == 200 and names == ["Barry Barrington"]
    assert (await client.get(f"/admin/leads/{BARRINGTON_LEAD.id}")).status_code == 200
    other = await client.get(f"/admin/leads/{CRYSTAL_LAKE_LEAD.id}")
    assert other.status_code == 404 and "Crystal Lakeside" not in other.text
    token = await csrf(client)
    refused = await client.post(f"/admin/leads/{CRYSTAL_LAKE_LEAD.id}/status", data={"csrf": token, "status": "closed"})
    assert refused.status_code == 422
    assert {row["name"]: row["status"] for row in rows(database(settings))}["Crystal Lakeside"] == "new"
    audit = {row["action"]: row["detail"] for row in rows(database(settings), "audit_log")}
    assert audit["export"] == "all leads (limited to offices: barrington)"


async def test_a_role_change_counts_at_the_next_request_and_is_audited(make_client: ClientFactory,
                                                                       settings: Settings) -> None:
    await seed_roles(settings.database_url)
    client = await signed_in(make_client, "staff")
    assert (await client.get("/admin/leads")).status_code == 200
    store = store_for(settings.database_url)
    await store.open()
    try:
        assert await store.set_role("desk@example.com", "marketer", [])
        assert not await store.set_role("nobody@example.com", "marketer", [])
    finally:
        await store.close()
    assert (await client.get("/admin/leads")).status_code == 403
    nav = [a["href"] for a in Page((await client.get("/admin/coverage")).text).all("a")]
    assert "/admin/leads" not in nav


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'leads.sqlite3'}"
    return str(request.getfixturevalue("postgres_url"))


async def test_roles_and_offices_are_kept_by_every_store(database_url: str) -> None:
    store = store_for(database_url)
    await store.open()
    try:
        await store.add_user("a@example.com", "hash", "staff", ["crystal-lake", "barrington", "barrington"])
        await store.add_user("m@example.com", "hash", "marketer")
        user = await store.get_user("a@example.com")
        assert user is not None and (user.role, user.offices) == ("staff", ("barrington", "crystal-lake"))
        assert [(u.email, u.role, u.offices) for u in await store.list_users()] == [
            ("a@example.com", "staff", ("barrington", "crystal-lake")), ("m@example.com", "marketer", ())]
        assert await store.set_role("a@example.com", "staff", ["barrington"])
        assert (await store.get_user("a@example.com")).offices == ("barrington",)  # type: ignore[union-attr]
        assert await store.set_role("a@example.com", "admin", [])
        user = await store.get_user("a@example.com")
        assert user is not None and (user.role, user.offices) == ("admin", ())
    finally:
        await store.close()


async def test_users_made_before_roles_become_admins_on_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        for name, statements in MIGRATIONS[:MIGRATIONS.index(next(m for m in MIGRATIONS if m[0] == "0005_roles"))]:
            for statement in statements:
                db.execute(statement)
            db.execute("INSERT INTO schema_migrations VALUES (?, '2026-01-01')", (name,))
        db.execute("INSERT INTO users (email, password_hash, created_at) VALUES ('old@example.com', 'h', '2026-01-01')")
    store = store_for(f"sqlite:///{path}")
    await store.open()
    try:
        user = await store.get_user("old@example.com")
        assert user is not None and user.role == "admin" and user.offices == ()
    finally:
        await store.close()
    assert "0005_roles" in {row["name"] for row in rows(path, "schema_migrations")}


def run(settings: Settings, *args: str, stdin: str = "") -> tuple[int, str, str]:
    import subprocess
    import sys

    from tests.servers import landing_environment

    env = landing_environment(LANDING_DATABASE_URL=settings.database_url, LANDING_SECRET_KEY="s",
                              LANDING_SITE_FILE=str(settings.site_file))
    done = subprocess.run([sys.executable, "-m", "landing", *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=60)
    return done.returncode, done.stdout, done.stderr


def test_users_get_roles_and_offices_from_the_command_line_audited(settings: Settings) -> None:
    code, out, _ = run(settings, "users", "add", "b@example.com", "--role", "staff", "--office", "barrington",
                       stdin=PASSWORD + "\n")
    assert code == 0 and out == "added b@example.com as staff (barrington)\n"
    code, out, _ = run(settings, "users", "add", "m@example.com", "--role", "marketer", stdin=PASSWORD + "\n")
    assert code == 0
    code, out, _ = run(settings, "users", "list")
    assert [line.split("\t")[:3] for line in out.splitlines()] == [
        ["b@example.com", "staff (barrington)", "active"], ["m@example.com", "marketer", "active"]]
    code, out, _ = run(settings, "users", "role", "B@example.com", "--role", "staff", "--office", "barrington",
                       "--office", "crystal-lake")
    assert code == 0 and out == "b@example.com: staff (barrington) -> staff (barrington, crystal-lake)\n"
    details = [(row["action"], row["detail"]) for row in rows(database(settings), "audit_log")]
    assert ("role", "b@example.com: staff (barrington) -> staff (barrington, crystal-lake)") in details
    assert ("add user", "m@example.com: marketer") in details


@pytest.mark.parametrize(("args", "message"), [
    (["--role", "staff", "--office", "barington"], "no office 'barington' in site.toml (offices: barrington, "
                                                   "crystal-lake)"),
    (["--role", "marketer", "--office", "barrington"], "--office limits a staff member's leads; a marketer sees no "
                                                       "lead (drop --office, or use --role staff)"),
    (["--role", "owner"], "argument --role: invalid choice: 'owner'"),
])
def test_a_role_or_office_that_cannot_be_given_is_refused_with_the_fix(settings: Settings, args: list[str],
                                                                       message: str) -> None:
    code, _, err = run(settings, "users", "add", "x@example.com", *args, stdin=PASSWORD + "\n")
    assert code != 0 and message in err
    code, _, err = run(settings, "users", "role", "ghost@example.com", "--role", "admin")
    assert code == 1 and "no user ghost@example.com" in err


def test_a_role_change_to_an_unknown_office_changes_nothing(settings: Settings) -> None:
    asyncio.run(seed_roles(settings.database_url))
    code, _, err = run(settings, "users", "role", "marketing@example.com", "--role", "staff", "--office", "nowhere")
    assert code == 1 and "no office 'nowhere'" in err
    assert "marketing@example.com\tmarketer\t" in run(settings, "users", "list")[1]
