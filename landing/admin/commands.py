"""`landing users ...` and `landing leads ...`: the staff side of the command line."""

from __future__ import annotations

import argparse
from typing import Any


def add_staff_commands(commands: Any) -> None:
    """Register the staff commands on the main parser's subcommands (filled in by the staff-area work)."""
    del commands


def _unused(args: argparse.Namespace) -> None:  # placeholder keeps the module importable and typed
    del args
