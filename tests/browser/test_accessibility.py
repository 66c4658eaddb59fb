"""axe-core, run in Chromium on every kind of page, finds no violations: public pages at a phone's width (the
landing page and its form at a desktop's too), staff pages at a desktop's.

axe-core's script comes bundled in the axe-playwright-python package (no network needed) and runs with its
default rules: WCAG 2.x A and AA, and best practices. Keyboard use of the lead form is in test_patient.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.browser.conftest import DESKTOP, PHONE, ROOT, Server, sign_in, start_server
from tests.browser.parts import need_module

LANDING = "/intrathecal-pump-therapy/barrington-il/"
PUBLIC_PAGES = {
    "home": "/",
    "hub": "/intrathecal-pump-therapy/",
    "landing": LANDING + "?utm_source=google",
    "404": "/intrathecal-pump-therapy/barington-il/",
    "thank-you": "/thank-you/?office=barrington",
    "sign-in": "/admin/login",
}
STAFF_PAGES = {"leads": "/admin/leads", "audit log": "/admin/audit"}
DEVICES = {"phone": PHONE, "desktop": DESKTOP}
# Each axe run takes a second or two on this machine: every page once at a phone's width, the landing page twice.
PUBLIC_CHECKS = [(name, "phone") for name in PUBLIC_PAGES] + [("landing", "desktop")]


@pytest.fixture(scope="module")
def axe(browser: Any) -> Any:
    module = need_module("axe_playwright_python.sync_playwright", "axe-playwright-python (pip install -e '.[test]')")
    return module.Axe()


def assert_no_violations(axe: Any, page: Any, what: str) -> None:
    results = axe.run(page).response
    assert results["testEngine"]["version"]  # axe did run
    problems = [f"{v['id']} ({v['impact']}): {v['help']} at {[node['target'] for node in v['nodes']]}"
                for v in results["violations"]]
    assert problems == [], f"axe on {what}:\n" + "\n".join(problems)


@pytest.fixture(scope="module")
def one_lead(server: Server) -> None:
    server.send_lead(name="Dana Axe", town="barrington-il")


@pytest.fixture(scope="module")
def staff_page(browser: Any, server: Server, staff_user: tuple[str, str], one_lead: None) -> Iterator[Any]:
    """A signed-in staff browser, shared by the staff page checks (signing in hashes a password)."""
    context = browser.new_context(**DESKTOP)
    page = context.new_page()
    sign_in(page, server, *staff_user)
    yield page
    context.close()


@pytest.fixture(scope="module")
def large_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The example site with 1,100 more towns: its hub runs to three pages, linked by a pager."""
    folder = tmp_path_factory.mktemp("large-site")
    rows = (ROOT / "locations.csv").read_text(encoding="utf-8").rstrip("\n").split("\n")
    rows += [f"Town {n:04d},{'IL' if n < 700 else 'WI'},,,{42 + n / 10_000:.4f},-88.0000" + "," * (rows[0].count(",") - 5)
             for n in range(1100)]
    (folder / "locations.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    yield from start_server(folder, folder / "locations.csv")


@pytest.mark.slow
def test_a_page_of_a_long_hub_and_its_pager_have_no_axe_violations(
    large_site: Server, new_context: Callable[..., Any], axe: Any
) -> None:
    page = new_context(PHONE).new_page()
    response = page.goto(large_site.url("/intrathecal-pump-therapy/page/2/"))
    assert response is not None and response.status == 200
    assert page.locator("nav.pager [aria-current=page]").count() == 1
    assert_no_violations(axe, page, "the second page of a long hub at phone width")


@pytest.mark.slow
@pytest.mark.parametrize(("name", "device"), PUBLIC_CHECKS)
def test_public_pages_have_no_axe_violations(
    server: Server, new_context: Callable[..., Any], axe: Any, name: str, device: str
) -> None:
    page = new_context(DEVICES[device]).new_page()
    response = page.goto(server.url(PUBLIC_PAGES[name]))
    assert response is not None and response.status == (404 if name == "404" else 200)
    assert_no_violations(axe, page, f"the {name} page at {device} width")


@pytest.mark.slow
def test_the_form_shown_again_with_its_errors_has_no_axe_violations(
    server: Server, new_context: Callable[..., Any], axe: Any
) -> None:
    pages = {device: new_context(options).new_page() for device, options in DEVICES.items()}
    for page in pages.values():
        page.goto(server.url(LANDING))
    served_at = time.monotonic()
    for page in pages.values():
        page.locator("#lead-name").fill("Eve Errors")
        page.locator("#lead-phone").fill("12")
        page.locator("#lead-contact").get_by_role("radio", name="Email").check()  # without an email address
    time.sleep(max(0.0, 3.3 - (time.monotonic() - served_at)))  # sooner, the form would be taken for a bot's
    for device, page in pages.items():
        page.get_by_role("button", name="Send my enquiry").click()
        page.get_by_role("alert").wait_for()
        assert page.locator("[aria-invalid=true]").count() == 3  # phone, email, consent
        assert_no_violations(axe, page, f"the form with errors at {device} width")


@pytest.mark.slow
@pytest.mark.parametrize("name", [*STAFF_PAGES, "a lead"])
def test_staff_pages_have_no_axe_violations(server: Server, staff_page: Any, axe: Any, name: str) -> None:
    if name == "a lead":
        staff_page.goto(server.url("/admin/leads"))
        staff_page.get_by_role("link", name="Dana Axe").click()
        staff_page.get_by_role("heading", name="Dana Axe").wait_for()
    else:
        staff_page.goto(server.url(STAFF_PAGES[name]))
    assert_no_violations(axe, staff_page, f"the staff {name} page")
