"""The marketing report in Chromium: views counted as a browser reads pages, a lead from one of them, the report
and its chart with no script, its controls working as plain links and forms, and no axe violations."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.browser.conftest import DESKTOP, PHONE, Server, sign_in
from tests.browser.test_accessibility import assert_no_violations, axe  # noqa: F401 - the fixture

pytestmark = pytest.mark.slow
BARRINGTON = "/intrathecal-pump-therapy/barrington-il/"
# Headless Chromium says so in its user agent, and the crawler list counts it as a bot: this reader is a person.
PHONE_BROWSER = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 "
                 "Mobile Safari/537.36")


@pytest.fixture(scope="module")
def marketer(server: Server) -> tuple[str, str]:
    """A marketer's account, made as an administrator makes one: the report is theirs (and admins')."""
    email, password = "marketing@example.com", "a long marketing password"
    added = server.landing("users", "add", email, "--role", "marketer", stdin=password + "\n")
    assert added.returncode == 0, added.stderr
    return email, password


def test_views_read_in_a_browser_and_a_lead_show_in_the_report_without_script(
        server: Server, marketer: tuple[str, str], new_context: Any, axe: Any, expect: Any) -> None:  # noqa: F811
    for agent in (PHONE_BROWSER, PHONE_BROWSER.replace("Pixel 8", "Pixel 9")):  # two people (one address here)
        reader = new_context(PHONE, user_agent=agent).new_page()
        reader.goto(server.url(BARRINGTON))
        reader.goto(server.url("/intrathecal-pump-therapy/"))
    server.send_lead(name="Report Reader", town="barrington-il")
    staff = new_context(DESKTOP, java_script_enabled=False).new_page()  # the report needs none
    sign_in(staff, server, *marketer, path="/admin/report")
    row = staff.get_by_role("row", name="Intrathecal Pump Therapy, Barrington, IL")
    deadline = time.monotonic() + 20  # the server adds its counts to the database every 5 seconds
    while (row.count() == 0 or row.locator("td").first.inner_text() == "0") and time.monotonic() < deadline:
        time.sleep(1)
        staff.reload()
    assert row.locator("td").all_inner_texts() == ["2", "2", "1", "50.0%", "0"]
    expect(staff.locator("svg[role=img] title").first).to_contain_text("views")
    assert "Report Reader" not in staff.content()  # figures only, never a lead
    staff.get_by_label("By", exact=True).select_option("office")
    staff.get_by_role("button", name="Show").click()
    expect(staff.get_by_role("columnheader", name="Office")).to_be_visible()
    # axe is a script: it runs in a browser that runs scripts.
    checked = new_context(DESKTOP).new_page()
    sign_in(checked, server, *marketer, path="/admin/report")
    assert_no_violations(axe, checked, "the report page")
    checked.get_by_role("link", name="Campaign").click()
    expect(checked.get_by_role("columnheader", name="Campaign")).to_be_visible()
    assert_no_violations(axe, checked, "the report by campaign")
