"""Publishing towns from the staff area: an upload checked as `landing check` checks a file, its problems by row
and column, a preview of what it changes, publish, history, download and roll back; every instance follows."""

from __future__ import annotations

import asyncio
import csv
import html
import io
import logging
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from landing.leads.store import store_for
from landing.settings import Settings
from tests.conftest import ClientFactory
from tests.html import Page
from tests.leads_helpers import rows
from tests.test_roles import PASSWORD, USERS, seed_roles, signed_in

NEW_TOWN = "Fox River Grove,IL,McHenry County,60021,42.1972,-88.2145,,,,intrathecal-pump-therapy,,"
BAD_ROW = "Harvard,XX,McHenry County,60033,42.4222,-88.6137,,,,,,"
NEW_PAGE = "/intrathecal-pump-therapy/fox-river-grove-il/"
CARY_OLD, CARY_NEW = "/intrathecal-pump-therapy/cary-il/", "/intrathecal-pump-therapy/cary-illinois/"


def database(settings: Settings) -> Path:
    return Path(settings.database_url.removeprefix("sqlite:///"))


def edited(locations: str, *extra: str, cary_slug: str = "") -> str:
    lines = locations.rstrip("\n").split("\n")
    if cary_slug:
        lines = [line.replace("Cary,IL,McHenry County,60013,42.2120,-88.2381,,",
                              f"Cary,IL,McHenry County,60013,42.2120,-88.2381,{cary_slug},") for line in lines]
    return "\n".join([*lines, *extra]) + "\n"


async def csrf(client: httpx.AsyncClient, path: str = "/admin/site/") -> str:
    return str(Page((await client.get(path)).text).all("input", name="csrf")[0]["value"])


async def upload(client: httpx.AsyncClient, name: str, data: bytes) -> httpx.Response:
    token = await csrf(client)
    return await client.post("/admin/site/upload", data={"csrf": token}, files={"towns": (name, data, "text/csv")})


class Tables(HTMLParser):
    """Each table row's cell texts, and each form with its action and fields."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self.forms: list[tuple[str, dict[str, str]]] = []
        self.cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "tr":
            self.rows.append([])
        elif tag == "td":
            self.cell = []
        elif tag == "form":
            self.forms.append((values.get("action", ""), {}))
        elif tag == "input" and self.forms and "name" in values:
            self.forms[-1][1][values["name"]] = values.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self.cell is not None:
            self.rows[-1].append(" ".join("".join(self.cell).split()))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def cells(html: str) -> list[list[str]]:
    return [row for row in Tables(html).rows if row]


def form(html: str, action_end: str) -> tuple[str, dict[str, str]]:
    return next((action, fields) for action, fields in Tables(html).forms if action.endswith(action_end))


async def submit(client: httpx.AsyncClient, html: str, action_end: str) -> httpx.Response:
    """Press the button of the page's form whose action ends so, as a browser would."""
    action, fields = form(html, action_end)
    return await client.post(action, data=fields)


@pytest.fixture
async def marketer(make_client: ClientFactory, settings: Settings) -> httpx.AsyncClient:
    await seed_roles(settings.database_url)
    return await signed_in(make_client, "marketer")


async def test_an_upload_with_a_bad_row_shows_row_column_and_fix_and_changes_nothing(
        marketer: httpx.AsyncClient, locations_csv: Path, settings: Settings) -> None:
    text = edited(locations_csv.read_text(encoding="utf-8"), NEW_TOWN, BAD_ROW)
    response = await upload(marketer, "towns.csv", text.encode())
    assert response.status_code == 422
    assert "towns.csv cannot be published: 1 problem" in response.text and "Nothing was changed" in response.text
    [row] = cells(response.text)
    assert row[:2] == ["13", "state"] and "'XX' is not a US state" in row[2]
    assert (await marketer.get(NEW_PAGE)).status_code == 404
    assert rows(database(settings), "site_drafts") == [] and rows(database(settings), "site_versions") == []


