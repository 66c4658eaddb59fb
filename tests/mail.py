"""A real SMTP server for tests: aiosmtpd on loopback, collecting what it receives."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message

from aiosmtpd.controller import Controller

from tests.servers import free_port

__all__ = ["Inbox", "free_port", "smtp_server"]


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content))  # type: ignore[attr-defined]
        return "250 Message accepted for delivery"


@contextlib.contextmanager
def smtp_server(port: int) -> Iterator[Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()
