from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.harness import TOKEN, School, make_env
from tests.support import CALENDAR_TOML, paris
from tso_bot.clock import SimulatedClock
from tso_bot.sandbox.emulator import Emulator
from tso_bot.sandbox.mailcatcher import MailCatcher


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    emu = Emulator(TOKEN, bot_username="college_orientation_bot")
    await emu.start()
    yield emu
    assert emu.unsupported_calls == [], "the bot used a Bot API method outside CONTRACT.md"
    await emu.stop()


@pytest.fixture
async def mail() -> AsyncIterator[MailCatcher]:
    catcher = MailCatcher()
    await catcher.start()
    yield catcher
    await catcher.stop()


@pytest.fixture
async def school(tmp_path: Path, emulator: Emulator, mail: MailCatcher) -> AsyncIterator[School]:
    (tmp_path / "calendar.toml").write_text(CALENDAR_TOML, encoding="utf-8")
    clock = SimulatedClock(paris(2024, 2, 27, 18, 30))
    emulator.clock = clock.now
    sch = School(tmp_path, emulator, mail, clock, env=make_env(tmp_path, emulator, mail))
    yield sch
    await sch.stop_bot()
