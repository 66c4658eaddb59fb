"""Why the lead database failed, in the plain words an operator acts on: "disk full", "read-only", "locked",
"timed out".

Never the error's own text: a database error can quote the values of the row it failed on, and a lead's
values are a patient's details. Only the kind of failure is told, from the error's class, SQLite's result
code name or PostgreSQL's SQLSTATE.
"""

from __future__ import annotations

import errno
import sqlite3

import asyncpg

# SQLite's primary result code names (extended codes start with them: SQLITE_IOERR_FSYNC, SQLITE_READONLY_DBMOVED).
_SQLITE = {
    "SQLITE_FULL": "disk full",
    "SQLITE_READONLY": "read-only (the database file or its folder cannot be written)",
    "SQLITE_BUSY": "locked by another process",
    "SQLITE_LOCKED": "locked",
    "SQLITE_IOERR": "disk I/O error",
    "SQLITE_CANTOPEN": "cannot open the database file (check the path, its folder and permissions)",
    "SQLITE_PERM": "permission denied",
    "SQLITE_CORRUPT": "the database file is damaged",
    "SQLITE_NOTADB": "the file is not a SQLite database",
    "SQLITE_NOMEM": "out of memory",
    "SQLITE_CONSTRAINT": "a row broke a constraint of the database",
}

_ERRNO = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only (the file system is mounted read-only)",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ECONNREFUSED: "unreachable (connection refused: is the server running?)",
    errno.EHOSTUNREACH: "unreachable (no route to the host)",
    errno.ENETUNREACH: "unreachable (network down)",
    errno.ECONNRESET: "connection lost",
    errno.EPIPE: "connection lost",
}

# PostgreSQL errors by class (the most specific first: subclasses before their bases).
_POSTGRES: list[tuple[type[BaseException], str]] = [
    (asyncpg.DiskFullError, "disk full (on the database server)"),
    (asyncpg.ReadOnlySQLTransactionError, "read-only (the server is a standby, or read-only)"),
    (asyncpg.LockNotAvailableError, "locked (lock_timeout)"),
    (asyncpg.DeadlockDetectedError, "deadlock"),
    (asyncpg.IdleInTransactionSessionTimeoutError, "timed out (idle in a transaction)"),
    (asyncpg.TooManyConnectionsError, "too many connections to the database server"),
    (asyncpg.InvalidAuthorizationSpecificationError, "sign-in refused (check the user and password in LANDING_DATABASE_URL)"),
    (asyncpg.InvalidCatalogNameError, "no such database (check LANDING_DATABASE_URL)"),
    (asyncpg.InsufficientPrivilegeError, "permission denied"),
    (asyncpg.CannotConnectNowError, "unavailable (the server is starting up or shutting down)"),
    (asyncpg.AdminShutdownError, "unavailable (the server was shut down)"),
    (asyncpg.CrashShutdownError, "unavailable (the server crashed)"),
    (asyncpg.InsufficientResourcesError, "out of resources on the database server"),
    (asyncpg.PostgresConnectionError, "connection lost"),
    (asyncpg.InterfaceError, "connection lost"),
]


def cause(exc: BaseException) -> str:
    """What went wrong, in a few plain words (never the error's text, which can quote personal data)."""
    if isinstance(exc, TimeoutError):
        return "timed out (the database did not answer in time)"
    if isinstance(exc, sqlite3.Error):
        name = getattr(exc, "sqlite_errorname", "") or ""
        for prefix, words in _SQLITE.items():
            if name == prefix or name.startswith(prefix + "_"):
                return words
        return f"SQLite error ({name or type(exc).__name__})"
    if isinstance(exc, asyncpg.QueryCanceledError):
        # Our own cancellation (a command timeout) or the server's statement_timeout; the text is PostgreSQL's own.
        return "timed out (statement_timeout)" if "statement timeout" in str(exc) else "timed out (cancelled)"
    for kind, words in _POSTGRES:
        if isinstance(exc, kind):
            return words
    if isinstance(exc, asyncpg.PostgresError):
        return f"PostgreSQL error (SQLSTATE {getattr(exc, 'sqlstate', '?')})"
    if isinstance(exc, OSError):
        return _ERRNO.get(exc.errno or 0, f"{type(exc).__name__} (errno {exc.errno})")
    return type(exc).__name__
