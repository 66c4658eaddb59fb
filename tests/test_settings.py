"""Settings from LANDING_* variables: what a deployment writes is read as it means, or refused with the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from landing.errors import LandingError
from landing.settings import BOOLEANS, Settings, boolean


def test_nothing_set_runs_the_example_site_locally() -> None:
    assert Settings.from_env({}) == Settings()
    assert Settings.from_env({"LANDING_SMTP_URL": "  "}).smtp_url is None  # blank is unset


def test_values_are_read_as_their_types() -> None:
    settings = Settings.from_env({"LANDING_LEADS_PER_ADDRESS": "12", "LANDING_RELOAD_INTERVAL": "0.5",
                                  "LANDING_SITE_FILE": " other.toml ", "LANDING_BASE_URL": "https://pain.example.com/",
                                  "LANDING_DATABASE_URL": "postgresql://user@db:5432/leads"})
    assert settings.leads_per_address == 12 and settings.reload_interval == 0.5
    assert settings.site_file == Path("other.toml")
    assert settings.base_url == "https://pain.example.com"  # the trailing slash dropped: paths are added to it


@pytest.mark.parametrize(("variable", "value", "says"), [
    ("LANDING_LEADS_PER_ADDRESS", "-5", "must be a whole number from 1"),
    ("LANDING_LEADS_PER_ADDRESS", "0", "must be a whole number from 1"),
    ("LANDING_LEADS_PER_MINUTE", "ten", "is not a whole number"),
    ("LANDING_CACHE_SECONDS", "1e9", "is not a whole number"),
    ("LANDING_RELOAD_INTERVAL", "-1", "must be a number at least 0"),
    ("LANDING_RELOAD_INTERVAL", "nan", "must be a number at least 0"),
    ("LANDING_NOTIFY_RETRY_SECONDS", "0", "must be a number above 0"),
    ("LANDING_BASE_URL", "pain.example.com", "must be a URL starting with https:// or http://"),
    ("LANDING_BASE_URL", "https://pain.example.com/landing", "must be a scheme and host only"),
    ("LANDING_DATABASE_URL", "mysql://db/leads", "must be a URL starting with sqlite:// or postgresql://"),
    ("LANDING_SMTP_URL", "mail.example.com:587", "must be a URL starting with smtp:// or smtps://"),
    ("LANDING_BUILD_FORM_DAYS", "99999", "must be a whole number from 1 to 3,650"),
])
def test_a_value_that_makes_no_sense_is_refused_naming_the_variable_and_the_fix(variable: str, value: str,
                                                                                 says: str) -> None:
    with pytest.raises(LandingError) as refused:
        Settings.from_env({variable: value})
    assert str(refused.value).startswith(f"{variable}={value!r} {says}")


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(LandingError) as refused:
        Settings.from_env({"LANDING_LEADS_PER_ADDRESS": "-1", "LANDING_CACHE_SECONDS": "soon"})
    assert len(str(refused.value).splitlines()) == 2


@pytest.mark.parametrize("text", sorted(BOOLEANS))
def test_a_yes_or_no_means_what_it_says(text: str) -> None:
    assert boolean(text) is BOOLEANS[text] and boolean(text.upper()) is BOOLEANS[text]


def test_a_yes_or_no_that_is_neither_is_refused() -> None:
    with pytest.raises(LandingError, match="must be true or false"):
        boolean("maybe")
