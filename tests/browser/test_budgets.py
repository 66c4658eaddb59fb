"""Page budgets, measured in Chromium: nothing leaves the site, no script blocks rendering, small pages, no layout
shift. Also writes screenshots of the landing page at phone and desktop widths to test-artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import DESKTOP, PHONE, REPORT, Server

LANDING = "/intrathecal-pump-therapy/barrington-il/?utm_source=google&gclid=budget-1"
HTML_BUDGET = 60 * 1024  # bytes of a landing page's HTML, uncompressed
CSS_BUDGET = 15 * 1024  # bytes of all of its CSS, uncompressed
EVERY_PUBLIC_PAGE = ["/", "/intrathecal-pump-therapy/", LANDING, "/intrathecal-pump-therapy/no-such-town/",
                     "/thank-you/?office=barrington", "/admin/login"]
DEVICES = {"phone": PHONE, "desktop": DESKTOP}

# Installed before any page script runs: adds up every layout shift not caused by the visitor's own input.
WATCH_LAYOUT_SHIFTS = """
window.__layoutShift = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) { if (!entry.hadRecentInput) window.__layoutShift += entry.value; }
}).observe({type: 'layout-shift', buffered: true});
"""


@pytest.mark.slow
def test_no_request_leaves_the_sites_origin(server: Server, new_context: Callable[..., Any]) -> None:
    context = new_context(PHONE)
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    # Anything for another origin is refused on the spot, so a mistake cannot wait on the (absent) network.
    context.route(lambda url: not url.startswith(server.base_url), lambda route: route.abort())
    page = context.new_page()
    for path in EVERY_PUBLIC_PAGE:
        page.goto(server.url(path), wait_until="networkidle")
    elsewhere = [url for url in requested if not url.startswith(server.base_url + "/")]
    assert elsewhere == [], f"requests to other origins: {elsewhere}"
    assert any(url.endswith(".css") for url in requested)  # the listener did see the page's own requests


@pytest.mark.slow
def test_a_landing_page_has_no_render_blocking_script_and_fits_its_byte_budgets(
    server: Server, new_context: Callable[..., Any]
) -> None:
    page = new_context(PHONE).new_page()
    responses: list[Any] = []
    page.on("response", lambda response: responses.append(response))
    document = page.goto(server.url(LANDING), wait_until="networkidle")
    assert document is not None and document.status == 200

    scripts = page.eval_on_selector_all("script", """scripts => scripts.map(s => ({
        type: s.type, src: s.src, async: s.async, defer: s.defer}))""")
    blocking_scripts = [s for s in scripts if s["type"] not in ("application/ld+json", "module")
                        and not (s["src"] and (s["async"] or s["defer"]))]
    assert blocking_scripts == []
    # Chromium's own view of what held up the first render: the stylesheet, and nothing else.
    blocking = page.evaluate("""() => performance.getEntriesByType('resource')
        .filter(entry => entry.renderBlockingStatus === 'blocking').map(entry => entry.name)""")
    assert blocking and all(url.endswith(".css") for url in blocking), blocking

    html = len(document.body())  # Playwright hands over the body decompressed
    stylesheets = [response for response in responses if response.request.resource_type == "stylesheet"]
    css = sum(len(response.body()) for response in stylesheets)
    REPORT.append(f"landing page HTML {html:,} bytes (budget {HTML_BUDGET:,}), CSS {css:,} bytes in "
                  f"{len(stylesheets)} file(s) (budget {CSS_BUDGET:,})")
    assert len(stylesheets) == 1
    assert html <= HTML_BUDGET
    assert css <= CSS_BUDGET


@pytest.mark.slow
@pytest.mark.parametrize("device", DEVICES)
def test_no_late_content_shifts_the_layout(server: Server, new_context: Callable[..., Any], device: str) -> None:
    context = new_context(DEVICES[device])
    context.add_init_script(WATCH_LAYOUT_SHIFTS)
    page = context.new_page()
    for path in ["/", "/intrathecal-pump-therapy/", LANDING]:
        page.goto(server.url(path), wait_until="networkidle")
        # Images, videos and frames reserve their space before they load.
        unsized = page.eval_on_selector_all(
            "img, video, iframe, embed, object",
            "els => els.filter(el => !el.getAttribute('width') || !el.getAttribute('height')).map(el => el.outerHTML)")
        assert unsized == [], f"{path}: elements without width and height: {unsized}"
        assert page.evaluate("() => performance.getEntriesByType('resource').filter(e => e.initiatorType === 'css'"
                             " && /\\.(woff2?|ttf|otf)$/.test(e.name)).length") == 0, "web fonts swap late"
        page.mouse.wheel(0, 20_000)  # to the end, so anything loaded lazily would load now
        page.wait_for_timeout(300)
        shift = page.evaluate("window.__layoutShift")
        assert shift == 0, f"{path} at {device} width: cumulative layout shift {shift:.4f}"


@pytest.mark.slow
@pytest.mark.parametrize("device", DEVICES)
def test_screenshots_of_the_landing_page(
    server: Server, new_context: Callable[..., Any], screenshots: Path, device: str
) -> None:
    """Full-page screenshots for a person to look at: test-artifacts/screenshots/landing-{phone,desktop}.png."""
    page = new_context(DEVICES[device]).new_page()
    page.goto(server.url(LANDING), wait_until="networkidle")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= DEVICES[device]["viewport"]["width"], f"the page scrolls sideways at {device} width ({width}px)"
    target = screenshots / f"landing-{device}.png"
    page.screenshot(path=target, full_page=True)
    assert target.stat().st_size > 10_000
