"""Telegram's limits: about 30 messages a second overall and one a second per chat."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

# Clock granularity and scheduling slack, in seconds; the real safety comes from counting
# each request until its answer (see `RateLimiter`), not from a margin.
DEFAULT_MARGIN = 0.005
# Forget per-chat timestamps once this many chats are remembered (a fan-out to an
# académie touches 65,000 chats; each entry matters for one second only).
_PRUNE_AT = 10_000


class RateLimiter:
    """At most `per_second` requests in any sliding second overall, and one per
    `per_chat_interval` seconds in each chat, as the server counts them.

    The server counts a request when it arrives, which we cannot see: the request leaves
    some time after we allow it (more under load), and we learn it arrived only from the
    answer. So a request counts against the window from the moment it is allowed until
    one window after its answer; sending only while fewer than N count keeps the server's
    count under N whatever the latency or the stalls of our event loop. At 5 ms of latency
    that still allows 99 % of the limit.

    Sends are also spread evenly (one every window/N), never in bursts, and nothing ever
    sleeps while holding a lock: a chat that must wait delays only itself. Use
    `async with limiter.slot(chat_id): send(...)`.
    """

    def __init__(
        self,
        per_second: float = 30.0,
        per_chat_interval: float = 1.0,
        *,
        margin: float = DEFAULT_MARGIN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_second <= 0 or per_chat_interval < 0 or margin < 0:
            raise ValueError("rates and intervals must be positive")
        self.per_second = per_second
        self.per_chat_interval = per_chat_interval
        # N sends per window of N / per_second seconds: 30/s is 30 per second, 0.5/s is
        # one per two seconds.
        self.capacity = max(1, math.floor(per_second))
        self.window = self.capacity / per_second + margin
        self.spacing = self.window / self.capacity
        self._clock = clock
        self._next_slot = 0.0
        self._in_flight = 0
        self._answers: deque[float] = deque()  # answer times still inside the window
        self._answer = asyncio.Event()
        self._chat_free: dict[int, float] = {}
        self.paused_until = 0.0

    def pause(self, seconds: float) -> None:
        """Honour a RetryAfter: nothing is allowed before `seconds` from now (nor later)."""
        self.paused_until = max(self.paused_until, self._clock() + seconds)

    def chat_free_in(self, chat_id: int) -> float:
        """Seconds until this chat may be sent to again (0 if it may now)."""
        return max(0.0, self._chat_free.get(chat_id, 0.0) - self._clock())

    async def wait_chat(self, chat_id: int) -> None:
        """Sleep until this chat may be sent to again; holds nothing meanwhile."""
        while (delay := self.chat_free_in(chat_id)) > 0:  # noqa: ASYNC110 - a deadline, not an event
            await asyncio.sleep(delay)

    def _reserve(self) -> float:
        """The next evenly spaced moment, first come, first served."""
        slot = max(self._clock(), self.paused_until, self._next_slot)
        self._next_slot = slot + self.spacing
        return slot

    def _window_wait(self, now: float) -> float | None:
        """0 if a request may go now; else how long to wait (None: until an answer)."""
        while self._answers and self._answers[0] + self.window <= now:
            self._answers.popleft()
        if now < self.paused_until:
            return self.paused_until - now
        if self._in_flight + len(self._answers) < self.capacity:
            return 0.0
        return self._answers[0] + self.window - now if self._answers else None

    async def acquire(self, chat_id: int) -> None:
        """Return when a request to `chat_id` may go; call `answered` when it is answered."""
        await self.wait_chat(chat_id)
        # Book the chat now, so that a second caller for it waits instead of racing us.
        self._chat_free[chat_id] = self._clock() + self.per_chat_interval
        delay = self._reserve() - self._clock()
        if delay > 0:
            await asyncio.sleep(delay)
        while (wait := self._window_wait(self._clock())) != 0:
            if wait is None:
                self._answer.clear()
                await self._answer.wait()
            else:
                await asyncio.sleep(wait)
        self._in_flight += 1

    def answered(self, chat_id: int) -> None:
        """The request allowed by `acquire` got its answer (or failed): from now on it
        counts for one more window, and the chat's interval starts again."""
        now = self._clock()
        self._in_flight -= 1
        self._answers.append(now)
        self._answer.set()
        self._chat_free[chat_id] = max(
            self._chat_free.get(chat_id, 0.0), now + self.per_chat_interval
        )
        if len(self._chat_free) > _PRUNE_AT:
            self._chat_free = {c: t for c, t in self._chat_free.items() if t > now}

    @asynccontextmanager
    async def slot(self, chat_id: int) -> AsyncIterator[None]:
        """`async with limiter.slot(chat): await send(...)`."""
        await self.acquire(chat_id)
        try:
            yield
        finally:
            self.answered(chat_id)
