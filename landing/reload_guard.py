"""What live reload may change at once.

A file caught half-written (an editor that writes in place and pauses at a row boundary, an upload still
arriving) is valid CSV with fewer towns: loading it would take the other towns' pages down. So a reload
that removes more than LANDING_RELOAD_MAX_DROP of the pages is refused until someone confirms that the
files are meant to be that way: `landing confirm` validates them and records their version (a digest of
their contents) in `.landing-confirmed` beside site.toml; the running service then loads exactly those
files, and no others.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Collection, Iterable
from pathlib import Path

from landing.settings import Settings
from landing.snapshot import Snapshot, load_snapshot

CONFIRMATION = ".landing-confirmed"


def confirmation_file(settings: Settings) -> Path:
    return settings.site_file.parent / CONFIRMATION


def confirmed_version(settings: Settings) -> str | None:
    try:
        return confirmation_file(settings).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def confirmation_stamp(settings: Settings) -> tuple[int, int] | None:
    """What changes when `landing confirm` runs (so the watcher tries a refused reload again)."""
    try:
        stat = confirmation_file(settings).stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


def dropped(old: Iterable[str], new: Collection[str]) -> list[str]:
    """The paths of ``old`` that ``new`` no longer has."""
    return [path for path in old if path not in new]


def too_large(old_count: int, dropped_count: int, max_share: float) -> bool:
    return old_count > 0 and dropped_count > max_share * old_count


def confirm(settings: Settings) -> Snapshot:
    """Validate the site files as they are now (raises ConfigError listing every problem) and record their version,
    written whole under a temporary name and renamed into place."""
    snapshot = load_snapshot(settings)
    target = confirmation_file(settings)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        temporary.write_text(snapshot.version + "\n", encoding="utf-8")
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return snapshot
