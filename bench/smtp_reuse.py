"""Benchmark: e-mail over one SMTP connection per batch vs one connection per message.

An aiosmtpd server runs in its own process (the Sink handler: it accepts and drops), plain
and with STARTTLS (a throw-away self-signed certificate made with `openssl`, when present).
N recap e-mails, built as the dispatcher builds them, are sent through `SmtpMailer`:

- reuse: `async with mailer.connection()` once, then every message (what the dispatcher
  does for a batch);
- one connection per message: connect, (STARTTLS,) send, QUIT, for each.

Printed: messages per second each way and the ratio.

    .venv/bin/python bench/smtp_reuse.py [-n 300]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib

from tests.support import PARIS, paris
from tso_bot.config import Settings
from tso_bot.notify.email import SmtpMailer, build_email
from tso_bot.notify.render import render

PARAMS = {
    "pupil_id": "E001",
    "pupil": "Zoé Martin",
    "classe": "3eA",
    "step": "intentions",
    "offset": "7d",
    "audience": "guardian",
    "opens": "2024-02-26T00:00:00+01:00",
    "closes": "2024-03-11T23:59:59+01:00",
}


class SelfSignedMailer(SmtpMailer):
    """The product's mailer; only the certificate check is off (a throw-away certificate)."""

    def _client(self) -> aiosmtplib.SMTP:
        client = super()._client()
        client.validate_certs = False
        return client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int, tls: tuple[Path, Path] | None) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink"]
    args += ["-l", f"127.0.0.1:{port}"]
    if tls:
        args += ["--tlscert", str(tls[0]), "--tlskey", str(tls[1])]
    server = subprocess.Popen(args)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return server
        time.sleep(0.05)
    raise RuntimeError("the SMTP server did not start")


def certificate(folder: Path) -> tuple[Path, Path] | None:
    cert, key = folder / "cert.pem", folder / "key.pem"
    made = subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        capture_output=True,
        check=False,
    )
    return (cert, key) if made.returncode == 0 else None


def messages(n: int, sender: str) -> list[EmailMessage]:
    rendered = render("reminder_close", PARAMS, "fr", PARIS)
    at = paris(2024, 3, 4, 9, 0)
    return [
        build_email(rendered, to=f"g{i}@example.org", sender=sender, at=at, key=f"bench:{i}")
        for i in range(n)
    ]


async def reuse(mailer: SmtpMailer, batch: list[EmailMessage]) -> float:
    started = time.perf_counter()
    async with mailer.connection() as smtp:
        for message in batch:
            await smtp.send_message(message)
    return len(batch) / (time.perf_counter() - started)


async def one_each(mailer: SmtpMailer, batch: list[EmailMessage]) -> float:
    started = time.perf_counter()
    for message in batch:
        async with mailer.connection() as smtp:
            await smtp.send_message(message)
    return len(batch) / (time.perf_counter() - started)


async def compare(label: str, mailer: SmtpMailer, n: int) -> None:
    batch = messages(n, mailer.sender)
    await reuse(mailer, batch[:10])  # warm-up
    reused = await reuse(mailer, batch)
    each = await one_each(mailer, batch)
    print(
        f"{label:<10} reuse {reused:7.0f} msg/s   one connection per message {each:7.0f} msg/s"
        f"   ratio {reused / each:5.1f}x"
    )


async def main(n: int) -> None:
    print(f"{n} recap e-mails to a local aiosmtpd (another process)")
    with tempfile.TemporaryDirectory() as tmp:
        for label, tls in (("plain", None), ("STARTTLS", certificate(Path(tmp)))):
            if label == "STARTTLS" and tls is None:
                print("STARTTLS   skipped: no openssl to make a certificate")
                continue
            port = free_port()
            server = start_server(port, tls)
            try:
                settings = Settings(
                    smtp_host="127.0.0.1",
                    smtp_port=port,
                    smtp_tls="starttls" if tls else "none",
                    mail_from="orientation@college.example",
                )
                await compare(label, SelfSignedMailer(settings), n)
            finally:
                server.terminate()
                server.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=300)
    asyncio.run(main(parser.parse_args().n))
