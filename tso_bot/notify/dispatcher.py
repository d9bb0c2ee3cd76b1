"""The outbox dispatcher: claims due rows, sends them, records each outcome at once.

Claiming takes a lease (`claimed_until`) in its own short transaction, with
`FOR UPDATE SKIP LOCKED`, so several dispatchers on PostgreSQL never take the same row
(SQLite ignores the clause; there, one dispatcher runs). Leases are renewed while rows are
being sent; a dispatcher that dies leaves leases that expire, and another (or the restarted
one) takes the rows again. `run_forever` claims more as soon as fewer than half a batch is
in progress, so that neither a slow chat nor the end of a batch leaves the rate unused.

Telegram: one lane per chat (its messages in order, one per `per_chat_interval`), lanes
side by side up to `concurrency` requests in flight, and one `RateLimiter` for Telegram's
30 messages a second. A RetryAfter pauses new sends for exactly the time asked; 5xx and
timeouts are retried later with exponential backoff and jitter; 403 marks the person
unreachable and queues the same message by e-mail; any other 400 is a bug of ours: the row
is parked and logged with its key, never retried.

E-mail: one SMTP connection per batch; a server that is down or answers 4xx gets the rows
back with backoff (and all of them at once when it answers again); a 5xx for a message
fails that message only.

Exactly once. Neither Telegram nor SMTP takes an idempotency key, so a message whose
request reached the server but whose outcome was not yet committed when the process died
is sent again: at-least-once, never lost. The window is kept small: each outcome is
committed as soon as its answer arrives (`GroupCommit`), and `sending_at` is committed
just before each request, so that such rows are logged as "in doubt" when taken again.
An e-mail's Message-ID derives from the outbox key, so a repeat is recognisable. A
Telegram timeout is the same ambiguity (the message may have gone out): it is retried.

Reminders carry an expiry (their window's close) and `quiet_hours`: the dispatcher drops
them once expired, holds them while quiet hours last, and drops a before-close reminder
whose step has been done since it was planned, however late it runs. Rows without an
expiry (what someone just did) go before the reminders' backlog.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter, defaultdict, deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiosmtplib
from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from tso_bot.domain.reminders import defer_quiet, in_quiet_hours
from tso_bot.notify.email import SmtpMailer, build_email
from tso_bot.notify.planner import insert_outbox_rows, obsolete_reminders
from tso_bot.notify.ratelimit import RateLimiter
from tso_bot.notify.render import Rendered, render
from tso_bot.services.context import AppContext
from tso_bot.store.db import Database
from tso_bot.store.models import OutboxMessage, Person

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=30)
# Transient failures (network, 5xx, SMTP down) are retried this long, then the row fails:
# a recap is still worth sending after a day-long outage, hardly after three.
MAX_AGE = timedelta(days=3)
BACKOFF_BASE = 2.0  # seconds, doubled at each attempt...
BACKOFF_CAP = 900.0  # ...up to 15 minutes
# A RetryAfter is retried in place this many times before the row goes back to the table.
RETRY_AFTER_TRIES = 3
# SMTP 421: "service not available, closing channel" - the connection is gone, not the mail.
SMTP_CLOSING = 421


def backoff(attempts: int) -> float:
    """Seconds before attempt `attempts + 1`: exponential, capped, with "equal jitter" (half
    fixed, half random) so that rows failed together do not all come back together."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** max(0, attempts - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


@dataclass(frozen=True)
class Job:
    id: int
    key: str
    kind: str
    channel: str
    params: dict[str, Any]
    attempts: int
    person_id: int
    chat_id: int | None
    email: str | None
    locale: str
    created_at: datetime
    expires_at: datetime | None = None
    quiet_hours: bool = False