async def test_a_file_that_is_not_a_table_of_towns_is_refused_in_plain_words(marketer: httpx.AsyncClient) -> None:
    for name, data, words in [("towns.csv", "town;state\n".encode("utf-16"), "not UTF-8"),
                              ("towns.xlsx", b"PK\x03\x04 not really a workbook", "cannot be read as an Excel workbook"),
                              ("towns.csv", b"", "the file is empty"),
                              ("..", b"", "locations.csv cannot be published: 1 problem"),
                              ("towns.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500), "save it as 'Excel Workbook")]:
        response = await upload(marketer, name, data)
        assert response.status_code == 422 and words in html.unescape(response.text)
    token = await csrf(marketer)
    nothing = await marketer.post("/admin/site/upload", data={"csrf": token}, files={"towns": ("", b"", "text/csv")})
    assert nothing.status_code == 422 and "Choose a file" in nothing.text


async def test_a_quote_left_open_is_a_problem_of_its_row_not_a_server_error(marketer: httpx.AsyncClient,
                                                                             locations_csv: Path) -> None:
    text = locations_csv.read_text(encoding="utf-8").replace("Cary,IL,", 'Cary,IL,"') + "x" * 200_000 + "\n"
    response = await upload(marketer, "towns.csv", text.encode())
    assert response.status_code == 422 and "a double quote left open on this line or a line above" in response.text
    assert cells(response.text)[0][0] == "6"


async def test_an_upload_without_the_csrf_token_is_refused(marketer: httpx.AsyncClient) -> None:
    response = await marketer.post("/admin/site/upload", data={"csrf": "forged"},
                                   files={"towns": ("towns.csv", b"town,state\n", "text/csv")})
    assert response.status_code == 403


async def test_preview_alias_publish_history_download_and_roll_back(marketer: httpx.AsyncClient, locations_csv: Path,
                                                                   settings: Settings) -> None:
    original = locations_csv.read_text(encoding="utf-8")
    text = edited(original, NEW_TOWN, cary_slug="cary-illinois")
    response = await upload(marketer, "towns.csv", text.encode())
    assert response.status_code == 303 and response.headers["location"].startswith("/admin/site/drafts/")
    preview = await marketer.get(response.headers["location"])
    assert preview.status_code == 200
    assert "1 page added" in preview.text and NEW_PAGE in preview.text
    assert "Cary, IL" in preview.text and "cary-il" in preview.text and "cary-illinois" in preview.text
    assert (await marketer.get(NEW_PAGE)).status_code == 404  # nothing is public before Publish
    # One click: the old slug becomes an alias, in a new draft whose redirects are 301s.
    aliased = await submit(marketer, preview.text, "/alias")
    assert aliased.status_code == 303
    preview = await marketer.get(aliased.headers["location"])
    assert "each old page answers 301" in preview.text
    assert [CARY_OLD, "301", CARY_NEW] in cells(preview.text)
    # Publish.
    published = await submit(marketer, preview.text, "/publish")
    assert published.status_code == 303 and published.headers["location"] == "/admin/site/history?published=1"
    assert (await marketer.get(NEW_PAGE)).status_code == 200
    moved = await marketer.get(CARY_OLD)
    assert moved.status_code == 301 and moved.headers["location"].endswith(CARY_NEW)
    history = await marketer.get(published.headers["location"])
    assert "Version 1 is published" in history.text
    version, disk = cells(history.text)
    assert disk[0] == "0" and disk[2] == "locations.csv on the server"
    assert version[0].startswith("1") and version[2] == "marketing@example.com"
    # Its neighbours' pages change too: they list the new town among the nearby ones.
    assert re.fullmatch(r"1 page added, 0 pages removed, \d+ pages changed, 1 town with a new slug", version[3])
    assert version[4] == "towns.csv uploaded"
    download = await marketer.get("/admin/site/versions/1.csv")
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    assert "cary-illinois" in download.text and "Fox River Grove" in download.text
    current = await marketer.get("/admin/site/locations.csv")
    assert current.text == download.text
    # Roll back to the file on the server, the towns before the first publish ("version 0"), then to version 1.
    token = await csrf(marketer)
    missing = await marketer.post("/admin/site/versions/7/rollback", data={"csrf": token})
    assert missing.status_code == 404
    assert (await marketer.get("/admin/site/versions/0.csv")).text == "\ufeff" + original
    assert (await submit(marketer, history.text, "/versions/0/rollback")).status_code == 303
    assert (await marketer.get(NEW_PAGE)).status_code == 404 and (await marketer.get(CARY_OLD)).status_code == 200
    back = await marketer.post("/admin/site/versions/1/rollback", data={"csrf": token})
    assert back.status_code == 303 and back.headers["location"] == "/admin/site/history?published=3"
    assert (await marketer.get(NEW_PAGE)).status_code == 200
    versions = rows(database(settings), "site_versions")
    assert [v["number"] for v in versions] == [1, 2, 3] and versions[2]["locations"] == versions[0]["locations"]
    assert versions[1]["source"] == "roll back to version 0 (locations.csv on the server)"
    assert versions[1]["locations"] == original and versions[2]["source"] == "roll back to version 1"
    audit = [(row["actor"], row["action"], row["detail"]) for row in rows(database(settings), "audit_log")]
    assert [detail for _, action, detail in audit if action == "roll back towns"][-1] == \
        f"version 3 = version 1: {version[3]}"
    assert [action for _, action, _ in audit if action == "publish towns"] == ["publish towns"]


async def test_a_preview_of_a_stale_base_cannot_be_published(marketer: httpx.AsyncClient, locations_csv: Path,
                                                             settings: Settings) -> None:
    response = await upload(marketer, "towns.csv", edited(locations_csv.read_text(encoding="utf-8"), NEW_TOWN).encode())
    draft = response.headers["location"]
    action, fields = form((await marketer.get(draft)).text, "/publish")
    store = store_for(settings.database_url)
    await store.open()
    try:  # someone else publishes meanwhile
        assert await store.publish_version(locations_csv.read_text(encoding="utf-8"), "other@example.com", "s", "t") == 1
    finally:
        await store.close()
    refused = await marketer.post(action, data=fields)
    assert refused.status_code == 409 and "Open the preview again" in refused.text
    assert [v["number"] for v in rows(database(settings), "site_versions")] == [1]


async def test_a_published_version_that_does_not_load_keeps_the_previous_pages(
        make_client: ClientFactory, settings: Settings, locations_csv: Path, caplog: pytest.LogCaptureFixture) -> None:
    await seed_roles(settings.database_url)
    store = store_for(settings.database_url)
    await store.open()
    try:
        broken = edited(locations_csv.read_text(encoding="utf-8"), NEW_TOWN.replace("intrathecal-pump-therapy", "massage"))
        await store.publish_version(broken, "ops@example.com", "broken", "test")
    finally:
        await store.close()
    with caplog.at_level(logging.ERROR, logger="landing.reload"):
        client = await signed_in(make_client, "admin")
    assert (await client.get(CARY_OLD)).status_code == 200 and (await client.get(NEW_PAGE)).status_code == 404
    assert any("published version 1 of the towns does not load" in record.getMessage() for record in caplog.records)


async def test_two_instances_on_postgresql_serve_a_publish_within_the_reload_interval(
        make_client: ClientFactory, postgres_url: str, locations_csv: Path) -> None:
    await seed_roles(postgres_url)
    first = await signed_in(make_client, "marketer", database_url=postgres_url, reload_interval=0.2)
    second = await make_client(database_url=postgres_url, reload_interval=0.2)
    assert (await second.get(NEW_PAGE)).status_code == 404
    response = await upload(first, "towns.csv", edited(locations_csv.read_text(encoding="utf-8"), NEW_TOWN).encode())
    assert (await submit(first, (await first.get(response.headers["location"])).text, "/publish")).status_code == 303
    assert (await first.get(NEW_PAGE)).status_code == 200  # the instance that published: at once
    assert (await first.get("/healthz")).json()["towns_version"] == 1
    for _ in range(50):  # the other: within its reload interval (0.2 s), allowing for a loaded machine
        if (await second.get(NEW_PAGE)).status_code == 200:
            break
        await asyncio.sleep(0.1)
    assert (await second.get(NEW_PAGE)).status_code == 200
    assert (await second.get("/healthz")).json()["towns_version"] == 1


def workbook(*rows_: list[object], zip_format: str = "00000") -> bytes:
    openpyxl = pytest.importorskip("openpyxl")
    import datetime as dt

    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows_:
        sheet.append(row)
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            if cell.column_letter == "D":
                cell.number_format = zip_format
            if isinstance(cell.value, dt.date):
                cell.number_format = "mm/dd/yyyy"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_workbook_reads_as_excel_shows_it() -> None:
    import datetime as dt

    from landing.workbook import workbook_csv

    data = workbook(["town", "state", "county", "zip", "latitude", "longitude", "notes"],
                    ["Boston", "MA", "Suffolk County", 2134, 42.3534, -71.1329, dt.datetime(2026, 11, 30)],
                    [None],
                    ["Cary", "IL", "McHenry County", 60013, 42.212, -88.2381, "line one\nline two"],
                    ["Harvard", "IL"])
    table = list(csv.reader(io.StringIO(workbook_csv(data, "towns.xlsx"))))
    assert table == [["town", "state", "county", "zip", "latitude", "longitude", "notes"],
                     ["Boston", "MA", "Suffolk County", "02134", "42.3534", "-71.1329", "11/30/2026"],
                     [],
                     ["Cary", "IL", "McHenry County", "60013", "42.212", "-88.2381", "line one line two"],
                     ["Harvard", "IL", "", "", "", "", ""]]


async def test_a_workbook_upload_is_checked_with_its_rows_and_published(marketer: httpx.AsyncClient,
                                                                        locations_csv: Path) -> None:
    table = list(csv.reader(io.StringIO(locations_csv.read_text(encoding="utf-8"))))
    header = table[0]
    numbers = [[float(v) if index in (4, 5) else int(v) if index == 3 else v for index, v in enumerate(row)]
               for row in table[1:]]
    bad = workbook(header, *numbers, ["Harvard", "XX", "McHenry County", 60033, 42.4222, -88.6137])
    response = await upload(marketer, "towns.xlsx", bad)
    assert response.status_code == 422
    assert cells(response.text)[0][:2] == ["12", "state"]
    good = workbook(header, *numbers, ["Fox River Grove", "IL", "McHenry County", 60021, 42.1972, -88.2145, "", "", "",
                                       "intrathecal-pump-therapy"])
    response = await upload(marketer, "towns.xlsx", good)
    assert response.status_code == 303
    preview = await marketer.get(response.headers["location"])
    assert "1 page added" in preview.text and "0 pages removed" in preview.text
    # Read back as the CSV has them: no page changes but for its new neighbour.
    changed = re.findall(r"<li><code>(/[^<]+)</code>: ([^<]+)</li>", preview.text)
    assert changed and {field for _, fields in changed for field in fields.split(", ")} <= {"nearby towns",
                                                                                           "towns of the county"}


async def test_staff_cannot_open_the_towns_pages(make_client: ClientFactory, settings: Settings) -> None:
    await seed_roles(settings.database_url)
    client = await signed_in(make_client, "staff")
    assert (await client.get("/admin/site/")).status_code == 403
    assert (await client.get("/admin/site/locations.csv")).status_code == 403
    assert USERS and PASSWORD


# -- the command line ----------------------------------------------------------------------------------------

def landing_in(site_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    from tests.servers import server_environment

    return subprocess.run([sys.executable, "-m", "landing", *args], capture_output=True, text=True, timeout=120,
                          cwd=site_dir, env=server_environment(site_dir), stdin=subprocess.DEVNULL)


def test_site_publish_previews_asks_and_publishes_and_check_and_export_follow(site_dir: Path, tmp_path: Path) -> None:
    original = (site_dir / "locations.csv").read_text(encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text(edited(original, BAD_ROW), encoding="utf-8")
    refused = landing_in(site_dir, "site", "publish", str(bad), "--yes")
    assert refused.returncode == 1 and "bad.csv:12: column 'state': 'XX'" in refused.stderr
    assert "nothing was changed" in refused.stderr
    new = tmp_path / "new.csv"
    new.write_text(edited(original, NEW_TOWN, cary_slug="cary-illinois"), encoding="utf-8")
    unconfirmed = landing_in(site_dir, "site", "publish", str(new))
    assert unconfirmed.returncode == 1 and "add --yes" in unconfirmed.stderr
    assert "1 page added:" in unconfirmed.stdout and NEW_PAGE in unconfirmed.stdout
    assert "Cary, IL: cary-il -> cary-illinois: add 'cary-il' to its aliases" in unconfirmed.stdout
    published = landing_in(site_dir, "site", "publish", str(new), "--yes")
    assert published.returncode == 0, published.stderr
    assert published.stdout.splitlines()[-1].startswith("published version 1: 1 page added, 0 pages removed")
    assert "compared with the towns of locations.csv on disk" in published.stderr
    checked = landing_in(site_dir, "check")
    assert checked.stdout.startswith("ok: 11 towns")
    assert checked.stderr.startswith("towns: published version 1 (")
    assert "in the database, not locations.csv on disk" in checked.stderr.splitlines()[0]
    built = landing_in(site_dir, "build", str(tmp_path / "build"))
    assert built.returncode == 0 and built.stderr.startswith("towns: published version 1 (")
    assert (tmp_path / "build" / NEW_PAGE.strip("/") / "index.html").is_file()
    exported = landing_in(site_dir, "site", "export", str(tmp_path / "out.csv"))
    assert exported.returncode == 0 and (tmp_path / "out.csv").read_text(encoding="utf-8") == new.read_text("utf-8")
    audit = [(row["action"], row["detail"]) for row in rows(site_dir / "leads.sqlite3", "audit_log")]
    assert audit and audit[0][0] == "publish towns" and audit[0][1].startswith("version 1: 1 page added")


@pytest.mark.slow
async def test_the_towns_pages_are_valid_html(marketer: httpx.AsyncClient, locations_csv: Path,
                                              tmp_path: Path) -> None:
    from tests.test_html_validity import vnu_errors, vnu_java

    vnu_java()
    original = locations_csv.read_text(encoding="utf-8")
    pages = {"the towns page with an upload's problems":
             await upload(marketer, "towns.csv", edited(original, NEW_TOWN, BAD_ROW).encode())}
    draft = (await upload(marketer, "towns.csv", edited(original, NEW_TOWN, cary_slug="cary-illinois").encode()))
    pages["a preview"] = preview = await marketer.get(draft.headers["location"])
    published = await submit(marketer, preview.text, "/publish")
    pages["the history"] = await marketer.get(published.headers["location"])
    pages["the towns page"] = await marketer.get("/admin/site/")
    files = {}
    for name, response in pages.items():
        files[name] = tmp_path / f"{len(files)}.html"
        files[name].write_text(response.text, encoding="utf-8")
    assert vnu_errors(files) == []
