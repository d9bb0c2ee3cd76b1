"""Benchmark: the dispatcher against the Bot API emulator enforcing Telegram's limits.

The emulator answers 429 to the 31st message in any second (and to a second message in a
chat within a second). The dispatcher sends a fan-out of N reminders to N chats plus a few
chats that get several messages, from a SQLite outbox (or `--database-url`). Printed: the
achieved rate as a fraction of the limit (goal: at least 0.95), the 429s received (goal:
none), the busiest one-second window seen by the emulator.

The emulator runs in its own thread and event loop, as Telegram is another machine: the
dispatcher's own load must not bend the emulator's clock.

    .venv/bin/python bench/dispatcher_rate.py [-n 900] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from telegram import Bot
from telegram.request import HTTPXRequest

from tests.support import paris, seed_calendar
from tso_bot.clock import SimulatedClock
from tso_bot.notify.dispatcher import Dispatcher
from tso_bot.notify.ratelimit import RateLimiter
from tso_bot.sandbox.emulator import Emulator
from tso_bot.services.context import AppContext
from tso_bot.store.db import Database
from tso_bot.store.migrate import upgrade
from tso_bot.store.models import OutboxMessage, Person

TOKEN = "123456:BENCH-TOKEN"
LIMIT = 30.0
BUSY_CHATS = 10  # chats that get five messages each: the per-chat limit matters too


class EmulatorThread:
    """The emulator in a thread of its own, with its own event loop."""

    def __init__(self) -> None:
        self.emulator = Emulator(TOKEN, global_rate=LIMIT, per_chat_rate=1.0)
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.emulator.start())
        self._ready.set()
        self.loop.run_forever()

    def start(self) -> None:
        self._thread.start()
        self._ready.wait()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.emulator.stop(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()


async def queue(ctx: AppContext, chats: list[int], now: datetime) -> int:
    people = [
        {
            "id": i + 1,
            "role": "guardian",
            "nom": "N",
            "prenom": "P",
            "chat_id": chat,
            "email": None,
            "telegram_reachable": True,
            "locale": "fr",
            "created_at": now,
        }
        for i, chat in enumerate(chats)
    ]
    params = {
        "pupil_id": "E001",
        "pupil": "Zoé Martin",
        "classe": "3eA",
        "step": "intentions",
        "offset": "7d",
        "audience": "guardian",
        "opens": "2024-02-26T00:00:00+01:00",
        "closes": "2024-03-11T23:59:59+01:00",
    }
    rows: list[dict[str, Any]] = []
    for person in people:
        copies = 5 if person["id"] <= BUSY_CHATS else 1
        for copy in range(copies):
            rows.append(
                {
                    "key": f"bench:{person['id']}:{copy}",
                    "kind": "reminder_close",
                    "channel": "telegram",
                    "person_id": person["id"],
                    "params": params,
                    "status": "pending",
                    "attempts": 0,
                    "not_before": now,
                    "created_at": now,
                }
            )
    async with ctx.db.transaction() as s:
        await s.execute(insert(Person), people)
        await s.execute(insert(OutboxMessage), rows)
    return len(rows)


async def run(n: int, url: str) -> None:
    if not url.startswith("sqlite"):
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()
    await upgrade(url)
    server = EmulatorThread()
    server.start()
    emu = server.emulator
    chats = []
    for i in range(n):
        user = emu.add_user(f"U{i}")
        user.started = True
        chats.append(user.id)
    clock = SimulatedClock(paris(2024, 3, 4, 9, 0))
    ctx = AppContext(db=Database(url), calendar=seed_calendar(), clock=clock)
    total = await queue(ctx, chats, clock.now())
    bot = Bot(TOKEN, base_url=emu.base_url, request=HTTPXRequest(connection_pool_size=40))
    await bot.initialize()
    dispatcher = Dispatcher(ctx, bot=bot, mailer=None, limiter=RateLimiter(LIMIT, 1.0))
    stop = asyncio.Event()
    started = time.perf_counter()
    worker = asyncio.create_task(dispatcher.run_forever(stop))  # as `tso-bot worker` does
    while dispatcher.stats["sent"] < total:  # noqa: ASYNC110 - a progress poll
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    stop.set()
    await worker
    await bot.shutdown()
    await ctx.db.dispose()
    server.stop()

    times = emu.stats.sent_times
    rate = (len(times) - 1) / (times[-1] - times[0])
    print(
        f"backend {ctx.db.engine.dialect.name}: {total} messages to {n} chats "
        f"({BUSY_CHATS} of them get 5), emulator limit {LIMIT:.0f}/s and 1/s per chat"
    )
    print(
        f"sent {dispatcher.stats['sent']} in {elapsed:.1f} s; achieved rate {rate:.2f}/s "
        f"= {rate / LIMIT:.3f} of the limit (goal >= 0.95)"
    )
    print(
        f"429 received: {emu.stats.rate_limited} (goal 0); busiest 1-s window at the "
        f"emulator: {emu.stats.max_per_window()} messages"
    )


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=900, help="chats (default 900: ~30 s)")
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}"
        asyncio.run(run(args.n, url))


if __name__ == "__main__":
    main()
