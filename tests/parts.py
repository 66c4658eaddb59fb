"""A real part a test needs (PostgreSQL, Redis, Chromium, a package) that is missing here: a skip that says
what is missing, or, when CI is set, a failure: CI must provide every part."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def need(what: str) -> NoReturn:
    if in_ci():
        pytest.fail(f"{what} (CI is set, so a missing part is a failure)", pytrace=False)
    pytest.skip(what)
