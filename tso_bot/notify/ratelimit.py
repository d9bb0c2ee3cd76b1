"""Telegram's limits: about 30 messages a second overall and one a second per chat."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    """A sliding-window limiter: `await acquire(chat_id)` returns when a send may go.

    Sliding windows rather than token buckets: the emulator (like Telegram) counts sends in
    the last second, so a bucket's burst would be answered with 429.
    """

    def __init__(
        self,
        per_second: float = 30.0,
        per_chat_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_second = per_second
        self.per_chat_interval = per_chat_interval
        self._clock = clock
        self._sent: deque[float] = deque()
        self._last_by_chat: dict[int, float] = {}
        self._lock = asyncio.Lock()
        self.paused_until = 0.0

    def pause(self, seconds: float) -> None:
        """Honour a RetryAfter: nothing goes out until it has passed."""
        self.paused_until = max(self.paused_until, self._clock() + seconds)

    def _wait_needed(self, chat_id: int, now: float) -> float:
        while self._sent and now - self._sent[0] >= 1.0:
            self._sent.popleft()
        waits = [self.paused_until - now]
        if len(self._sent) >= self.per_second:
            waits.append(self._sent[0] + 1.0 - now)
        last = self._last_by_chat.get(chat_id)
        if last is not None:
            waits.append(last + self.per_chat_interval - now)
        return max(0.0, *waits)

    async def acquire(self, chat_id: int) -> None:
        async with self._lock:
            while (wait := self._wait_needed(chat_id, self._clock())) > 0:  # noqa: ASYNC110 - a deadline, not an event
                await asyncio.sleep(wait)
            now = self._clock()
            self._sent.append(now)
            self._last_by_chat[chat_id] = now
