"""Log lines an operator can use: one line per event, as text or as JSON (LANDING_LOG_FORMAT), each with the id
of the request it happened in; a failure that repeats is logged once and then summarised, not once per try.

What goes into a message is the caller's care: ids, offices, counts and causes, never a patient's details.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

# The id of the request being answered ("-" outside a request): set by landing.web.observe, printed on every line.
REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="-")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def install_request_ids() -> None:
    """Give every log record the id of the request it was made in (``record.request_id``), at creation, in the
    task that logs it: whichever handler formats it later, and however (once per process)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "adds_request_id", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.request_id = REQUEST_ID.get()
        return record

    factory.adds_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def request_id_of(record: logging.LogRecord) -> str:
    return getattr(record, "request_id", None) or REQUEST_ID.get()


def valid_request_id(value: str) -> bool:
    """A request id from a proxy (nginx's $request_id) is kept only when it cannot forge or break a log line."""
    return _REQUEST_ID.fullmatch(value) is not None


def one_line(text: str) -> str:
    """A message, or a traceback, on one line: a log shipper reads one event per line."""
    return " | ".join(part.rstrip() for part in text.splitlines() if part.strip())


def _utc(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


class TextFormatter(logging.Formatter):
    """``2026-11-30T07:25:22.530Z WARNING landing.leads request=3f2a... message``: one line, whatever the event."""

    def format(self, record: logging.LogRecord) -> str:
        request = request_id_of(record)
        line = f"{_utc(record)} {record.levelname} {record.name}{f' request={request}' if request != '-' else ''} " \
               f"{record.getMessage()}"
        if record.exc_info:
            line += " | " + self.formatException(record.exc_info)
        return one_line(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and request_id and exception when there are."""

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {"time": _utc(record), "level": record.levelname, "logger": record.name,
                                 "message": record.getMessage()}
        request = request_id_of(record)
        if request != "-":
            event["request_id"] = request
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        return json.dumps(event, ensure_ascii=False)


FORMATTERS = {"text": "landing.logs.TextFormatter", "json": "landing.logs.JsonFormatter"}


def logging_config(log_format: str, base: dict[str, Any]) -> dict[str, Any]:
    """uvicorn's logging config ``base`` (a dictConfig dict) with every line formatted as ``log_format`` says, and the
    service's own loggers (landing.*) at INFO."""
    config: dict[str, Any] = json.loads(json.dumps(base))  # a deep copy of plain data
    formatter = {"()": FORMATTERS[log_format]}
    config["formatters"] = {name: formatter for name in config.get("formatters", {})} | {"landing": formatter}
    config["handlers"]["default"]["formatter"] = "landing"
    config["loggers"]["landing"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


class Repeated:
    """Logs the first of a run of identical failures at once; while it lasts, at most one line every ``every``
    seconds saying how many more there were; and one line when it ends. A database that is down for an hour
    then costs a few dozen lines, not a traceback per poll.

    Failures are identical when their ``key`` is (their cause: "disk full", "timed out").
    """

    def __init__(self, logger: logging.Logger, every: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.every = every
        self.clock = clock
        self.key: str | None = None
        self.unlogged = 0  # failures since the last line
        self.total = 0  # failures in this run
        self.since = 0.0
        self.logged_at = 0.0

    @property
    def failing(self) -> bool:
        return self.key is not None

    def failure(self, key: str, message: str, *args: object, level: int = logging.WARNING) -> None:
        now = self.clock()
        if key != self.key:
            self.key, self.unlogged, self.total, self.since, self.logged_at = key, 0, 1, now, now
            self.logger.log(level, message, *args)
            return
        self.unlogged += 1
        self.total += 1
        if now - self.logged_at >= self.every:
            self.logger.log(level, message + " (again: %d more time%s in the last %.0f s)", *args, self.unlogged,
                            "" if self.unlogged == 1 else "s", now - self.logged_at)
            self.unlogged, self.logged_at = 0, now

    def success(self, message: str, *args: object) -> None:
        """The failing thing works again: say so once (nothing when it was not failing)."""
        if self.key is None:
            return
        self.logger.info(message + " (after %d failure%s over %.0f s)", *args, self.total, "" if self.total == 1 else "s",
                         self.clock() - self.since)
        self.key = None
