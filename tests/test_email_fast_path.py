"""The lead form's email fast path borrows an undocumented email-validator module: it is in use with the
releases pyproject.toml allows, and it agrees with validate_email() on addresses made to trip it."""

from __future__ import annotations

import random
import unicodedata
from importlib.metadata import requires, version

from email_validator import EmailNotValidError, validate_email
from packaging.requirements import Requirement

from landing.leads import form
from tests.leads_helpers import valid_form
from tests.test_lead_checks import PAGES, TREATMENTS


def test_the_installed_email_validator_is_one_the_fast_path_was_compared_with_and_it_is_in_use() -> None:
    (pinned,) = [Requirement(line) for line in requires("landing") or [] if line.startswith("email-validator")]
    assert pinned.specifier.contains(version("email-validator")), f"email-validator outside {pinned.specifier}"
    assert form.DOT_ATOM_TEXT is not None and form.CASE_INSENSITIVE_MAILBOX_NAMES  # not the slow path everywhere


def library_says(address: str) -> str:
    try:
        return validate_email(unicodedata.normalize("NFC", address), check_deliverability=False).normalized
    except EmailNotValidError:
        return ""


def test_the_fast_path_agrees_with_email_validator_on_random_addresses() -> None:
    local = ["a", "Z", "0", ".", "..", "+", "-", "_", "!", "#", "'", "~", "é", '"', " ", "(", "@", "POSTMASTER", "abuse"]
    domain = ["example", "com", ".", "-", "_", "xn--bcher-kva", "EXAMPLE", "a" * 63, "1", "bücher", "localhost", "[1.2.3.4]"]
    chance = random.Random(7)  # the same addresses every run: a failure can be reproduced
    for _ in range(3000):
        address = ("".join(chance.choices(local, k=chance.randint(1, 6))) + "@"
                   + "".join(chance.choices(domain, k=chance.randint(1, 5))))
        checked = form.check_submission(valid_form(email=address), TREATMENTS, PAGES)
        assert checked.email_normalized == library_says(address.strip()), address  # the form trims what is typed
