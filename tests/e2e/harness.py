"""End-to-end harness: the real bot (python-telegram-bot over HTTP) against the Bot API
emulator, a real SMTP server, a SQLite file, and the real `tso-bot` command line."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select

from tso_bot.clock import SimulatedClock
from tso_bot.config import Settings
from tso_bot.runtime import Runtime, build_context
from tso_bot.sandbox.emulator import Emulator, MessageRecord
from tso_bot.sandbox.mailcatcher import MailCatcher
from tso_bot.store.models import OutboxMessage

TOKEN = "123456:E2E-TOKEN"


def read_csv(path: Path) -> list[dict[str, str]]:
    text = path.read_bytes().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str


@dataclass
class School:
    """A school's deployment in a temporary folder, driven as its staff would."""

    root: Path
    emulator: Emulator
    mail: MailCatcher
    clock: SimulatedClock
    runtime: Runtime | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        return Settings.load(environ=self.env)

    async def cli(self, *args: str, check: bool = True) -> CliResult:
        """Run `tso-bot` as a separate process, as a school's IT person would. Async, so
        that the emulator, in this event loop, can answer it meanwhile."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tso_bot.cli",
            *args,
            cwd=self.root,
            env={**self.env, "TSO_CLOCK": self.clock.now().isoformat()},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
        result = CliResult(process.returncode or 0, out.decode(), err.decode())
        if check and result.returncode != 0:
            raise AssertionError(f"tso-bot {' '.join(args)} failed:\n{result.stderr}")
        return result

    async def start_bot(self) -> None:
        ctx = build_context(self.settings, self.clock)
        self.runtime = Runtime(ctx, self.settings, poll_interval=0.2)
        await self.runtime.start()

    async def run_planner(self) -> None:
        """A planner pass now (it also runs every minute), then the dispatcher."""
        assert self.runtime is not None
        assert self.runtime.planner is not None
        await self.runtime.planner.run_once()
        await self.settle_outbox()

    async def wake(self) -> None:
        """After moving the clock: let the dispatcher look for newly due messages."""
        assert self.runtime is not None
        self.runtime.ctx.outbox_changed()

    async def settle_outbox(self, timeout: float = 10.0) -> None:
        """Wait until no message is due and unsent (at the simulated time)."""
        assert self.runtime is not None
        ctx = self.runtime.ctx
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            async with ctx.db.transaction() as s:
                due = await s.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(
                        OutboxMessage.status == "pending",
                        OutboxMessage.not_before <= ctx.clock.now(),
                    )
                )
            if not due:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{due} outbox message(s) still due")
            ctx.outbox_changed()
            await asyncio.sleep(0.05)

    async def stop_bot(self) -> None:
        if self.runtime is not None:
            await self.runtime.stop()
            await self.runtime.ctx.db.dispose()
            self.runtime = None


def make_env(root: Path, emulator: Emulator, mail: MailCatcher) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TSO_")}
    env.update(
        {
            "TSO_TELEGRAM_TOKEN": emulator.token,
            "TSO_TELEGRAM_API_URL": emulator.base_url,
            "TSO_DATABASE_URL": f"sqlite+aiosqlite:///{root / 'tso_bot.sqlite3'}",
            "TSO_CALENDAR": str(root / "calendar.toml"),
            "TSO_SMTP_HOST": mail.host,
            "TSO_SMTP_PORT": str(mail.port),
            "TSO_MAIL_FROM": "orientation@college-jean-moulin.example",
        }
    )
    return env


def texts(messages: list[MessageRecord]) -> str:
    return "\n---\n".join(m.text for m in messages)
