"""A member of staff at a desktop: signs in, filters the leads, opens one, changes its status, downloads the CSV.

A screenshot of the filtered list goes to test-artifacts/screenshots/admin-leads-desktop.png.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from landing.leads.export import FILE_COLUMNS
from tests.browser.conftest import DESKTOP, Server, sign_in


@pytest.fixture(scope="module")
def three_leads(server: Server) -> None:
    """Two leads for the Barrington office (one from an ad) and one for Crystal Lake, sent through the form's URL."""
    server.send_lead(name="Ana Barrington", town="barrington-il", phone="(847) 555-0111", email="ana@example.com",
                     utm_source="google", utm_medium="cpc", utm_campaign="pumps-spring", gclid="staff-gclid-1",
                     landing_query="utm_source=google&utm_medium=cpc&utm_campaign=pumps-spring&gclid=staff-gclid-1")
    server.send_lead(name="Ben Palatine", town="palatine-il", phone="(847) 555-0122", email="", contact="phone",
                     utm_source="", utm_campaign="", gclid="", landing_referrer="", landing_query="")
    server.send_lead(name="Cara Crystal", town="crystal-lake-il", phone="", email="cara@example.com", contact="email",
                     utm_source="", utm_campaign="", gclid="", landing_referrer="", landing_query="")


@pytest.mark.slow
def test_staff_sign_in_filter_open_a_lead_change_its_status_and_download_the_csv(
    server: Server, staff_user: tuple[str, str], three_leads: None, new_context: Callable[..., Any], expect: Any,
    screenshots: Path, tmp_path: Path
) -> None:
    email, password = staff_user
    page = new_context(DESKTOP).new_page()

    sign_in(page, server, email, password)
    expect(page.get_by_role("heading", level=1)).to_have_text("Leads (3)")

    # Filter: the Barrington office only.
    page.get_by_label("Office", exact=True).select_option(label="Barrington office")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"/admin/leads\?.*office=barrington"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Leads (2)")
    rows = page.get_by_role("table", name="Leads, newest first").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(page.get_by_role("table", name="Leads, newest first")).not_to_contain_text("Cara Crystal")
    page.screenshot(path=screenshots / "admin-leads-desktop.png", full_page=True)
    filtered = page.url

    # Open a lead and work it.
    page.get_by_role("link", name="Ana Barrington").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ana Barrington")
    expect(page.get_by_role("heading", name="Status: new")).to_be_visible()
    expect(page.get_by_role("link", name="+18475550111")).to_have_attribute("href", "tel:+18475550111")
    expect(page.get_by_text("staff-gclid-1", exact=True)).to_be_visible()
    page.get_by_label("Change to").select_option("contacted")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Status: contacted")).to_be_visible()
    expect(page.locator(".history")).to_contain_text(f"contacted by {email}")

    # Back to the filtered list, and its CSV.
    page.goto(filtered)
    expect(page.get_by_role("row").filter(has_text="Ana Barrington")).to_contain_text("contacted")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV").click()
    download = download_info.value
    assert re.fullmatch(r"leads-\d{4}-\d\d-\d\d\.csv", download.suggested_filename)
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    data = target.read_bytes()
    assert data.startswith("\ufeff".encode())  # Excel reads it as UTF-8
    rows_read = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert tuple(rows_read[0]) == FILE_COLUMNS
    leads = {row["name"]: row for row in (dict(zip(rows_read[0], row)) for row in rows_read[1:])}
    assert set(leads) == {"Ana Barrington", "Ben Palatine"}
    ana = leads["Ana Barrington"]
    # A cell starting with "+" could run as a formula in a spreadsheet, so the export may guard it with an apostrophe.
    assert ana["phone"] == "(847) 555-0111"
    assert {key: ana[key] for key in ("status", "email", "town", "office", "utm_source", "utm_medium",
                                      "utm_campaign", "gclid", "spam")} == {
        "status": "contacted", "email": "ana@example.com", "town": "barrington-il",
        "office": "barrington", "utm_source": "google", "utm_medium": "cpc", "utm_campaign": "pumps-spring",
        "gclid": "staff-gclid-1", "spam": "no"}
    assert ana["landing_url"] == server.url("/intrathecal-pump-therapy/barrington-il/?utm_source=google&utm_medium=cpc"
                                            "&utm_campaign=pumps-spring&gclid=staff-gclid-1")
    assert leads["Ben Palatine"]["status"] == "new" and leads["Ben Palatine"]["office"] == "barrington"

    # The download is in the audit log; then sign out.
    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("row").filter(has_text="office=barrington")).to_contain_text(email)
    page.get_by_role("button", name=f"Sign out {email}").click()
    page.wait_for_url(server.url("/admin/login"))
    page.goto(server.url("/admin/leads"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Staff sign-in")
