"""Fixtures for the browser tests: the real `landing serve` on a free loopback port serving the project's own
site, and Debian's Chromium driven by Playwright.

Without Playwright or /usr/bin/chromium these tests skip, saying what is missing; with CI set they fail
instead, because CI must provide every part (`.ci/run` installs Chromium; the test extras bring Playwright
and axe-core).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.parts import CHROMIUM, need, need_module
from tests.leads_helpers import rows, valid_form
from tests import servers
from tests.servers import free_port, stop

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
# This machine is root with no network: without these, Chromium refuses to start or waits on the network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PHONE: dict[str, Any] = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
                         "device_scale_factor": 1}
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}
STAFF_EMAIL, STAFF_PASSWORD = "front.desk@example.com", "a long staff password"
REPORT: list[str] = []  # measurements worth reading after a run, printed at the end of pytest's output


@dataclass
class Server:
    """A running `landing serve` with the project's site, and its own database in a temporary folder."""

    base_url: str
    database: Path
    env: dict[str, str]

    def url(self, path: str) -> str:
        return self.base_url + path

    def landing(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        """The real command line, against the same database as the server."""
        return subprocess.run([sys.executable, "-m", "landing", *args], input=stdin, capture_output=True, text=True,
                              env=self.env, cwd=self.database.parent, timeout=60)

    def send_lead(self, **changes: str) -> None:
        """A lead posted as a form would post it, with a token served a minute ago (for the staff pages)."""
        response = httpx.post(self.url("/leads"), data=valid_form(**changes), timeout=10)
        assert response.status_code == 303, response.text

    def leads(self) -> list[dict[str, Any]]:
        """Every stored lead, oldest first, as the database holds it."""
        return rows(self.database)


def start_server(folder: Path, locations: Path = ROOT / "locations.csv") -> Iterator[Server]:
    """The project's own site served by a real `landing serve` (tests/servers.py), its database in ``folder``."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    settings = {"base_url": base_url, "site_file": str(ROOT / "site.toml"), "locations_file": str(locations),
                "templates_dir": str(ROOT / "templates"), "static_dir": str(ROOT / "static"),
                "leads_per_address": "1000"}
    log = folder / "server.log"
    server = servers.start_server(folder, port, log=log, **settings)
    try:
        servers.wait_until_ready(port, server, log=log)
        yield Server(base_url, folder / "leads.sqlite3", servers.server_environment(folder, **settings))
    finally:
        stop(server)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real server per test module."""
    yield from start_server(tmp_path_factory.mktemp("server"))


@pytest.fixture(scope="module")
def staff_user(server: Server) -> tuple[str, str]:
    """A staff account made the way an administrator makes one: `landing users add`, password on stdin."""
    added = server.landing("users", "add", STAFF_EMAIL, stdin=STAFF_PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    return STAFF_EMAIL, STAFF_PASSWORD


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One Chromium for all browser tests."""
    sync_api = need_module("playwright.sync_api", "Playwright (pip install -e '.[test]')")
    need(CHROMIUM.exists(), f"Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does it)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def new_context(browser: Any) -> Iterator[Callable[..., Any]]:
    """new_context(PHONE or DESKTOP, **options): a fresh browser context (its own cookies), closed after the test."""
    contexts: list[Any] = []

    def make(device: dict[str, Any], **options: Any) -> Any:
        context = browser.new_context(**device, **options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture(scope="package")
def expect(browser: Any) -> Any:
    """Playwright's web-first assertions (they wait for the page to get there)."""
    from playwright.sync_api import expect

    expect.set_options(timeout=10_000)  # a busy two-core CI machine is slower than a laptop
    return expect


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where screenshots go for a person to look at after a run (ignored by git)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    REPORT.append(f"screenshots in {SCREENSHOTS}")
    return SCREENSHOTS


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in REPORT:
        terminalreporter.write_line(f"browser tests: {line}")


def sign_in(page: Any, server: Server, email: str, password: str, path: str = "/admin/leads") -> None:
    """Open a staff page, get sent to the sign-in form, fill it in as a person would, and land where asked."""
    page.goto(server.url(path))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(server.url(path))
