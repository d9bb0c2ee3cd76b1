"""Benchmark: the reminder planner at the scale of one académie (DESIGN.md, "Reference scale").

35,000 pupils and 65,000 guardians (30,000 pupils with two guardians, 5,000 with one), 70 %
of the guardians on Telegram, 25 % by e-mail only, 5 % with neither; half the pupils on
Telegram; 40 % of the pupils have already validated their intentions. Figures, each on a
fresh outbox:

- the pure planner (`domain.reminders.plan`) over the whole campaign: every reminder of the
  year for everyone, counted;
- the service (`notify.planner.ReminderPlanner.run_once`) over the busiest moments: the
  opening of the intentions window (every guardian and pupil: 100,000 rows) and the "7d"
  reminder (the guardians of the 60 % not done), reading the dossiers, choosing channels
  and inserting the rows, in one transaction;
- a run with nothing due (what the worker does every minute the rest of the year).

Time is wall-clock; memory is the Python heap's peak (tracemalloc, in a second identical run,
since tracing slows the first) and the process's peak resident size.

    .venv/bin/python bench/reminder_planner.py [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, text

from tests.support import paris, seed_calendar
from tso_bot.clock import SimulatedClock
from tso_bot.domain.calendar import Step
from tso_bot.domain.reminders import DossierProgress, plan
from tso_bot.notify.planner import ReminderPlanner
from tso_bot.services.context import AppContext
from tso_bot.store.db import Database
from tso_bot.store.migrate import upgrade
from tso_bot.store.models import (
    AuditEntry,
    ChoiceVersion,
    Guardianship,
    OutboxMessage,
    Person,
    PlannerMark,
    Pupil,
)

PUPILS = 35_000
SINGLE_GUARDIAN = 5_000  # pupils with one guardian: 2 x 30,000 + 5,000 = 65,000 guardians
CHUNK = 5_000


def people_rows(
    now: datetime,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    people, pupils, links = [], [], []
    next_id = 1
    for n in range(PUPILS):
        pupil_person = next_id
        pupil_chat = 10_000_000 + next_id if n % 2 else None  # half the pupils are linked
        people.append(_person(next_id, "pupil", pupil_chat, None, now))
        next_id += 1
        pupils.append(
            {
                "id": f"E{n:05d}",
                "classe": f"3e{n // 30}",
                "nom": f"N{n}",
                "prenom": "P",
                "person_id": pupil_person,
            }
        )
        for rank in (1,) if n < SINGLE_GUARDIAN else (1, 2):
            kind = next_id % 20  # 14/20 Telegram, 5/20 e-mail only, 1/20 neither
            chat = 10_000_000 + next_id if kind < 14 else None
            email = f"g{next_id}@example.org" if kind < 19 else None
            people.append(_person(next_id, "guardian", chat, email, now))
            links.append({"pupil_id": f"E{n:05d}", "rank": rank, "person_id": next_id})
            next_id += 1
    return people, pupils, links


def _person(
    pid: int, role: str, chat: int | None, email: str | None, now: datetime
) -> dict[str, Any]:
    return {
        "id": pid,
        "role": role,
        "nom": f"Nom{pid}",
        "prenom": "Prénom",
        "email": email,
        "chat_id": chat,
        "telegram_reachable": True,
        "locale": "fr",
        "created_at": now,
    }


async def populate(db: Database, now: datetime) -> None:
    people, pupils, links = people_rows(now)
    done = [
        {
            "pupil_id": p["id"],
            "phase": "provisoire",
            "version": 1,
            "voies": "2GT",
            "person_id": links[0]["person_id"],
            "at": now,
        }
        for p in pupils[: PUPILS * 4 // 10]
    ]
    async with db.transaction() as s:
        for model, rows in (
            (Person, people),
            (Pupil, pupils),
            (Guardianship, links),
            (ChoiceVersion, done),
        ):
            for start in range(0, len(rows), CHUNK):
                await s.execute(insert(model), rows[start : start + CHUNK])


async def reset(db: Database, mark: datetime) -> None:
    async with db.transaction() as s:
        await s.execute(delete(OutboxMessage))
        await s.execute(delete(AuditEntry))
        await s.execute(delete(PlannerMark))
        await s.execute(insert(PlannerMark).values(name="reminders", until=mark, updated_at=mark))


async def measure(
    label: str, run: Callable[[], Awaitable[Any]], before: Callable[[], Awaitable[None]]
) -> None:
    await before()
    started = time.perf_counter()
    result = await run()
    seconds = time.perf_counter() - started
    await before()
    tracemalloc.start()
    await run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"{label:<46} {seconds:7.2f} s   heap peak {peak / 2**20:7.1f} MiB   {result}")


async def main() -> None:
    logging.basicConfig(level=logging.ERROR)  # the planner warns about the unreachable
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}"
        await run_all(url)


async def run_all(url: str) -> None:
    if not url.startswith("sqlite"):
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()
    await upgrade(url)
    calendar = seed_calendar()
    clock = SimulatedClock(paris(2024, 2, 20, 10, 0))
    ctx = AppContext(db=Database(url), calendar=calendar, clock=clock)
    started = time.perf_counter()
    await populate(ctx.db, clock.now())
    print(
        f"backend: {ctx.db.engine.dialect.name}; {PUPILS:,} pupils, "
        f"{2 * PUPILS - SINGLE_GUARDIAN:,} guardians "
        f"(populated in {time.perf_counter() - started:.1f} s)"
    )

    progress = [
        DossierProgress(
            f"E{n:05d}",
            frozenset({Step.INTENTIONS}) if n < PUPILS * 4 // 10 else frozenset(),
            (1, 2),
            n,
        )
        for n in range(PUPILS)
    ]
    year = (paris(2024, 1, 1, 0, 0), paris(2024, 12, 31, 0, 0))

    async def whole_year() -> str:
        return f"{sum(1 for _ in plan(calendar, progress, *year)):,} reminders"

    async def nothing() -> None:
        return None

    await measure("pure planner, whole campaign", whole_year, nothing)

    async def run_at(moment: datetime) -> str:
        clock.set(moment)
        summary = await ReminderPlanner(ctx).run_once()
        return (
            f"{summary.queued:,} rows ({summary.channels['telegram']:,} Telegram, "
            f"{summary.channels['email']:,} e-mail, "
            f"{len(summary.unreachable_guardians):,} unreachable)"
        )

    for label, mark, moment in (
        (
            "service: intentions open (guardians, pupils)",
            paris(2024, 2, 26, 7, 59),
            paris(2024, 2, 26, 8, 1),
        ),
        ("service: 7 days before the close", paris(2024, 3, 4, 8, 59), paris(2024, 3, 4, 9, 1)),
        ("service: nothing due", paris(2024, 3, 5, 10, 0), paris(2024, 3, 5, 10, 1)),
    ):
        await measure(
            label, lambda moment=moment: run_at(moment), lambda mark=mark: reset(ctx.db, mark)
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak resident size (everything above, populating included): {rss:.0f} MiB")
    await ctx.db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
