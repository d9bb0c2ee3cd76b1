"""What every use case needs from the shell: the database, the calendar and the clock."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from tso_bot.clock import Clock
from tso_bot.domain.calendar import SchoolCalendar
from tso_bot.store.db import Database


@dataclass
class AppContext:
    db: Database
    calendar: SchoolCalendar
    clock: Clock
    bot_username: str = "tso_bot"
    # Set after a commit that queued notifications, so the dispatcher wakes at once
    # instead of waiting for its next poll.
    outbox_event: asyncio.Event = field(default_factory=asyncio.Event)

    def outbox_changed(self) -> None:
        self.outbox_event.set()
