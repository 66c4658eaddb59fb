"""What the browser tests need, and what happens when a part is missing: a skip that says what to install,
or, when CI is set, a failure (CI must provide every part)."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from tests.parts import need as need_part

CHROMIUM = Path("/usr/bin/chromium")


def need(present: bool, what: str) -> None:
    """Skip (or fail, in CI) when a part is missing. ``what`` names it and how to get it."""
    if not present:
        need_part(f"browser tests need {what}")


def need_module(name: str, what: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError:
        need(False, what)
        raise  # not reached: need() skipped or failed
