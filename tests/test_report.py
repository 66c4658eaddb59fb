"""The marketing report (/admin/report and its CSV): views from the page view counts and leads joined by landing
page, on SQLite and PostgreSQL, as figures only."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from html import unescape

import httpx
import pytest

from landing.admin.auth import hash_password
from landing.leads.migrations import ROLLUPS_FROM_DAILY
from landing.leads.store import SQLStore, store_for
from landing.report import Figures, Period, parse_period
from tests.conftest import ClientFactory
from tests.leads_helpers import a_lead
from tests.test_admin import EMAIL, PASSWORD, sign_in
from tests.test_store import database_url  # noqa: F401 - the fixture: SQLite and PostgreSQL

CARY = "/intrathecal-pump-therapy/cary-il/"
BARRINGTON = "/intrathecal-pump-therapy/barrington-il/"
NERVE_CARY = "/nerve-blocks/cary-il/"
ADD = "INSERT INTO page_views (day, path, source, campaign, views, visitors, bot_views) VALUES (?, ?, ?, ?, ?, ?, ?)"
# day, path, source, campaign, views, visitors, crawler views
VIEWS = [
    ("2026-11-01", CARY, "", "", 100, 80, 7),
    ("2026-11-02", CARY, "google", "spring", 50, 40, 0),
    ("2026-11-02", BARRINGTON, "", "", 30, 20, 1),
    ("2026-11-03", NERVE_CARY, "", "", 10, 10, 0),
    ("2026-11-03", "/", "", "", 5, 5, 2),
    ("2026-10-31", CARY, "", "", 999, 999, 0),  # before the period
    ("2026-10-19", CARY, "", "", 1000, 1000, 0),  # before the long period below
    ("2026-10-20", CARY, "", "", 2000, 1000, 0),
    ("2026-12-05", CARY, "", "", 4000, 1000, 0),
    ("2026-12-06", CARY, "", "", 8000, 1000, 0),  # after it
]
LEADS = [
    a_lead(treatment="intrathecal-pump-therapy", town="cary-il", office="crystal-lake", created_at="2026-11-01T10:00:00+00:00"),
    a_lead(treatment="intrathecal-pump-therapy", town="cary-il", office="crystal-lake", utm_source="google",
           utm_campaign="spring", created_at="2026-11-02T10:00:00+00:00"),
    a_lead(treatment="intrathecal-pump-therapy", town="cary-il", office="crystal-lake", spam=True, status="spam",
           created_at="2026-11-02T11:00:00+00:00"),  # spam: never counted
    a_lead(treatment="intrathecal-pump-therapy", town="barrington-il", office="barrington", name="Zed Unique-Patient",
           email="zed.unique@example.com", created_at="2026-11-03T23:59:00+00:00"),
    a_lead(treatment="nerve-blocks", town="cary-il", office="crystal-lake", created_at="2026-11-04T00:00:00+00:00"),  # after
]
PERIOD = "since=2026-11-01&until=2026-11-03"


@pytest.fixture
async def staff(database_url: str, make_client: ClientFactory) -> httpx.AsyncClient:  # noqa: F811
    store = store_for(database_url)
    await store.open()
    try:
        assert isinstance(store, SQLStore)
        await store.add_user(EMAIL, hash_password(PASSWORD), "marketer")  # page figures, never a lead
        for lead in LEADS:
            await store.add(lead, notify=False)
        await store.execute_batch([(ADD, VIEWS)])
        await store.execute_many([(statement, ()) for statement in ROLLUPS_FROM_DAILY])  # as flushes keep them
    finally:
        await store.close()
    client = await make_client(base_url="http://testserver", database_url=database_url)
    assert (await sign_in(client)).status_code == 303
    return client


def table(html: str) -> dict[str, list[str]]:
    """The report table's rows by their first cell: views, visitors, leads, conversion, crawler views."""
    lines: dict[str, list[str]] = {}
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = [unescape(cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        lines[cells[0]] = cells[1:]
    return lines


async def test_the_report_by_page_joins_views_and_leads_of_each_page(staff: httpx.AsyncClient) -> None:
    response = await staff.get(f"/admin/report?{PERIOD}&by=page")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    lines = table(response.text)
    assert lines["Intrathecal Pump Therapy, Cary, IL"] == ["150", "120", "2", "1.7%", "7"]
    assert lines["Intrathecal Pump Therapy, Barrington, IL"] == ["30", "20", "1", "5.0%", "1"]
    assert lines["Nerve Blocks, Cary, IL"] == ["10", "10", "0", "0.0%", "0"]
    assert lines["Home page"] == ["5", "5", "0", "0.0%", "2"]
    assert list(lines)[0] == "Intrathecal Pump Therapy, Cary, IL"  # most views first
    assert "<svg" in response.text and "<script" not in response.text  # the chart is drawn on the server
    assert "195 views, 3 leads" in response.text
    # Figures only: no patient of the period shows, by name or email.
    assert "Zed Unique-Patient" not in response.text and "zed.unique" not in response.text


@pytest.mark.parametrize(("by", "expected"), [
    ("treatment", {"Intrathecal Pump Therapy": ["180", "140", "3", "2.1%", "8"], "Nerve Blocks": ["10", "10", "0", "0.0%", "0"],
                   "Home page and others": ["5", "5", "0", "0.0%", "2"]}),
    ("office", {"Crystal Lake office": ["160", "130", "2", "1.5%", "7"], "Barrington office": ["30", "20", "1", "5.0%", "1"],
                "Pages of no office (home page, treatment pages)": ["5", "5", "0", "0.0%", "2"]}),
    ("campaign", {"(none)": ["145", "115", "2", "1.7%", "10"], "google / spring": ["50", "40", "1", "2.5%", "0"]}),
])
async def test_the_report_by_treatment_office_and_campaign(staff: httpx.AsyncClient, by: str,
                                                           expected: dict[str, list[str]]) -> None:
    response = await staff.get(f"/admin/report?{PERIOD}&by={by}")
    assert response.status_code == 200
    assert table(response.text) == expected


async def test_a_period_of_whole_months_and_days_around_them_counts_each_day_once(staff: httpx.AsyncClient) -> None:
    # October 20 to 31 and December 1 to 5 from the daily counts, November from the monthly ones.
    lines = table((await staff.get("/admin/report?since=2026-10-20&until=2026-12-05&by=page")).text)
    assert lines["Intrathecal Pump Therapy, Cary, IL"][:2] == [f"{2000 + 999 + 150 + 4000:,}", f"{1000 + 999 + 120 + 1000:,}"]


async def test_the_csv_is_the_report_s_lines_with_a_total_and_is_audited(staff: httpx.AsyncClient,
                                                                         database_url: str) -> None:  # noqa: F811
    response = await staff.get(f"/admin/report.csv?{PERIOD}&by=office")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="report-office-2026-11-01-2026-11-03.csv"' in response.headers["content-disposition"]
    assert response.content.startswith("\ufeff".encode())
    found = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert found[0] == ["dimension", "key", "name", "views", "unique_visitors", "crawler_views", "leads",
                        "conversion_rate"]
    assert found[1] == ["office", "crystal-lake", "Crystal Lake office", "160", "130", "7", "2", "1.5%"]
    assert found[-1] == ["office", "", "Total", "195", "155", "10", "3", "1.9%"]
    store = store_for(database_url)
    await store.open()
    try:
        [entry] = await store.audit_log()
    finally:
        await store.close()
    assert (entry.actor, entry.action, entry.detail, entry.rows) == (
        EMAIL, "report export", "report by office, 2026-11-01 to 2026-11-03", 4)


async def test_a_campaign_typed_as_a_formula_cannot_run_in_a_spreadsheet(staff: httpx.AsyncClient,
                                                                         database_url: str) -> None:  # noqa: F811
    store = store_for(database_url)
    await store.open()
    try:
        assert isinstance(store, SQLStore)
        await store.execute_batch([(ADD, [("2026-11-02", CARY, "=HYPERLINK(\"x\")", "-1+1", 1, 1, 0)])])
    finally:
        await store.close()
    found = list(csv.reader(io.StringIO((await staff.get(f"/admin/report.csv?{PERIOD}&by=campaign")).text)))
    cells = {cell for row in found for cell in row}
    assert "'=HYPERLINK(\"x\") / -1+1" in cells and not any(cell.startswith(("=", "-", "+", "@")) for cell in cells)


@pytest.mark.parametrize(("query", "problem"), [
    ("since=2026-13-01", "since: '2026-13-01' is not a date"),
    ("since=2026-11-05&until=2026-11-01", "since (2026-11-05) is after until (2026-11-01): swap them"),
    ("since=2020-01-01&until=2026-11-01", "longer than 1098 days"),
    ("by=patients", "by: 'patients' is not one of page, treatment, office, campaign"),
])
async def test_a_period_that_makes_no_sense_gets_400_saying_what_to_fix(staff: httpx.AsyncClient, query: str,
                                                                        problem: str) -> None:
    for path in ("/admin/report", "/admin/report.csv"):
        response = await staff.get(f"{path}?{query}")
        assert response.status_code == 400
        assert problem in response.text.replace("&#39;", "'")


async def test_the_report_asks_an_anonymous_visitor_to_sign_in(client: httpx.AsyncClient) -> None:
    page = await client.get("/admin/report")
    assert page.status_code == 303 and page.headers["location"].startswith("/admin/login?next=")
    assert (await client.get("/admin/report.csv")).status_code == 401


def test_the_default_period_is_the_last_thirty_days_to_today() -> None:
    period, by, problems = parse_period({}, today=dt.date(2026, 11, 30))
    assert (period, by, problems) == (Period(dt.date(2026, 11, 1), dt.date(2026, 11, 30)), "page", [])
    assert Figures(views=10, visitors=0, leads=1).conversion is None  # no visitors: no rate, never a division by 0
