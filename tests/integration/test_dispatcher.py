"""The dispatcher against the Bot API emulator's fault switches and a real SMTP server:
every message arrives exactly once (Telegram 429, 5xx, slow answers, 403; SMTP down)."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from telegram import Bot
from telegram.request import HTTPXRequest

from tests.support import paris
from tso_bot.clock import SimulatedClock
from tso_bot.config import Settings
from tso_bot.i18n import Translator
from tso_bot.notify.dispatcher import Dispatcher
from tso_bot.notify.email import SmtpMailer
from tso_bot.notify.planner import insert_outbox_rows
from tso_bot.notify.ratelimit import RateLimiter
from tso_bot.notify.render import Rendered, renderer
from tso_bot.sandbox.emulator import Emulator, FakeUser
from tso_bot.sandbox.mailcatcher import MailCatcher
from tso_bot.services.context import AppContext
from tso_bot.store.models import OutboxMessage, Person

TOKEN = "123456:DISPATCH-TOKEN"
NOTE = re.compile(r"note #(\d+)")


# --- Shared material (also used by the other test_dispatcher* modules) ---------------------


@renderer("test_note")
def _note(_: Translator, p: Mapping[str, Any], tz: ZoneInfo) -> Rendered:
    """A numbered message, so that every delivery can be told apart from every other.
    (Registered for the whole session: tests that render every kind render this one too.)"""
    n = p.get("n", 0)
    return Rendered(f"Note {n}", (p.get("html") or f"note #{n}",))


async def add_people(
    ctx: AppContext, users: Iterable[FakeUser | None], *, emails: bool = True
) -> list[int]:
    """One guardian per user (None: not on Telegram); returns their person ids."""
    now = ctx.clock.now()
    async with ctx.db.transaction() as s:
        people = [
            Person(
                role="guardian",
                nom=f"Nom{i}",
                prenom=f"Prénom{i}",
                email=f"g{i}@example.org" if emails else None,
                chat_id=user.id if user else None,
                telegram_reachable=True,
                locale="fr",
                created_at=now,
            )
            for i, user in enumerate(users)
        ]
        s.add_all(people)
        await s.flush()
        return [p.id for p in people]


def note_row(n: int, person_id: int, now: datetime, channel: str = "telegram") -> dict[str, Any]:
    return {
        "key": f"note:{n}",
        "kind": "test_note",
        "channel": channel,
        "person_id": person_id,
        "params": {"n": n},
        "status": "pending",
        "attempts": 0,
        "not_before": now,
        "created_at": now,
    }


async def queue(ctx: AppContext, rows: list[dict[str, Any]]) -> None:
    async with ctx.db.transaction() as s:
        assert await insert_outbox_rows(s, rows) == len(rows)


async def statuses(ctx: AppContext) -> Counter[str]:
    async with ctx.db.transaction() as s:
        rows = await s.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        )
        return Counter({status: count for status, count in rows.all()})


async def drain(dispatcher: Dispatcher, clock: SimulatedClock, *, limit: int = 500) -> None:
    """Run passes until nothing is pending, jumping the simulated clock to the next retry
    instead of waiting for it."""
    ctx = dispatcher.ctx
    for _ in range(limit):
        if await dispatcher.run_once():
            continue
        async with ctx.db.transaction() as s:
            next_due = await s.scalar(
                select(func.min(OutboxMessage.not_before)).where(OutboxMessage.status == "pending")
            )
        if next_due is None:
            return
        if next_due > clock.now():
            clock.set(next_due + timedelta(milliseconds=1))
    raise AssertionError("the outbox did not drain")


def delivered(emu: Emulator, users: Iterable[FakeUser]) -> Counter[int]:
    """How many times each note number reached a chat."""
    counts: Counter[int] = Counter()
    for user in users:
        for message in emu.bot_messages(user.id):
            if match := NOTE.search(message.text):
                counts[int(match[1])] += 1
    return counts


def started_users(emu: Emulator, count: int) -> list[FakeUser]:
    users = [emu.add_user(f"U{i}") for i in range(count)]
    for user in users:
        user.started = True  # they opened the bot once: it may write to them
    return users


@dataclass
class Rig:
    ctx: AppContext
    clock: SimulatedClock
    emu: Emulator
    mail: MailCatcher
    bot: Bot

    def mailer(self) -> SmtpMailer:
        return SmtpMailer(
            Settings(
                smtp_host=self.mail.host,
                smtp_port=self.mail.port,
                mail_from="orientation@college.example",
            ),
            timeout=5,
        )

    def dispatcher(self, **kwargs: Any) -> Dispatcher:
        kwargs.setdefault("limiter", RateLimiter(per_second=1000, per_chat_interval=0))
        return Dispatcher(self.ctx, bot=self.bot, mailer=self.mailer(), **kwargs)


def make_bot(emu: Emulator, read_timeout: float = 5.0) -> Bot:
    return Bot(
        emu.token,
        base_url=emu.base_url,
        request=HTTPXRequest(connection_pool_size=64, read_timeout=read_timeout),
    )


@pytest.fixture
async def rig(ctx: AppContext, clock: SimulatedClock) -> AsyncIterator[Rig]:
    emu = Emulator(TOKEN, clock=clock.now)
    await emu.start()
    mail = MailCatcher()
    await mail.start()
    bot = make_bot(emu)
    await bot.initialize()
    yield Rig(ctx, clock, emu, mail, bot)
    await bot.shutdown()
    await mail.stop()
    await emu.stop()


# --- Tests ------------------------------------------------------------------------------


async def test_every_fault_at_once_and_each_message_arrives_once(rig: Rig) -> None:
    emu, now = rig.emu, rig.clock.now()
    users = started_users(emu, 30)
    blocked = users[:3]
    for user in blocked:
        emu.block(user.id)
    people = await add_people(rig.ctx, users)
    await queue(rig.ctx, [note_row(n, people[n % 30], now) for n in range(90)])
    emu.faults.rate_limit(count=2, retry_after=1)
    emu.faults.server_error(count=4, status=502)
    emu.faults.server_error(count=3, status=500)
    emu.faults.delay(0.3, count=10)

    dispatcher = rig.dispatcher()
    await drain(dispatcher, rig.clock)

    counts = delivered(emu, users)
    blocked_notes = {n for n in range(90) if n % 30 < 3}
    assert set(counts) == set(range(90)) - blocked_notes
    assert set(counts.values()) == {1}
    # The blocked guardians got theirs by e-mail, once each, and are now known unreachable.
    mailed = Counter(m.subject for m in rig.mail.mails)
    assert set(mailed) == {f"Note {n}" for n in blocked_notes}
    assert set(mailed.values()) == {1}
    assert await statuses(rig.ctx) == {"sent": 90, "unreachable": 9}
    async with rig.ctx.db.transaction() as s:
        unreachable = await s.scalars(select(Person.id).where(~Person.telegram_reachable))
        assert sorted(unreachable) == people[:3]
    assert emu.stats.rate_limited == 2
    assert dispatcher.stats["retry_after"] == 2
    assert dispatcher.stats["retried"] == 7  # the 5xx, rescheduled with backoff


async def test_retry_after_pauses_sending_only_as_long_as_asked(rig: Rig) -> None:
    emu, now = rig.emu, rig.clock.now()
    users = started_users(emu, 5)
    people = await add_people(rig.ctx, users)
    await queue(rig.ctx, [note_row(n, people[n], now) for n in range(5)])
    emu.faults.rate_limit(count=1, retry_after=1)
    dispatcher = rig.dispatcher(concurrency=1)  # one request at a time: a clear timeline
    started = time.monotonic()
    await drain(dispatcher, rig.clock)
    # The first send got 429 "retry after 1": nothing went out for a second, then all.
    assert emu.stats.rate_limited == 1
    first, last = emu.stats.sent_times[0], emu.stats.sent_times[-1]
    assert 1.0 <= first - started < 1.3
    assert last - started < 1.6
    assert set(delivered(emu, users).values()) == {1} and len(delivered(emu, users)) == 5


async def test_a_bad_request_is_parked_and_logged_with_its_key(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    now = rig.clock.now()
    users = started_users(rig.emu, 2)
    people = await add_people(rig.ctx, users)
    bad = note_row(1, people[0], now) | {"params": {"n": 1, "html": "<blink>x</blink>"}}
    await queue(rig.ctx, [bad, note_row(2, people[1], now)])
    dispatcher = rig.dispatcher()
    with caplog.at_level(logging.INFO, logger="tso_bot.notify.dispatcher"):
        await drain(dispatcher, rig.clock)
    assert await statuses(rig.ctx) == {"parked": 1, "sent": 1}
    parked = [r for r in caplog.records if "parked" in r.getMessage()]
    assert len(parked) == 1 and "note:1" in parked[0].getMessage()
    assert rig.emu.stats.calls["sendMessage"] == 2  # tried once, never again
    # Logs name rows by id, never people by name or address.
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "Prénom" not in text and "@example.org" not in text


async def test_slow_answers_are_waited_for_and_sent_once(rig: Rig) -> None:
    emu, now = rig.emu, rig.clock.now()
    users = started_users(emu, 40)
    people = await add_people(rig.ctx, users)
    await queue(rig.ctx, [note_row(n, people[n], now) for n in range(40)])
    emu.faults.delay(1.0)  # every call takes a second
    started = time.monotonic()
    await drain(rig.dispatcher(), rig.clock)
    # Requests overlap: forty one-second calls take about one second, not forty.
    assert time.monotonic() - started < 4
    assert set(delivered(emu, users).values()) == {1}
    assert len(delivered(emu, users)) == 40


async def test_a_timeout_is_retried_with_backoff(rig: Rig) -> None:
    """A request that times out may have been delivered all the same (no idempotency key
    on Telegram): the dispatcher retries it, so it arrives at least once - here twice,
    because the emulator, like Telegram, delivers the slow request it had accepted."""
    emu, now = rig.emu, rig.clock.now()
    users = started_users(emu, 1)
    people = await add_people(rig.ctx, users)
    await queue(rig.ctx, [note_row(1, people[0], now)])
    emu.faults.delay(0.6, count=1)
    impatient = make_bot(emu, read_timeout=0.2)
    await impatient.initialize()
    try:
        dispatcher = Dispatcher(rig.ctx, bot=impatient, mailer=None, limiter=RateLimiter(1000, 0))
        await drain(dispatcher, rig.clock)
    finally:
        await impatient.shutdown()
    await asyncio.sleep(0.6)  # the slow request completes on the server side
    assert dispatcher.stats["retried"] == 1
    assert delivered(emu, users)[1] == 2
    async with rig.ctx.db.transaction() as s:
        row = await s.scalar(select(OutboxMessage))
        assert row is not None and row.status == "sent" and row.attempts == 2


async def test_smtp_down_for_the_first_minute(rig: Rig) -> None:
    """Recaps queued while the SMTP server is down are all delivered, once each, after it
    comes back; one connection carries a whole batch."""
    mail, clock = rig.mail, rig.clock
    port = mail.port
    await mail.stop()
    people = await add_people(rig.ctx, [None] * 40)
    start = clock.now()
    await queue(rig.ctx, [note_row(n, people[n], start, "email") for n in range(40)])
    dispatcher = rig.dispatcher()
    while clock.now() - start < timedelta(minutes=1):
        await dispatcher.run_once()
        clock.advance(timedelta(seconds=5))
    assert mail.mails == [] and await statuses(rig.ctx) == {"pending": 40}
    await mail.start(port=port)
    connections = mail.connections
    await drain(dispatcher, clock)
    await mail.wait_for(lambda m: len(m) >= 40)
    assert Counter(m.subject for m in mail.mails) == Counter(f"Note {n}" for n in range(40))
    assert mail.connections - connections <= 3  # retries come back in a few batches
    assert await statuses(rig.ctx) == {"sent": 40}
    assert clock.now() - start < timedelta(minutes=4)
    ids = {m.message["Message-ID"] for m in mail.mails}
    assert len(ids) == 40 and all("note.1" in i or "note" in i for i in ids)


async def test_mail_server_refusing_for_a_while(rig: Rig) -> None:
    """451 for every message (a server in trouble): retried later, delivered once."""
    people = await add_people(rig.ctx, [None] * 5)
    now = rig.clock.now()
    await queue(rig.ctx, [note_row(n, people[n], now, "email") for n in range(5)])
    rig.mail.refuse = True
    dispatcher = rig.dispatcher()
    await dispatcher.run_once()
    await dispatcher.run_once()
    assert rig.mail.mails == []
    rig.mail.refuse = False
    await drain(dispatcher, rig.clock)
    assert sorted(m.subject for m in rig.mail.mails) == [f"Note {n}" for n in range(5)]


async def test_per_chat_and_global_limits_without_blocking_other_chats(rig: Rig) -> None:
    """The emulator enforces 30/s and 1/s per chat: no 429, and a chat with a queue of
    messages does not hold the others back."""
    emu, now = rig.emu, rig.clock.now()
    emu.global_rate, emu.per_chat_rate = 30.0, 1.0
    users = started_users(emu, 41)
    busy, others = users[0], users[1:]
    people = await add_people(rig.ctx, users)
    rows = [note_row(n, people[0], now) for n in range(4)]
    rows += [note_row(100 + i, people[1 + i], now) for i in range(40)]
    await queue(rig.ctx, rows)
    dispatcher = rig.dispatcher(limiter=RateLimiter(30.0, 1.0))
    started = time.monotonic()
    task = asyncio.create_task(drain(dispatcher, rig.clock))
    # 40 other chats at 30/s: about 1.4 s, while the busy chat needs 3 s for its four.
    await emu.wait_for(lambda: len(delivered(emu, others)) == 40, timeout=5)
    others_done = time.monotonic() - started
    await task
    assert others_done < 2.2
    assert emu.stats.rate_limited == 0
    assert emu.stats.max_per_window() <= 30
    times = [m.date for m in emu.bot_messages(busy.id)]
    assert len(times) == 4 and delivered(emu, [busy]) == Counter({0: 1, 1: 1, 2: 1, 3: 1})
    assert time.monotonic() - started >= 3.0


async def test_reminders_expire_and_wait_out_quiet_hours(rig: Rig) -> None:
    """A backed-up outbox never sends a reminder at night nor after its window closed."""
    emu, clock = rig.emu, rig.clock
    users = started_users(emu, 3)
    people = await add_people(rig.ctx, users)
    evening = paris(2024, 3, 10, 20, 30)  # quiet hours: 20:00-08:00
    clock.set(evening)
    due = paris(2024, 3, 10, 19, 0)

    def reminder(n: int, expires: datetime) -> dict[str, Any]:
        row = note_row(n, people[n], due)
        return row | {"expires_at": expires, "quiet_hours": True}

    await queue(
        rig.ctx,
        [
            reminder(0, paris(2024, 3, 11, 23, 59, 59)),  # waits for 08:00
            reminder(1, paris(2024, 3, 10, 20, 15)),  # closed already
            reminder(2, paris(2024, 3, 11, 7, 0)),  # would close before the night ends
            note_row(3, people[0], due),  # not a reminder: goes now
        ],
    )
    dispatcher = rig.dispatcher()
    await dispatcher.run_once()
    assert await statuses(rig.ctx) == {"expired": 1, "pending": 2, "sent": 1}
    assert delivered(emu, users) == Counter({3: 1})
    await drain(dispatcher, clock)
    assert delivered(emu, users) == Counter({3: 1, 0: 1})
    sent_at = emu.bot_messages(users[0].id)[-1].date
    assert sent_at >= paris(2024, 3, 11, 8, 0)
    assert await statuses(rig.ctx) == {"expired": 2, "sent": 2}


async def test_the_limiter_counts_each_request_until_a_window_after_its_answer() -> None:
    now = [0.0]
    limiter = RateLimiter(per_second=30, per_chat_interval=0, margin=0, clock=lambda: now[0])
    # Spread evenly: a burst would reach the server spread out and overlap the next one.
    assert [limiter._reserve() for _ in range(3)] == [
        0.0,
        pytest.approx(1 / 30),
        pytest.approx(2 / 30),
    ]
    limiter._next_slot = 0.0
    limiter.spacing = 0.0  # (no real sleeping in this test)
    for chat in range(30):
        await limiter.acquire(chat)  # 30 requests in flight: the 31st must wait...
    assert limiter._window_wait(now[0]) is None  # ...for an answer,
    now[0] = 0.5
    limiter.answered(0)
    assert limiter._window_wait(now[0]) == pytest.approx(1.0)  # ...then a window after it.
    now[0] = 10.0
    for chat in range(1, 30):
        limiter.answered(chat)
    limiter.pause(5.0)  # a RetryAfter: nothing before 5 s from now, and no later
    assert limiter._window_wait(now[0]) == pytest.approx(5.0)
    assert limiter._reserve() == pytest.approx(15.0)


async def test_a_busy_chat_does_not_hold_the_others() -> None:
    limiter = RateLimiter(per_second=1000, per_chat_interval=0.3)
    await limiter.acquire(1)
    started = time.monotonic()
    second_to_one = asyncio.create_task(limiter.acquire(1))
    await asyncio.sleep(0)
    await limiter.acquire(2)  # another chat: at once, though chat 1 must wait 0.3 s
    assert time.monotonic() - started < 0.05
    await second_to_one
    assert time.monotonic() - started >= 0.29
