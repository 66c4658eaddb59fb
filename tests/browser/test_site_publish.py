"""A marketer at a desktop publishes towns: signs in, uploads a CSV with one bad row and reads the error, uploads
the fixed file, reads the preview (one page added, one slug change with its 301), publishes, and the new town's
page answers on a second instance of the service; then rolls back, and the page answers 404 there (the moved
town's old address answers again). Every staff page on the way has no axe violations.

Two real `landing serve` processes share one database and check it for new versions every half second.
A screenshot of the preview goes to test-artifacts/screenshots/admin-site-preview.png.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import servers
from tests.browser.conftest import DESKTOP, ROOT, Server, sign_in
from tests.browser.test_accessibility import assert_no_violations
from tests.servers import free_port, stop

MARKETER, PASSWORD = "marketing@example.com", "a long marketing password"
NEW_TOWN = "Oakwood Hills,IL,McHenry County,60013,42.2478,-88.2434,,,,,,"
NEW_PAGE = "/intrathecal-pump-therapy/oakwood-hills-il/"
MOVED_OLD, MOVED_NEW = "/intrathecal-pump-therapy/lake-zurich-il/", "/intrathecal-pump-therapy/lake-zurich-illinois/"


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    """Two instances of the project's site on one database, each following published versions."""
    folder = tmp_path_factory.mktemp("two-instances")
    settings = {"site_file": str(ROOT / "site.toml"), "locations_file": str(ROOT / "locations.csv"),
                "templates_dir": str(ROOT / "templates"), "static_dir": str(ROOT / "static"),
                "reload_interval": "0.5"}
    processes, instances = [], []
    try:
        for name in ("first", "second"):
            port = free_port()
            log = folder / f"{name}.log"
            own = {**settings, "base_url": f"http://127.0.0.1:{port}"}
            processes.append(servers.start_server(folder, port, log=log, **own))
            servers.wait_until_ready(port, processes[-1], log=log)
            instances.append(Server(f"http://127.0.0.1:{port}", folder / "leads.sqlite3",
                                    servers.server_environment(folder, **own)))
        yield instances[0], instances[1]
    finally:
        for process in processes:
            stop(process)


def answers(server: Server, path: str, status: int, seconds: float = 10.0) -> int:
    """Wait until ``path`` answers ``status`` (its reload interval, on a busy machine); the last status seen."""
    deadline = time.monotonic() + seconds
    while True:
        got = httpx.get(server.url(path), timeout=5, follow_redirects=False).status_code
        if got == status or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


@pytest.fixture(scope="module")
def axe(browser: Any) -> Any:
    from tests.browser.parts import need_module

    return need_module("axe_playwright_python.sync_playwright", "axe-playwright-python (pip install -e '.[test]')").Axe()


@pytest.mark.slow
def test_a_marketer_uploads_previews_publishes_and_rolls_back(
    two_servers: tuple[Server, Server], new_context: Callable[..., Any], expect: Any, axe: Any, screenshots: Path,
    tmp_path: Path
) -> None:
    first, second = two_servers
    added = first.landing("users", "add", MARKETER, "--role", "marketer", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    original = (ROOT / "locations.csv").read_text(encoding="utf-8")
    lines = original.rstrip("\n").split("\n")
    lines = [line.replace("Lake Zurich,IL,Lake County,60047,42.1967,-88.0934,,,",
                          "Lake Zurich,IL,Lake County,60047,42.1967,-88.0934,lake-zurich-illinois,lake-zurich-il,")
             for line in lines]
    fixed = tmp_path / "towns.csv"
    fixed.write_text("\n".join([*lines, NEW_TOWN]) + "\n", encoding="utf-8")
    bad = tmp_path / "towns-bad.csv"
    bad.write_text("\n".join([*lines, NEW_TOWN.replace(",IL,", ",Il.,")]) + "\n", encoding="utf-8")
    page = new_context(DESKTOP).new_page()

    sign_in(page, first, MARKETER, PASSWORD, "/admin/site/")
    nav = page.get_by_role("navigation", name="Staff")
    expect(nav.get_by_role("link", name="Towns")).to_be_visible()
    expect(nav.get_by_role("link", name="Leads")).to_have_count(0)

    # One bad row: its row, column and fix are shown, and nothing changes.
    page.get_by_label("Towns file").set_input_files(bad)
    page.get_by_role("button", name="Check and preview").click()
    expect(page.get_by_role("heading", level=2, name="towns-bad.csv cannot be published: 1 problem")).to_be_visible()
    problem = page.get_by_role("row").filter(has_text="is not a US state")
    expect(problem.get_by_role("cell").nth(0)).to_have_text(str(len(lines) + 1))
    expect(problem.get_by_role("cell").nth(1)).to_have_text("state")
    assert_no_violations(axe, page, "the towns page with an upload's problems")
    assert httpx.get(second.url(NEW_PAGE)).status_code == 404

    # The fixed file: a preview, nothing public yet.
    page.get_by_label("Towns file").set_input_files(fixed)
    page.get_by_role("button", name="Check and preview").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Preview: towns.csv uploaded")
    expect(page.get_by_role("heading", name="1 page added")).to_be_visible()
    expect(page.get_by_role("listitem").filter(has_text=NEW_PAGE)).to_be_visible()
    expect(page.get_by_role("heading", name="1 town with a new slug")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text=MOVED_OLD)).to_contain_text("301")
    page.screenshot(path=screenshots / "admin-site-preview.png", full_page=True)
    assert_no_violations(axe, page, "the preview of an upload")
    assert httpx.get(first.url(NEW_PAGE)).status_code == 404

    # Publish: this instance serves it at once, the other within its reload interval.
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status")).to_contain_text("Version 1 is published")
    expect(page.get_by_role("row").filter(has_text="towns.csv uploaded")).to_contain_text(MARKETER)
    assert_no_violations(axe, page, "the history of published versions")
    assert answers(second, NEW_PAGE, 200) == 200
    moved = httpx.get(second.url(MOVED_OLD))
    assert moved.status_code == 301 and moved.headers["location"].endswith(MOVED_NEW)

    # Roll back to the towns before the first publish.
    page.get_by_role("button", name="Roll back to version 0").click()
    expect(page.get_by_role("status")).to_contain_text("Version 2 is published")
    assert answers(second, NEW_PAGE, 404) == 404
    assert answers(second, MOVED_OLD, 200) == 200
    assert httpx.get(second.url(MOVED_NEW)).status_code == 404
