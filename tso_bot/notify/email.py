"""E-mail: building the recap messages and sending them over SMTP (aiosmtplib)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import aiosmtplib

from tso_bot.config import Settings
from tso_bot.notify.render import Rendered


def build_email(
    rendered: Rendered, *, to: str, sender: str, at: datetime, key: str
) -> EmailMessage:
    """A multipart/alternative UTF-8 message; the Message-ID derives from the outbox key
    so that a retried send can be recognised as the same message."""
    msg = EmailMessage()
    msg["Subject"] = rendered.subject
    msg["From"] = sender
    msg["To"] = to
    msg["Date"] = format_datetime(at)
    domain = sender.rpartition("@")[2] or "localhost"
    msg["Message-ID"] = make_msgid(idstring=_safe_id(key), domain=domain)
    msg.set_content(rendered.email_text, charset="utf-8")
    msg.add_alternative(rendered.email_html, subtype="html", charset="utf-8")
    return msg


def _safe_id(key: str) -> str:
    return "".join(c if c.isalnum() or c in "-." else "." for c in key)[:120]


class SmtpMailer:
    """Sends through one SMTP connection per batch (`async with mailer.connection()`):
    connecting, STARTTLS and logging in cost several round trips, which one connection per
    message would pay for every e-mail. TLS (`ssl` from the start, or `starttls`) and login
    come from the settings."""

    def __init__(self, settings: Settings, *, timeout: float = 30.0) -> None:
        self.settings = settings
        self.timeout = timeout

    def _client(self) -> aiosmtplib.SMTP:
        tls = self.settings.smtp_tls
        return aiosmtplib.SMTP(
            hostname=self.settings.smtp_host,
            port=self.settings.smtp_port,
            use_tls=tls == "ssl",
            start_tls=tls == "starttls",
            timeout=self.timeout,
        )

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[aiosmtplib.SMTP]:
        client = self._client()
        await client.connect()
        try:
            if self.settings.smtp_user:
                await client.login(self.settings.smtp_user, self.settings.smtp_password or "")
            yield client
        finally:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):  # already gone: nothing to close well
                client.close()

    @property
    def sender(self) -> str:
        return self.settings.mail_from
