"""Two workers on PostgreSQL over the same 5,000 rows: each message is sent once.

The workers are separate processes (as in a deployment), claiming with
`FOR UPDATE SKIP LOCKED`; the Bot API emulator is in the test process.
"""

from __future__ import annotations

import asyncio
import re
import signal
from collections import Counter
from pathlib import Path

import pytest

from tests.integration.test_dispatcher import add_people, delivered, note_row, queue, started_users
from tests.integration.test_dispatcher import statuses as outbox_statuses
from tests.integration.test_dispatcher_kill import (
    TOKEN,
    running_workers,
    start_worker,
    wait_all_sent,
)
from tests.support import seed_calendar
from tso_bot.clock import SystemClock
from tso_bot.sandbox.emulator import Emulator
from tso_bot.services.context import AppContext
from tso_bot.store.db import Database

MESSAGES = 5000
CHATS = 1000
SENT = re.compile(r"outbox \d+ sent \(test_note, telegram\)")


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_two_workers_share_the_rows_and_send_each_once(
    database_url: str, tmp_path: Path
) -> None:
    ctx = AppContext(db=Database(database_url), calendar=seed_calendar(), clock=SystemClock())
    emu = Emulator(TOKEN)
    await emu.start()
    try:
        users = started_users(emu, CHATS)
        people = await add_people(ctx, users)
        now = ctx.clock.now()
        await queue(ctx, [note_row(n, people[n % CHATS], now) for n in range(MESSAGES)])
        async with running_workers() as workers:
            for n in range(2):
                workers.append(await start_worker(ctx, emu, tmp_path, n))
            await wait_all_sent(ctx, workers[0], tmp_path, 0, MESSAGES)
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            assert [await asyncio.wait_for(w.wait(), 20) for w in workers] == [0, 0]
        assert await outbox_statuses(ctx) == {"sent": MESSAGES}
    finally:
        await emu.stop()
        await ctx.db.dispose()

    counts = delivered(emu, users)
    assert len(counts) == MESSAGES
    assert Counter(counts.values()) == {1: MESSAGES}  # none lost, none twice
    # Both took part; the logs say what each sent, by outbox id.
    shares = [len(SENT.findall((tmp_path / f"worker{n}.log").read_text())) for n in range(2)]
    assert sum(shares) == MESSAGES and min(shares) > MESSAGES // 10, shares
