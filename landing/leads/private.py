"""Files that hold patients' details (the SQLite database, exports): readable and writable by their owner
alone (0600), whatever the umask of the process that creates them."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from landing.errors import LandingError

PRIVATE = 0o600


def make_private(path: Path) -> None:
    """Create ``path`` empty if it is not there yet, and make it 0600 (an existing file too).

    A file that cannot be written at all (a read-only disk, another user's file) is left as it is: the store
    then reports it as read-only, and the pages keep being served; nothing could have widened it either.
    """
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE)
    except OSError as exc:
        if exc.errno in _UNWRITABLE and path.exists():
            return
        raise
    try:
        os.fchmod(descriptor, PRIVATE)  # the umask may have taken bits away, or the file was there before
    except OSError as exc:
        if exc.errno not in _UNWRITABLE:
            raise
    finally:
        os.close(descriptor)


_UNWRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)


def keep_private(path: Path) -> None:
    """Make ``path`` 0600 if it exists (a database's -wal and -shm left by an older version)."""
    try:
        os.chmod(path, PRIVATE)
    except FileNotFoundError:
        pass
    except OSError as exc:
        if exc.errno not in _UNWRITABLE:
            raise


@contextlib.contextmanager
def private_output(path: Path, *, replace: bool = False) -> Iterator[BinaryIO]:
    """A new file at ``path``, 0600, for writing: it appears there whole once the block ends without an
    error, and not at all otherwise.

    Never through a symbolic link (it could point at a file somebody else reads), and never over an existing
    file unless ``replace``: then the old file is replaced (not rewritten), so the result is 0600 whatever
    the old one was.
    """
    check_output(path, replace=replace)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        descriptor = os.open(temporary, flags, PRIVATE)
    except OSError as exc:
        raise LandingError(f"cannot write into {path.parent} ({exc.strerror}): choose a folder you can write to") \
            from None
    try:
        with os.fdopen(descriptor, "wb") as file:
            os.fchmod(file.fileno(), PRIVATE)  # the umask may have taken bits away
            yield file
            file.flush()
            os.fsync(file.fileno())
        if replace:
            check_output(path, replace=True)  # a link put there meanwhile is replaced, never followed, but say so
            os.replace(temporary, path)
        else:
            try:
                os.link(temporary, path)  # fails, rather than overwrite, if a file got there meanwhile
            except FileExistsError:
                raise LandingError(f"{path} appeared while the export ran: add --force to replace it, or choose "
                                   "another name") from None
    finally:
        temporary.unlink(missing_ok=True)


def check_output(path: Path, *, replace: bool) -> None:
    """Refuse a symbolic link, anything but a regular file, and (unless ``replace``) any existing file."""
    try:
        found = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(found.st_mode):
        raise LandingError(f"{path} is a symbolic link, which an export never follows: give the path of the file "
                           "itself, or a new name")
    if not stat.S_ISREG(found.st_mode):
        raise LandingError(f"{path} is not a regular file: give a new file name (or leave out -o for standard output)")
    if not replace:
        raise LandingError(f"{path} already exists: add --force to replace it, or choose another name")
