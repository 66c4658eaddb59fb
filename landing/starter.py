"""`landing init DIR`: a new practice's site folder, from the starter the package ships."""

from __future__ import annotations

import shutil
from pathlib import Path

from landing.catalog import files_in
from landing.errors import LandingError

STARTER = Path(__file__).resolve().parent / "starter_site"


def write_starter(folder: Path) -> list[Path]:
    """Copy the starter site into ``folder`` (created if need be); the files written, relative to it.

    Never overwrites: if any of the starter's files is already there, nothing is written.
    """
    sources = [path for path in files_in(STARTER) if "__pycache__" not in path.parts]
    targets = [folder / path.relative_to(STARTER) for path in sources]
    existing = [target for target in targets if target.exists() or target.is_symlink()]
    if existing:
        names = ", ".join(str(path.relative_to(folder)) for path in existing)
        raise LandingError(f"{folder} already has {names}: landing init writes a new site and overwrites nothing "
                           "(choose an empty folder)")
    for source, target in zip(sources, targets):
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return [target.relative_to(folder) for target in targets]
