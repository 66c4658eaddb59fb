"""A real SMTP server for tests: aiosmtpd on loopback, collecting what it receives."""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from tests.servers import free_port

__all__ = ["Inbox", "Logins", "free_port", "lead_ids", "smtp_server"]


class Inbox:
    """What the server received. With ``delay``, each message is kept at once but accepted (250) only ``delay``
    seconds later: a slow mail server, and a sender killed meanwhile never hears that it was accepted."""

    def __init__(self, delay: float = 0.0) -> None:
        self.messages: list[Message] = []
        self.delay = delay

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content))  # type: ignore[attr-defined]
        if self.delay:
            await asyncio.sleep(self.delay)
        return "250 Message accepted for delivery"


def lead_ids(inbox: Inbox) -> list[str]:
    """The lead each received notification links to, in the order received."""
    return [re.search(r"/admin/leads/(\w+)", m.get_payload(decode=True).decode()).group(1)  # type: ignore[union-attr]
            for m in inbox.messages]


class Logins:
    """What an SMTP server was sent as AUTH: (user, password, whether the connection was encrypted)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, bool]] = []

    def __call__(self, server: Any, session: object, envelope: object, mechanism: str, auth_data: Any) -> AuthResult:
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.seen.append((login, password, server.transport.get_extra_info("ssl_object") is not None))
        return AuthResult(success=True)


@contextlib.contextmanager
def smtp_server(port: int, delay: float = 0.0, *, logins: Logins | None = None, tls: ssl.SSLContext | None = None,
                implicit_tls: bool = False) -> Iterator[Inbox]:
    """aiosmtpd on 127.0.0.1:``port``. With ``logins``, it offers AUTH and records what it is sent (over plain
    text too, as a careless server would); with ``tls``, it offers STARTTLS, or speaks TLS from the start
    (SMTPS) when ``implicit_tls``; with ``delay``, a slow one (Inbox)."""
    inbox = Inbox(delay)
    options: dict[str, Any] = {}
    if logins is not None:
        options.update(authenticator=logins, auth_require_tls=False)
    if tls is not None:
        options.update(ssl_context=tls) if implicit_tls else options.update(tls_context=tls)
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()
