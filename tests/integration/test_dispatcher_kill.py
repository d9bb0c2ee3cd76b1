"""The worker killed with SIGKILL at random points of a 2,000-message fan-out, restarted,
five times: no message is lost, and a message arrives twice only if it was in flight at the
moment of a kill (no idempotency key on Telegram: that residue is measured, not hidden).

The worker is a real process (`python -m tests.integration.test_dispatcher_kill`, which
runs the same `Runtime` as `tso-bot worker`); the Bot API emulator is in the test process.
Run it with `-s` to see the figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import re
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.integration.test_dispatcher import (
    add_people,
    delivered,
    note_row,
    queue,
    started_users,
    statuses,
)
from tests.support import CALENDAR_TOML, seed_calendar
from tso_bot.clock import SystemClock
from tso_bot.config import Settings
from tso_bot.notify.ratelimit import RateLimiter
from tso_bot.runtime import Runtime, build_context
from tso_bot.sandbox.emulator import Emulator
from tso_bot.services.context import AppContext
from tso_bot.store.db import Database
from tso_bot.store.models import OutboxMessage

TOKEN = "123456:KILL-TOKEN"
# Ten times Telegram's rate, so that the test takes seconds, not minutes; the residue of
# repeats grows with the rate (more requests in flight at any instant), so to measure it
# at Telegram's own rate: KILL_TEST_RATE=30 KILL_TEST_MESSAGES=600 pytest -s this file.
RATE = float(os.environ.get("KILL_TEST_RATE", "300"))
MESSAGES = int(os.environ.get("KILL_TEST_MESSAGES", "2000"))
CHATS = 1000
KILLS = 5
CONCURRENCY = 16
ROOT = Path(__file__).resolve().parents[2]
IN_DOUBT = re.compile(r"outbox ([\d, ]+): in flight when a dispatcher stopped")


# --- The worker process ------------------------------------------------------------------


def worker_settings(database_url: str, api_url: str, calendar: str) -> Settings:
    return Settings(
        telegram_token=TOKEN,
        telegram_api_url=api_url,
        database_url=database_url,
        calendar=calendar,
    )


async def run_worker(database_url: str, api_url: str, calendar: str) -> None:
    """What `tso-bot worker` runs, with a fast rate (the emulator enforces none here) and
    a short lease, so that a restarted worker takes over a killed one's rows quickly."""
    settings = worker_settings(database_url, api_url, calendar)
    ctx = build_context(settings, SystemClock())
    runtime = Runtime(
        ctx,
        settings,
        bot=False,
        poll_interval=0.05,
        dispatcher_kwargs={
            "limiter": RateLimiter(per_second=RATE, per_chat_interval=0),
            "concurrency": CONCURRENCY,
            "lease": timedelta(seconds=1),
        },
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await runtime.start()
    try:
        await stop.wait()
    finally:
        await runtime.stop()
        await ctx.db.dispose()


# --- The test ----------------------------------------------------------------------------


async def start_worker(ctx: AppContext, emu: Emulator, tmp: Path, n: int) -> Any:
    (tmp / "calendar.toml").write_text(CALENDAR_TOML, encoding="utf-8")
    log = (tmp / f"worker{n}.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.test_dispatcher_kill",
        ctx.db.url,
        emu.base_url,
        str(tmp / "calendar.toml"),
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("TSO_")},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=log,
    )
    log.close()
    return process


@contextlib.asynccontextmanager
async def running_workers() -> AsyncIterator[list[Any]]:
    """Worker processes that are killed on the way out, whatever happens in the test."""
    processes: list[Any] = []
    try:
        yield processes
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()


async def wait_deliveries(emu: Emulator, process: Any, target: int, tmp: Path, n: int) -> None:
    deadline = asyncio.get_running_loop().time() + 60  # generous: CI machines are shared
    while len(emu.stats.sent_times) < target:
        if process.returncode is not None:
            raise AssertionError((tmp / f"worker{n}.log").read_text())
        assert asyncio.get_running_loop().time() < deadline, "the worker makes no progress"
        await asyncio.sleep(0.002)


async def wait_all_sent(
    ctx: AppContext, process: Any, tmp: Path, n: int, messages: int = MESSAGES
) -> None:
    deadline = asyncio.get_running_loop().time() + 120
    while (await statuses(ctx))["sent"] < messages:
        if process.returncode is not None:
            raise AssertionError((tmp / f"worker{n}.log").read_text())
        assert asyncio.get_running_loop().time() < deadline, await statuses(ctx)
        await asyncio.sleep(0.1)


def in_doubt_ids(tmp: Path) -> Counter[int]:
    ids: Counter[int] = Counter()
    for log in tmp.glob("worker*.log"):
        for match in IN_DOUBT.finditer(log.read_text()):
            ids.update(int(i) for i in match[1].split(", "))
    return ids


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_killed_five_times_during_a_fan_out_nothing_lost(
    database_url: str, tmp_path: Path
) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    ctx = AppContext(db=Database(database_url), calendar=seed_calendar(), clock=SystemClock())
    emu = Emulator(TOKEN)
    await emu.start()
    try:
        users = started_users(emu, CHATS)
        people = await add_people(ctx, users)
        now = ctx.clock.now()
        await queue(ctx, [note_row(n, people[n % CHATS], now) for n in range(MESSAGES)])
        # Kill points: after a random number of deliveries, then a random instant later.
        targets = sorted(rng.sample(range(MESSAGES // 20, MESSAGES - MESSAGES // 20), KILLS))
        async with running_workers() as workers:
            for n, target in enumerate(targets):
                workers.append(process := await start_worker(ctx, emu, tmp_path, n))
                await wait_deliveries(emu, process, target, tmp_path, n)
                await asyncio.sleep(rng.uniform(0, 0.1))  # anywhere in the pipeline
                process.send_signal(signal.SIGKILL)
                await process.wait()
            workers.append(process := await start_worker(ctx, emu, tmp_path, KILLS))
            await wait_all_sent(ctx, process, tmp_path, KILLS)
            process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(process.wait(), 20) == 0
        async with ctx.db.transaction() as s:
            key_of = dict((await s.execute(select(OutboxMessage.id, OutboxMessage.key))).all())
    finally:
        await emu.stop()
        await ctx.db.dispose()

    counts = delivered(emu, users)
    doubtful = {int(key_of[i].removeprefix("note:")): k for i, k in in_doubt_ids(tmp_path).items()}
    twice = {n: c - 1 for n, c in counts.items() if c > 1}
    print(
        f"\nkill test (seed {seed}): {KILLS} kills at deliveries {targets}, {MESSAGES} "
        f"messages at {RATE:.0f}/s, {len(doubtful)} in flight at a kill, "
        f"{sum(twice.values())} extra deliveries"
    )
    assert set(counts) == set(range(MESSAGES)), "a message was lost"
    # Each repeat is explained: the message was in flight when a worker was killed (as
    # many times as it was repeated: a row may be caught in flight by two kills).
    assert all(extra <= doubtful.get(n, 0) for n, extra in twice.items()), (twice, doubtful)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    asyncio.run(run_worker(*sys.argv[1:4]))