class GroupCommit:
    """Commits the dispatcher's outbox updates as they come, several per transaction under
    load, one writer at a time.

    Every message costs two writes (in flight, then its outcome), each of which must be
    committed before the caller goes on. Concurrent lanes would otherwise each wait for a
    transaction of their own (on SQLite, for the one write lock): that waiting is time in
    which a sent message is not yet recorded as sent. Here whatever is queued while one
    transaction commits goes in the next one: no added delay when idle, far fewer commits
    when busy. All of a dispatcher's writes to its claimed rows (lease renewals too) go
    through here, rows in id order, so that they never deadlock one another on PostgreSQL;
    a transaction that fails all the same (deadlock with someone else, lost connection) is
    retried before its writers hear of it.
    """

    RETRIES = 3

    def __init__(self, db: Database) -> None:
        self.db = db
        self._queue: list[_Write] = []
        self._flusher: asyncio.Task[None] | None = None

    async def write(self, row_id: int, values: dict[str, Any]) -> None:
        """Update one outbox row; returns once committed."""
        await self._submit(_Write(row_id, values))

    async def execute(self, statement: Any) -> None:
        """Run any statement in the same stream of transactions."""
        await self._submit(_Write(None, {}, statement))

    async def _submit(self, item: _Write) -> None:
        self._queue.append(item)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await item.future

    async def _flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            error = await self._commit(batch)
            for item in batch:
                if item.future.done():
                    continue
                if error is None:
                    item.future.set_result(None)
                else:
                    item.future.set_exception(error)

    async def _commit(self, batch: Sequence[_Write]) -> Exception | None:
        for attempt in range(1, self.RETRIES + 1):
            try:
                async with self.db.engine.begin() as conn:
                    for statement, params in _grouped_updates(batch):
                        await conn.execute(statement, params)
                    for item in batch:
                        if item.statement is not None:
                            await conn.execute(item.statement)
            except DBAPIError as exc:
                if attempt == self.RETRIES:
                    return exc
                log.warning("outbox writes failed (%s); retrying", type(exc.orig).__name__)
                await asyncio.sleep(0.05 * attempt)
            except Exception as exc:
                return exc
            else:
                return None
        raise AssertionError("unreachable")


@dataclass
class _Write:
    row_id: int | None
    values: dict[str, Any]
    statement: Any = None
    future: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


def _grouped_updates(batch: Sequence[_Write]) -> Iterator[tuple[Any, list[dict[str, Any]]]]:
    """One executemany UPDATE per shape of values, rows in id order (the later write of a
    row wins)."""
    latest: dict[int, dict[str, Any]] = {}
    for item in batch:
        if item.row_id is not None:
            latest[item.row_id] = {**latest.get(item.row_id, {}), **item.values}
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row_id in sorted(latest):
        values = latest[row_id]
        shape = tuple(sorted(values))
        shapes[shape].append({"row_id": row_id, **{f"v_{k}": v for k, v in values.items()}})
    for shape, params in shapes.items():
        statement = (
            update(OutboxMessage)
            .where(OutboxMessage.id == bindparam("row_id"))
            .values({k: bindparam(f"v_{k}") for k in shape})
        )
        yield statement, params


class DispatchStats(Counter[str]):
    """Outcomes since start: sent, retried, parked, failed, expired, held, unreachable,
    in_doubt, retry_after. For tests, benchmarks and the logs."""


