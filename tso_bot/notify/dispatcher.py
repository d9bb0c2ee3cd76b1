"""The outbox dispatcher: claims due rows, renders them, sends them, records the result.

Claiming takes a short lease (`claimed_until`) in its own transaction, with
`FOR UPDATE SKIP LOCKED` so that several dispatchers on PostgreSQL never take the same row
(SQLite ignores the clause; there, one dispatcher runs). A dispatcher that dies leaves
leases that expire, and the rows are taken again.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, update
from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from tso_bot.notify.email import SmtpMailer, build_email
from tso_bot.notify.ratelimit import RateLimiter
from tso_bot.notify.render import render
from tso_bot.services.context import AppContext
from tso_bot.services.journal import enqueue
from tso_bot.store.models import OutboxMessage, Person

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 12


@dataclass(frozen=True)
class Job:
    id: int
    key: str
    kind: str
    channel: str
    params: dict[str, object]
    attempts: int
    person_id: int
    chat_id: int | None
    email: str | None
    locale: str


class PermanentFailure(Exception):
    """Not worth retrying (a 400 from Telegram: a bug of ours)."""


class Unreachable(Exception):
    """The person blocked the bot or never started it: fall back to e-mail."""


class Dispatcher:
    def __init__(
        self,
        ctx: AppContext,
        *,
        bot: Bot | None,
        mailer: SmtpMailer | None,
        batch_size: int = 100,
        poll_interval: float = 1.0,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.ctx = ctx
        self.bot = bot
        self.mailer = mailer
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.limiter = limiter or RateLimiter()

    # -- claiming -------------------------------------------------------------------------
    async def claim(self) -> list[Job]:
        now = self.ctx.clock.now()
        async with self.ctx.db.transaction() as s:
            ids = list(
                await s.scalars(
                    select(OutboxMessage.id)
                    .where(
                        OutboxMessage.status == "pending",
                        OutboxMessage.not_before <= now,
                        or_(
                            OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now
                        ),
                    )
                    .order_by(OutboxMessage.id)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            )
            if not ids:
                return []
            await s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids))
                .values(claimed_until=now + LEASE)
            )
            rows = await s.execute(
                select(OutboxMessage, Person)
                .join(Person, Person.id == OutboxMessage.person_id)
                .where(OutboxMessage.id.in_(ids))
                .order_by(OutboxMessage.id)
            )
            return [
                Job(
                    m.id,
                    m.key,
                    m.kind,
                    m.channel,
                    dict(m.params),
                    m.attempts,
                    p.id,
                    p.chat_id,
                    p.email,
                    p.locale,
                )
                for m, p in rows
            ]

    # -- outcomes -------------------------------------------------------------------------
    async def _finish(self, job: Job, status: str, error: str | None = None) -> None:
        now = self.ctx.clock.now()
        async with self.ctx.db.transaction() as s:
            await s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == job.id)
                .values(
                    status=status,
                    sent_at=now if status == "sent" else None,
                    claimed_until=None,
                    attempts=job.attempts + 1,
                    last_error=error,
                )
            )

    async def _retry_later(self, job: Job, error: str, delay: float | None = None) -> None:
        attempts = job.attempts + 1
        if attempts >= MAX_ATTEMPTS:
            log.error(
                "outbox %s (%s) given up after %s attempts: %s", job.id, job.kind, attempts, error
            )
            await self._finish(job, "failed", error)
            return
        if delay is None:  # exponential backoff with full jitter, capped at 30 minutes
            delay = random.uniform(0, min(1800.0, 2.0**attempts))
        now = self.ctx.clock.now()
        async with self.ctx.db.transaction() as s:
            await s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == job.id)
                .values(
                    attempts=attempts,
                    claimed_until=None,
                    last_error=error,
                    not_before=now + timedelta(seconds=delay),
                )
            )

    async def _fall_back_to_email(self, job: Job) -> None:
        """Mark the chat unreachable and queue the same message by e-mail instead."""
        now = self.ctx.clock.now()
        async with self.ctx.db.transaction() as s:
            person = await s.get_one(Person, job.person_id)
            person.telegram_reachable = False
            await s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == job.id)
                .values(status="unreachable", claimed_until=None, attempts=job.attempts + 1)
            )
            if person.email:
                await enqueue(
                    s,
                    key=f"{job.key}:fallback",
                    kind=job.kind,
                    person=person,
                    channel="email",
                    params=job.params,
                    at=now,
                )
        log.info("outbox %s: chat unreachable, falling back to e-mail", job.id)

    # -- sending --------------------------------------------------------------------------
    async def _send_telegram(self, job: Job) -> None:
        if self.bot is None or job.chat_id is None:
            raise Unreachable
        rendered = render(job.kind, job.params, job.locale, self.ctx.calendar.timezone)
        await self.limiter.acquire(job.chat_id)
        try:
            await self.bot.send_message(
                job.chat_id, rendered.telegram_html, parse_mode=ParseMode.HTML
            )
        except Forbidden as exc:
            raise Unreachable from exc
        except BadRequest as exc:
            if "chat not found" in exc.message.lower():
                raise Unreachable from exc
            raise PermanentFailure(exc.message) from exc

    async def process(self, jobs: list[Job]) -> int:
        sent = 0
        emails = [j for j in jobs if j.channel == "email"]
        for job in (j for j in jobs if j.channel == "telegram"):
            sent += await self._process_telegram(job)
        if emails:
            sent += await self._process_emails(emails)
        return sent

    async def _process_telegram(self, job: Job) -> int:
        try:
            await self._send_telegram(job)
        except Unreachable:
            await self._fall_back_to_email(job)
            return 0
        except RetryAfter as exc:
            retry = exc.retry_after
            seconds = retry.total_seconds() if isinstance(retry, timedelta) else float(retry)
            self.limiter.pause(seconds)
            await self._retry_later(job, "retry_after", delay=seconds)
            return 0
        except PermanentFailure as exc:
            log.error("outbox %s (%s) parked: Telegram refused it: %s", job.id, job.key, exc)
            await self._finish(job, "parked", str(exc))
            return 0
        except (TimedOut, NetworkError) as exc:
            await self._retry_later(job, f"network: {exc}")
            return 0
        await self._finish(job, "sent")
        log.info("outbox %s sent (%s, telegram)", job.id, job.kind)
        return 1

    async def _process_emails(self, jobs: list[Job]) -> int:
        if self.mailer is None:
            for job in jobs:
                await self._retry_later(job, "no mailer configured")
            return 0
        sent = 0
        try:
            async with self.mailer.connection() as smtp:
                for job in jobs:
                    if not job.email:
                        await self._finish(job, "failed", "no e-mail address")
                        continue
                    rendered = render(job.kind, job.params, job.locale, self.ctx.calendar.timezone)
                    message = build_email(
                        rendered,
                        to=job.email,
                        sender=self.mailer.sender,
                        at=self.ctx.clock.now(),
                        key=job.key,
                    )
                    await smtp.send_message(message)
                    await self._finish(job, "sent")
                    log.info("outbox %s sent (%s, email)", job.id, job.kind)
                    sent += 1
        except Exception as exc:  # any SMTP or network fault: keep the rows, retry later
            log.warning("SMTP unavailable (%s); e-mails will be retried", type(exc).__name__)
            async with self.ctx.db.transaction() as s:
                pending = await s.scalars(
                    select(OutboxMessage.id).where(
                        OutboxMessage.id.in_([j.id for j in jobs]),
                        OutboxMessage.status == "pending",
                    )
                )
                still = set(pending)
            for job in jobs:
                if job.id in still:
                    await self._retry_later(job, f"smtp: {type(exc).__name__}")
        return sent

    async def run_once(self) -> int:
        return await self.process(await self.claim())

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                done = await self.run_once()
            except Exception:
                log.exception("dispatcher pass failed; retrying")
                done = 0
            if done:
                continue
            self.ctx.outbox_event.clear()
            waiters = [
                asyncio.ensure_future(stop.wait()),
                asyncio.ensure_future(self.ctx.outbox_event.wait()),
            ]
            await asyncio.wait(
                waiters, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED
            )
            for w in waiters:
                w.cancel()
