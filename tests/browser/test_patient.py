"""A patient on a phone, from a search ad to the thank-you page: with JavaScript, without it, and by keyboard alone.

Screenshots of the form with its errors and of the thank-you page go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import DESKTOP, PHONE, REPORT, Server

LANDING = "/intrathecal-pump-therapy/barrington-il/"
QUERY = "utm_source=google&utm_medium=cpc&utm_campaign=pumps-spring&utm_term=pain+pump&gclid=test-gclid-42"
# The form's signed token files anything sent sooner than 3 seconds after the page was served as spam.
TOKEN_AGE = 3.3
PHONE_ERROR = "Please enter a US phone number with area code, e.g. (847) 555-0142."
# The thank-you page keeps the form's #enquire (a redirect without a fragment of its own inherits it).
THANK_YOU = re.compile(r"/thank-you/\?office=barrington(#enquire)?$")


def wait_until_token_is_old_enough(served_at: float) -> None:
    remaining = TOKEN_AGE - (time.monotonic() - served_at)
    if remaining > 0:
        time.sleep(remaining)


def the_lead(server: Server, name: str) -> dict[str, Any]:
    (lead,) = [lead for lead in server.leads() if lead["name"] == name]
    return lead


@pytest.mark.slow
@pytest.mark.parametrize("javascript", [True, False], ids=["javascript", "no-javascript"])
def test_a_patient_on_a_phone_sends_an_enquiry_from_an_ad(
    server: Server, new_context: Callable[..., Any], expect: Any, screenshots: Path, javascript: bool
) -> None:
    page = new_context(PHONE, java_script_enabled=javascript).new_page()
    name = f"Pat Phone {'JS' if javascript else 'NoJS'}"

    # From the ad: the landing page with its campaign parameters.
    response = page.goto(server.url(f"{LANDING}?{QUERY}"))
    served_at = time.monotonic()
    assert response is not None and response.status == 200

    # The first screen, without scrolling: what and where, how far the office is, one number to call (the
    # serving office's), and the way to the form.
    expect(page).to_have_title(re.compile(r"^Intrathecal Pump Therapy Barrington, IL \| "))
    for above_the_fold in (page.get_by_role("heading", level=1), page.locator("p.where"),
                           page.get_by_role("main").get_by_role("link", name="Call (847) 555-0142"),
                           page.get_by_role("link", name="Ask us online"),
                           page.locator(".site-header .brand img")):
        expect(above_the_fold).to_be_in_viewport()
    expect(page.get_by_role("heading", level=1)).to_have_text("Intrathecal Pump Therapy in Barrington, IL")
    expect(page.locator("p.where")).to_have_text("Our Barrington office is here in Barrington, at 100 Placeholder "
                                                 "Road, Suite 200.")
    # One number on the page: the practice's main line is nowhere, the office's everywhere.
    assert "555-0100" not in page.content()
    # The form's first field is at most two screens down.
    top = page.locator("#lead-name").evaluate("element => element.getBoundingClientRect().top + window.scrollY")
    REPORT.append(f"phone: the form's first field is {top / PHONE['viewport']['height']:.2f} screens down")
    assert top <= 2 * PHONE["viewport"]["height"]
    # Half-way down, reading, the call link is still in view.
    page.evaluate("window.scrollTo(0, document.body.scrollHeight / 2)")
    expect(page.get_by_role("link", name="Call Barrington office: (847) 555-0142")).to_be_in_viewport()
    expect(page.get_by_role("heading", name="Questions about intrathecal pump therapy")).to_be_attached()
    page.evaluate("window.scrollTo(0, 0)")
    page.get_by_role("link", name="Ask us online").click()
    expect(page.get_by_role("heading", name="Ask about intrathecal pump therapy")).to_be_in_viewport()

    # Fills in the form with a mistake: a phone number without its area code.
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Phone (phone or email)").fill("555-0199")
    page.get_by_label("Email (phone or email)").fill("pat.phone@example.com")
    page.get_by_role("radio", name="Text message").check()
    page.get_by_label("Message (optional)").fill("Are there evening appointments?")
    page.get_by_role("checkbox").check()
    wait_until_token_is_old_enough(served_at)
    page.get_by_role("button", name="Send my enquiry").click()

    # The same page comes back at the form, not at its top: the list of mistakes is in view.
    expect(page.get_by_role("heading", level=1)).to_have_text("Intrathecal Pump Therapy in Barrington, IL")
    served_at = time.monotonic()  # the page that came back carries a new token
    expect(page).to_have_title(re.compile(r"^Error: Intrathecal Pump Therapy Barrington, IL \| "))
    expect(page.get_by_role("alert")).to_be_in_viewport()
    expect(page.get_by_text("Your enquiry has not been sent yet.")).to_be_attached()
    if javascript:
        page.screenshot(path=screenshots / "landing-phone-after-mistake.png")

    # The error beside the phone field, tied to it, and everything typed kept.
    phone = page.get_by_label("Phone (phone or email)")
    field = page.locator(".field").filter(has=phone)
    expect(field.locator(".field-error")).to_have_text(PHONE_ERROR)
    expect(phone).to_have_attribute("aria-invalid", "true")
    expect(phone).to_have_accessible_description(PHONE_ERROR)
    expect(page.get_by_role("alert")).to_contain_text(PHONE_ERROR)
    expect(phone).to_have_value("555-0199")
    expect(page.get_by_label("Your name")).to_have_value(name)
    expect(page.get_by_label("Email (phone or email)")).to_have_value("pat.phone@example.com")
    expect(page.get_by_role("radio", name="Text message")).to_be_checked()
    expect(page.get_by_label("Message (optional)")).to_have_value("Are there evening appointments?")
    expect(page.get_by_role("checkbox")).to_be_checked()
    assert [lead for lead in server.leads() if lead["name"] == name] == []
    if javascript:
        field.scroll_into_view_if_needed()
        page.screenshot(path=screenshots / "landing-phone-form-error.png")

    # Corrects it and sends it again.
    phone.fill("(847) 555-0199")
    wait_until_token_is_old_enough(served_at)
    page.get_by_role("button", name="Send my enquiry").click()

    page.wait_for_url(THANK_YOU)
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you: we have your enquiry")
    expect(page.get_by_text("Your enquiry has reached our Barrington office.")).to_be_visible()
    expect(page.get_by_role("main").get_by_role("link", name="(847) 555-0142")).to_be_visible()
    if javascript:
        page.screenshot(path=screenshots / "thank-you-phone.png", full_page=True)

    lead = the_lead(server, name)
    assert {key: lead[key] for key in ("spam", "spam_reason", "status", "phone", "email", "contact", "message",
                                       "treatment", "town", "office", "utm_source", "utm_medium", "utm_campaign",
                                       "utm_term", "gclid", "landing_url")} == {
        "spam": 0, "spam_reason": "", "status": "new", "phone": "+18475550199", "email": "pat.phone@example.com",
        "contact": "text", "message": "Are there evening appointments?", "treatment": "intrathecal-pump-therapy",
        "town": "barrington-il", "office": "barrington", "utm_source": "google", "utm_medium": "cpc",
        "utm_campaign": "pumps-spring", "utm_term": "pain pump", "gclid": "test-gclid-42",
        "landing_url": server.url(f"{LANDING}?{QUERY}"),
    }
    assert lead["consent_version"] and lead["consent_text"].startswith("I agree that Illinois Pain & Spine Institute")


@pytest.mark.slow
def test_the_form_can_be_found_filled_in_and_sent_with_the_keyboard_alone(
    server: Server, new_context: Callable[..., Any], expect: Any
) -> None:
    page = new_context(DESKTOP).new_page()
    page.goto(server.url(LANDING))
    served_at = time.monotonic()

    def focused() -> dict[str, str]:
        """The focused element, and whether its focus can be seen (the stylesheet's outline)."""
        return page.evaluate("""() => {
            const el = document.activeElement, style = getComputedStyle(el);
            return {id: el.id, tag: el.tagName.toLowerCase(), text: el.textContent.trim(), name: el.name || '',
                    value: el.value || '', outline: style.outlineStyle + ' ' + style.outlineWidth};
        }""")

    def tab(expected_id: str) -> None:
        page.keyboard.press("Tab")
        now = focused()
        assert now["id"] == expected_id, f"Tab reached {now}, expected #{expected_id}"
        assert now["outline"] == "solid 3px", f"#{expected_id} shows no focus outline"

    # The first Tab reaches the skip link, which takes the visitor past the header.
    page.keyboard.press("Tab")
    assert focused()["text"] == "Skip to content"
    expect(page.get_by_role("link", name="Skip to content")).to_be_in_viewport()
    page.keyboard.press("Enter")
    assert page.url.endswith("#main")

    # Then Tab through the content until the form's first field.
    for presses in range(1, 80):
        page.keyboard.press("Tab")
        if focused()["id"] == "lead-name":
            break
    else:
        pytest.fail("80 presses of Tab after the skip link never reached the form")
    page.keyboard.type("Kim Keyboard")
    tab("lead-phone")
    page.keyboard.type("847 555 0123")
    tab("lead-email")
    page.keyboard.press("Tab")  # into the radio group, on the chosen way of contact
    assert (focused()["name"], focused()["value"]) == ("contact", "phone")
    page.keyboard.press("ArrowDown")
    assert (focused()["name"], focused()["value"]) == ("contact", "text")
    tab("lead-message")
    page.keyboard.type("Do you take my insurance?")
    tab("lead-consent")  # the hidden honeypot field is skipped
    page.keyboard.press("Space")
    expect(page.locator("#lead-consent")).to_be_checked()
    page.keyboard.press("Tab")
    assert focused()["text"] == "Send my enquiry" and focused()["outline"] == "solid 3px"
    wait_until_token_is_old_enough(served_at)
    page.keyboard.press("Enter")

    page.wait_for_url(THANK_YOU)
    lead = the_lead(server, "Kim Keyboard")
    assert (lead["spam"], lead["phone"], lead["contact"], lead["message"]) == (
        0, "+18475550123", "text", "Do you take my insurance?")
    REPORT.append(f"keyboard: {presses} presses of Tab from the skip link to the lead form's first field")
    assert presses < 40, f"{presses} presses of Tab from the skip link to the form"