class Dispatcher:
    def __init__(
        self,
        ctx: AppContext,
        *,
        bot: Bot | None,
        mailer: SmtpMailer | None,
        batch_size: int = 200,
        poll_interval: float = 1.0,
        limiter: RateLimiter | None = None,
        concurrency: int = 32,
        lease: timedelta = LEASE,
    ) -> None:
        self.ctx = ctx
        self.bot = bot
        self.mailer = mailer
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.limiter = limiter or RateLimiter()
        self.lease = lease
        self.stats = DispatchStats()
        self._requests = asyncio.Semaphore(concurrency)
        self._unfinished: set[int] = set()
        self._writes = GroupCommit(ctx.db)
        self._lanes: dict[int, deque[Job]] = {}
        self._mail_queue: list[Job] = []
        self._mailing: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._progress = asyncio.Event()  # set whenever a row gets its outcome
        self._stopping = False
        self._smtp_down = False  # the last connection attempt failed

    # -- claiming -------------------------------------------------------------------------
    async def claim(self) -> list[Job]:
        """Lease a batch of due rows; rows that must not go now are settled on the way."""
        now = self.ctx.clock.now()
        async with self.ctx.db.transaction() as s:
            rows = list(
                await s.scalars(
                    select(OutboxMessage)
                    .where(
                        OutboxMessage.status == "pending",
                        OutboxMessage.not_before <= now,
                        or_(
                            OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now
                        ),
                        # Our own rows in progress, even if the clock jumped past their
                        # lease (a simulated clock, a machine waking from suspend).
                        OutboxMessage.id.not_in(sorted(self._unfinished)),
                    )
                    # Messages about someone's action go before bulk reminders (the rows
                    # with an expiry), whose backlog may last half an hour at 30/s.
                    .order_by(
                        OutboxMessage.expires_at.is_not(None),
                        OutboxMessage.not_before,
                        OutboxMessage.id,
                    )
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            )
            if not rows:
                return []
            await s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_([r.id for r in rows]))
                .values(claimed_until=now + self.lease)
            )
            self._note_in_doubt(rows)
            rows = await self._settle_unsendable(s, rows, now)
            people = {
                p.id: p
                for p in await s.scalars(
                    select(Person).where(Person.id.in_({r.person_id for r in rows}))
                )
            }
        jobs = [self._job(r, people[r.person_id]) for r in rows]
        self._unfinished.update(j.id for j in jobs)
        return jobs

    @staticmethod
    def _job(m: OutboxMessage, p: Person) -> Job:
        return Job(
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
            m.created_at,
            m.expires_at,
            m.quiet_hours,
        )

    def _note_in_doubt(self, rows: Sequence[OutboxMessage]) -> None:
        doubtful = [r.id for r in rows if r.sending_at is not None]
        if doubtful:
            self.stats["in_doubt"] += len(doubtful)
            log.warning(
                "outbox %s: in flight when a dispatcher stopped; sending again (may arrive twice)",
                ", ".join(map(str, doubtful)),
            )

    async def _settle_unsendable(
        self, s: AsyncSession, rows: list[OutboxMessage], now: datetime
    ) -> list[OutboxMessage]:
        """Expire, hold or drop, in bulk, what must not go now; return the rest."""
        obsolete = await obsolete_reminders(s, rows)
        expired = [r.id for r in rows if r.id not in obsolete and _expired(r.expires_at, now)]
        held = [
            r
            for r in rows
            if r.id not in obsolete and r.id not in expired and r.quiet_hours and self._quiet(now)
        ]
        for ids, reason in ((obsolete, "step done"), (expired, "window closed")):
            if ids:
                await s.execute(self._expire_statement(ids, reason))
                self.stats["expired"] += len(ids)
                log.info("outbox %s expired: %s", ", ".join(map(str, sorted(ids))), reason)
        if held:
            until = self._quiet_end(now)
            await s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_([r.id for r in held]))
                .values(not_before=until, claimed_until=None)
            )
            self.stats["held"] += len(held)
        settled = set(obsolete) | set(expired) | {r.id for r in held}
        return [r for r in rows if r.id not in settled]

    @staticmethod
    def _expire_statement(ids: Iterable[int], reason: str) -> Any:
        return (
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(list(ids)))
            .values(status="expired", claimed_until=None, sending_at=None, last_error=reason)
        )

    # -- quiet hours ------------------------------------------------------------------------
    def _quiet(self, now: datetime) -> bool:
        return in_quiet_hours(now, self.ctx.calendar.timezone, self.ctx.calendar.reminders)

    def _quiet_end(self, now: datetime) -> datetime:
        return defer_quiet(now, self.ctx.calendar.timezone, self.ctx.calendar.reminders)

    async def _must_wait(self, job: Job) -> bool:
        """Re-checked just before sending (a batch may run into the night or past a close):
        True if the job was expired or put back until quiet hours end."""
        now = self.ctx.clock.now()
        if _expired(job.expires_at, now):
            await self._finish(job, "expired", "window closed")
            return True
        if job.quiet_hours and self._quiet(now):
            until = self._quiet_end(now)
            if _expired(job.expires_at, until):
                await self._finish(job, "expired", "window closes during quiet hours")
            else:
                await self._release(job, not_before=until)
                self.stats["held"] += 1
            return True
        return False

    # -- outcomes -------------------------------------------------------------------------
    async def _write(self, job: Job, **values: Any) -> None:
        """One row's update, committed before this returns (see `GroupCommit`)."""
        await self._writes.write(job.id, values)

    async def _update(self, job: Job, **values: Any) -> None:
        await self._write(job, **values)
        self._done_with(job.id)

    async def _mark_sending(self, job: Job) -> None:
        """Committed just before the request: if we die before the outcome is recorded,
        whoever takes the row again knows it may already have been delivered."""
        await self._write(job, sending_at=self.ctx.clock.now())

    async def _finish(self, job: Job, status: str, error: str | None = None) -> None:
        now = self.ctx.clock.now()
        await self._update(
            job,
            status=status,
            sent_at=now if status == "sent" else None,
            claimed_until=None,
            sending_at=None,
            attempts=job.attempts + 1,
            last_error=error,
        )
        self.stats[status] += 1

    async def _release(self, job: Job, *, not_before: datetime) -> None:
        await self._update(job, claimed_until=None, sending_at=None, not_before=not_before)

    async def _retry_later(self, job: Job, error: str, delay: float | None = None) -> None:
        now = self.ctx.clock.now()
        attempts = job.attempts + 1
        if now - job.created_at > MAX_AGE:
            log.error("outbox %s (%s) failed, given up: %s", job.id, job.kind, error)
            await self._finish(job, "failed", error)
            return
        wait = backoff(attempts) if delay is None else delay
        await self._update(
            job,
            attempts=attempts,
            claimed_until=None,
            sending_at=None,
            last_error=error,
            not_before=now + timedelta(seconds=wait),
        )
        self.stats["retried"] += 1
        log.info("outbox %s (%s): %s; retry in %.1f s", job.id, job.kind, error, wait)

    async def _fall_back_to_email(self, job: Job, reason: str) -> None:
        """Mark the chat unreachable and queue the same message by e-mail instead."""
        now = self.ctx.clock.now()
        async with self.ctx.db.transaction() as s:
            person = await s.get_one(Person, job.person_id)
            person.telegram_reachable = False
            await s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == job.id)
                .values(
                    status="unreachable",
                    claimed_until=None,
                    sending_at=None,
                    attempts=job.attempts + 1,
                    last_error=reason,
                )
            )
            queued = 0
            if person.email:
                queued = await insert_outbox_rows(s, [self._fallback_row(job, now)])
        self._done_with(job.id)
        self.stats["unreachable"] += 1
        log.info(
            "outbox %s: Telegram unreachable (%s); %s",
            job.id,
            reason,
            "falling back to e-mail" if queued else "no e-mail to fall back to",
        )
        self.ctx.outbox_changed()

    @staticmethod
    def _fallback_row(job: Job, now: datetime) -> dict[str, Any]:
        return {
            "key": f"{job.key}:fallback",
            "kind": job.kind,
            "channel": "email",
            "person_id": job.person_id,
            "params": job.params,
            "status": "pending",
            "attempts": 0,
            "not_before": now,
            "created_at": now,
            "expires_at": job.expires_at,
            "quiet_hours": job.quiet_hours,
        }

    async def _park(self, job: Job, error: str) -> None:
        log.error("outbox %s (%s) parked, not retried: %s", job.id, job.key, error)
        await self._finish(job, "parked", error)

    # -- rendering --------------------------------------------------------------------------
    def _render(self, job: Job) -> Rendered:
        return render(job.kind, job.params, job.locale, self.ctx.calendar.timezone)

    # -- Telegram ---------------------------------------------------------------------------
    def _to_lane(self, job: Job, chat_id: int) -> None:
        """Queue a message behind the chat's earlier ones; start the chat's lane if idle."""
        lane = self._lanes.get(chat_id)
        if lane is not None:
            lane.append(job)
            return
        self._lanes[chat_id] = deque([job])
        self._spawn(self._lane(chat_id))

    async def _lane(self, chat_id: int) -> None:
        """One chat's messages, in order. Waiting for the chat holds no request slot, so a
        chat with a queue delays only itself."""
        queue = self._lanes[chat_id]
        try:
            while queue:
                job = queue.popleft()
                if not self._stopping:
                    await self.limiter.wait_chat(chat_id)
                async with self._requests:
                    if self._stopping:
                        await self._guarded(self._hand_back(job), job)
                    else:
                        await self._guarded(self._deliver_telegram(job, chat_id), job)
        finally:
            del self._lanes[chat_id]

    async def _guarded(self, delivery: Awaitable[None], job: Job) -> None:
        try:
            await delivery
        except Exception:  # the row keeps its lease, which expires, and it comes back
            log.exception("outbox %s: unexpected failure", job.id)
            self._done_with(job.id)

    async def _deliver_telegram(self, job: Job, chat_id: int) -> None:
        assert self.bot is not None
        if await self._must_wait(job):
            return
        try:
            text = self._render(job).telegram_html
        except Exception as exc:  # a renderer bug or bad params: retrying cannot help
            await self._park(job, f"cannot render: {exc!r}")
            return
        for attempt in range(1, RETRY_AFTER_TRIES + 1):
            try:
                async with self.limiter.slot(chat_id):
                    # Marked once the slot is ours, right before the request: "in doubt"
                    # after a crash then means "was being sent", not "was waiting".
                    await self._mark_sending(job)
                    await self.bot.send_message(chat_id, text, parse_mode=ParseMode.HTML)
            except RetryAfter as exc:
                seconds = _seconds(exc.retry_after)
                self.stats["retry_after"] += 1
                self.limiter.pause(seconds)
                log.warning("Telegram asks to wait %.0f s (outbox %s)", seconds, job.id)
                if attempt == RETRY_AFTER_TRIES:
                    await self._retry_later(job, "retry_after", delay=seconds)
                    return
            except TelegramError as exc:
                await self._telegram_failed(job, exc)
                return
            else:
                await self._finish(job, "sent")
                log.info("outbox %s sent (%s, telegram)", job.id, job.kind)
                return

    async def _telegram_failed(self, job: Job, exc: TelegramError) -> None:
        if isinstance(exc, Forbidden):
            await self._fall_back_to_email(job, "blocked")
        elif isinstance(exc, BadRequest):
            if "chat not found" in exc.message.lower():
                await self._fall_back_to_email(job, "chat not found")
            else:
                await self._park(job, f"Telegram refused it: {exc.message}")
        elif isinstance(exc, TimedOut):
            await self._retry_later(job, "timed out (it may have been delivered)")
        elif isinstance(exc, NetworkError):
            await self._retry_later(job, f"network: {exc.message}")
        else:  # InvalidToken, Conflict...: a deployment problem, worth retrying once fixed
            log.error("outbox %s: Telegram error %s", job.id, type(exc).__name__)
            await self._retry_later(job, f"telegram: {exc.message}")

    # -- e-mail -----------------------------------------------------------------------------
    async def _mail_worker(self) -> None:
        """Sends what is queued for e-mail, a batch per SMTP connection, until none is left."""
        while self._mail_queue:
            batch, self._mail_queue = self._mail_queue, []
            if self._stopping:
                for job in batch:
                    await self._guarded(self._hand_back(job), job)
                continue
            try:
                await self._send_emails(batch)
            except Exception:
                log.exception("e-mail batch failed unexpectedly")
                for job in batch:
                    self._done_with(job.id)

    async def _send_emails(self, jobs: Sequence[Job]) -> None:
        ready = [job for job in jobs if not await self._must_wait(job)]
        if not ready:
            return
        if self.mailer is None:
            for job in ready:
                await self._retry_later(job, "no mailer configured")
            return
        done: set[int] = set()
        try:
            async with self.mailer.connection() as smtp:
                if self._smtp_down:
                    await self._smtp_is_back()
                for job in ready:
                    await self._deliver_email(smtp, job)
                    done.add(job.id)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            self._smtp_down = True
            left = [job for job in ready if job.id not in done]
            log.warning(
                "SMTP unavailable (%s); %d e-mail(s) will be retried", type(exc).__name__, len(left)
            )
            for job in left:
                await self._retry_later(job, f"smtp: {type(exc).__name__}")

    async def _smtp_is_back(self) -> None:
        """The server answers again: what waits for it need not wait out its backoff (which
        grew while the server was down), so it is all made due now."""
        self._smtp_down = False
        now = self.ctx.clock.now()
        try:
            async with self.ctx.db.transaction() as s:
                result = await s.execute(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.status == "pending",
                        OutboxMessage.channel == "email",
                        OutboxMessage.last_error.like("smtp: %"),
                        OutboxMessage.not_before > now,
                        OutboxMessage.claimed_until.is_(None),
                    )
                    .values(not_before=now)
                )
        except DBAPIError:  # only a shortcut: the rows come back after their backoff anyway
            log.warning("could not bring the waiting e-mails forward", exc_info=True)
            return
        count = getattr(result, "rowcount", 0)
        log.info("SMTP server answers again; %d waiting e-mail(s) made due now", count)
        self.ctx.outbox_changed()

    async def _deliver_email(self, smtp: aiosmtplib.SMTP, job: Job) -> None:
        """Send one e-mail on the batch's connection; a connection failure propagates."""
        assert self.mailer is not None
        if not job.email:
            await self._finish(job, "unreachable", "no e-mail address")
            return
        try:
            message = build_email(
                self._render(job),
                to=job.email,
                sender=self.mailer.sender,
                at=self.ctx.clock.now(),
                key=job.key,
            )
        except Exception as exc:
            await self._park(job, f"cannot render: {exc!r}")
            return
        await self._mark_sending(job)
        try:
            await smtp.send_message(message)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            await self._smtp_refused(job, min(r.code for r in exc.recipients))
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code == SMTP_CLOSING:
                raise
            await self._smtp_refused(job, exc.code)
        else:
            await self._finish(job, "sent")
            log.info("outbox %s sent (%s, email)", job.id, job.kind)

    async def _smtp_refused(self, job: Job, code: int) -> None:
        if code >= 500:  # permanent for this message (e.g. no such mailbox)
            log.error("outbox %s: SMTP refused it for good (%d)", job.id, code)
            await self._finish(job, "failed", f"smtp {code}")
        else:
            await self._retry_later(job, f"smtp {code}")

    # -- passes -----------------------------------------------------------------------------
    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def start(self, jobs: Sequence[Job]) -> None:
        """Hand claimed jobs to their lanes (Telegram, one per chat) or to the e-mail queue;
        they are sent in the background while more are claimed."""
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = asyncio.create_task(self._keep_leases())
        for job in jobs:
            if job.channel != "telegram":
                self._mail_queue.append(job)
            elif self.bot is None or job.chat_id is None:
                self._spawn(self._guarded(self._fall_back_to_email(job, "not linked"), job))
            else:
                self._to_lane(job, job.chat_id)
        if self._mail_queue and (self._mailing is None or self._mailing.done()):
            self._mailing = asyncio.create_task(self._mail_worker())
            self._tasks.add(self._mailing)
            self._mailing.add_done_callback(self._tasks.discard)

    def _done_with(self, job_id: int) -> None:
        self._unfinished.discard(job_id)
        self._progress.set()

    async def _wait_until(self, done: Callable[[], bool]) -> None:
        while not done():
            self._progress.clear()
            await self._progress.wait()

    async def process(self, jobs: Sequence[Job]) -> None:
        """Send a claimed batch and wait until each of its rows has an outcome."""
        ids = {j.id for j in jobs}
        self.start(jobs)
        await self._wait_until(lambda: not ids & self._unfinished)

    async def _hand_back(self, job: Job) -> None:
        """Stopping: give a claimed, unsent row back at once rather than at lease expiry."""
        await self._update(job, claimed_until=None)

    async def _keep_leases(self) -> None:
        period = self.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(period)
            ids = sorted(self._unfinished)
            if not ids:
                continue
            try:
                await self._writes.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(ids), OutboxMessage.status == "pending")
                    .values(claimed_until=self.ctx.clock.now() + self.lease)
                )
            except Exception:  # the next beat tries again; a lease is several beats long
                log.exception("could not renew the leases of outbox rows being sent")

    async def run_once(self) -> int:
        """Claim one batch and send it; returns how many rows were claimed."""
        jobs = await self.claim()
        if jobs:
            await self.process(jobs)
        return len(jobs)

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Keep the lanes fed: claim more whenever fewer than half a batch is in progress,
        so that a slow chat or the end of a batch never leaves the rate unused."""
        try:
            while not stop.is_set():
                claimed = 0
                if len(self._unfinished) <= self.batch_size // 2:
                    try:
                        jobs = await self.claim()
                    except Exception:
                        log.exception("dispatcher pass failed; retrying")
                        jobs = []
                    self.start(jobs)
                    claimed = len(jobs)
                if not claimed:
                    await self._idle(stop)
        finally:
            await self.shutdown()

    async def _idle(self, stop: asyncio.Event) -> None:
        """Until a row is done, a new one is queued, the poll interval passes, or stop."""
        self.ctx.outbox_event.clear()
        self._progress.clear()
        waiters = [
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(self.ctx.outbox_event.wait()),
            asyncio.ensure_future(self._progress.wait()),
        ]
        await asyncio.wait(waiters, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()

    async def shutdown(self) -> None:
        """Finish the requests in flight, hand the other claimed rows back."""
        self._stopping = True
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        self._stopping = False


def _expired(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is not None and now >= expires_at


def _seconds(retry_after: int | timedelta) -> float:
    return retry_after.total_seconds() if isinstance(retry_after, timedelta) else float(retry_after)
