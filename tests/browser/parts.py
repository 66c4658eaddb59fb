"""What the browser tests need, and what happens when a part is missing: a skip that says what to install,
or, when CI is set, a failure (CI must provide every part)."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

import pytest

CHROMIUM = Path("/usr/bin/chromium")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def need(present: bool, what: str) -> None:
    """Skip (or fail, in CI) when a part is missing. ``what`` names it and how to get it."""
    if present:
        return
    message = f"browser tests need {what}"
    if in_ci():
        pytest.fail(message + " (CI is set, so a missing part is a failure)", pytrace=False)
    pytest.skip(message)


def need_module(name: str, what: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError:
        need(False, what)
        raise  # not reached: need() skipped or failed
