"""A local SMTP server (aiosmtpd) that keeps every e-mail: for the demo and the tests.

It runs in the caller's event loop, so a test or the demo page can wait for a message or
be told of one as it arrives, with no thread in between.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class CaughtMail:
    id: int
    mail_from: str
    rcpt_to: list[str]
    message: EmailMessage
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    @property
    def to(self) -> str:
        return str(self.message["To"] or "")

    def part(self, subtype: str) -> str:
        """The decoded text of the `text/<subtype>` part ("plain" or "html")."""
        body = self.message.get_body(preferencelist=(subtype,))
        if body is None or body.get_content_subtype() != subtype:
            return ""
        # Line ends are CRLF on the wire; a reader compares text, not transport.
        return str(body.get_content()).replace("\r\n", "\n")

    @property
    def text(self) -> str:
        return self.part("plain")

    @property
    def html(self) -> str:
        return self.part("html")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "from": self.mail_from,
            "to": self.to,
            "rcpt_to": self.rcpt_to,
            "subject": self.subject,
            "date": str(self.message["Date"] or ""),
            "received_at": self.received_at.isoformat(),
            "text": self.text,
            "html": self.html,
        }


class _Handler:
    def __init__(self, catcher: MailCatcher) -> None:
        self.catcher = catcher

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.catcher.refuse:
            return "451 4.3.0 Mail server temporarily unavailable"
        raw = envelope.original_content or envelope.content or b""
        data = raw if isinstance(raw, bytes) else raw.encode()
        message = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.catcher.add(str(envelope.mail_from), list(envelope.rcpt_tos), message)
        return "250 OK"


class MailCatcher:
    def __init__(self) -> None:
        self.mails: list[CaughtMail] = []
        self.connections = 0
        self.refuse = False  # answer 451 to every message (a server in trouble)
        self._server: asyncio.Server | None = None
        self._changed = asyncio.Condition()
        self._listeners: list[Callable[[CaughtMail], None]] = []
        self.host = "127.0.0.1"
        self.port = 0

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        loop = asyncio.get_running_loop()

        def factory() -> SMTP:
            self.connections += 1
            return SMTP(_Handler(self), hostname="tso-mailcatcher", ident="TSO mail catcher")

        self._server = await loop.create_server(factory, host, port)
        self.host, self.port = self._server.sockets[0].getsockname()[:2]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def add(self, mail_from: str, rcpt_to: list[str], message: EmailMessage) -> None:
        mail = CaughtMail(len(self.mails) + 1, mail_from, rcpt_to, message)
        self.mails.append(mail)
        for listener in self._listeners:
            listener(mail)
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def on_mail(self, listener: Callable[[CaughtMail], None]) -> None:
        self._listeners.append(listener)

    def clear(self) -> None:
        self.mails.clear()

    def to(self, address: str) -> list[CaughtMail]:
        return [m for m in self.mails if address in m.rcpt_to]

    async def wait_for(
        self, predicate: Callable[[list[CaughtMail]], bool], timeout: float = 10.0
    ) -> list[CaughtMail]:
        async def wait() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: predicate(self.mails))

        try:
            await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            got = [(m.rcpt_to, m.subject) for m in self.mails]
            raise TimeoutError(f"mail condition not met in {timeout}s; got {got}") from None
        return self.mails
