"""Fixtures: a migrated database (SQLite file; PostgreSQL when TSO_TEST_DATABASE_URL is
set), an application context on a simulated clock, and an imported roster."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support import ROSTER_CSV, STAFF_CSV, paris, seed_calendar
from tso_bot.clock import SimulatedClock
from tso_bot.services import roster
from tso_bot.services.context import AppContext
from tso_bot.staff.parsing import parse_roster, parse_staff
from tso_bot.store.db import Database
from tso_bot.store.migrate import upgrade

PG_URL = os.environ.get("TSO_TEST_DATABASE_URL")
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


async def _reset_postgres(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        if not PG_URL:
            if os.environ.get("CI"):
                pytest.fail("TSO_TEST_DATABASE_URL must be set in CI")
            pytest.skip("TSO_TEST_DATABASE_URL not set")
        await _reset_postgres(PG_URL)
        url = PG_URL
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'tso.sqlite3'}"
    await upgrade(url)
    return url


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(paris(2024, 2, 27, 10, 0))


@pytest.fixture
async def ctx(database_url: str, clock: SimulatedClock) -> AsyncIterator[AppContext]:
    context = AppContext(
        db=Database(database_url),
        calendar=seed_calendar(),
        clock=clock,
        bot_username="tso_test_bot",
    )
    yield context
    await context.db.dispose()


@pytest.fixture
async def school(ctx: AppContext) -> AppContext:
    """The context with the two-pupil roster and the staff imported."""
    rows = parse_roster(ROSTER_CSV)
    assert not rows.issues
    await roster.import_roster(ctx, rows.rows, "fr")
    staff = parse_staff(STAFF_CSV)
    assert not staff.issues
    await roster.import_staff(ctx, staff.rows, "fr")
    return ctx
