"""Running the bot: the PTB application (polling or webhook) beside the worker, which is
the outbox dispatcher and the reminder planner.

Used by `tso-bot run`, `tso-bot worker`, the demo and the end-to-end tests, so that all of
them start and stop the very same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime

from telegram import Bot
from telegram.ext import Application
from telegram.request import HTTPXRequest

from tso_bot.bot.app import build_application, file_url
from tso_bot.clock import Clock, SimulatedClock, SystemClock
from tso_bot.config import Settings, load_calendar
from tso_bot.notify.dispatcher import Dispatcher
from tso_bot.notify.email import SmtpMailer
from tso_bot.notify.planner import ReminderPlanner
from tso_bot.notify.ratelimit import RateLimiter
from tso_bot.services.context import AppContext
from tso_bot.store.db import Database

log = logging.getLogger(__name__)


def settings_clock(settings: Settings) -> Clock:
    """The real clock, or the simulated one that `TSO_CLOCK` starts at."""
    if settings.clock:
        return SimulatedClock(datetime.fromisoformat(settings.clock))
    return SystemClock()


def build_context(settings: Settings, clock: Clock | None = None) -> AppContext:
    return AppContext(
        db=Database(settings.database_url),
        calendar=load_calendar(settings.calendar),
        clock=clock or settings_clock(settings),
        bot_username=settings.bot_username or "tso_bot",
    )


@dataclass(frozen=True)
class Webhook:
    url: str
    host: str
    port: int
    secret: str | None = None


class Runtime:
    """Start with `await runtime.start()`, stop with `await runtime.stop()`."""

    def __init__(
        self,
        ctx: AppContext,
        settings: Settings,
        *,
        bot: bool = True,
        worker: bool = True,
        poll_interval: float = 1.0,
        planner_interval: float = 60.0,
        dispatcher_kwargs: dict[str, object] | None = None,
    ) -> None:
        if not settings.telegram_token:
            raise ValueError("TSO_TELEGRAM_TOKEN is required")
        self.ctx = ctx
        self.settings = settings
        self.application: Application | None = (
            build_application(ctx, settings.telegram_token, settings.telegram_api_url)
            if bot
            else None
        )
        self.with_worker = worker
        self.poll_interval = poll_interval
        self.planner_interval = planner_interval
        self.dispatcher_kwargs = dispatcher_kwargs or {}
        self._worker_bot: Bot | None = None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.dispatcher: Dispatcher | None = None
        self.planner: ReminderPlanner | None = None

    def _new_worker_bot(self) -> Bot:
        """The dispatcher's own bot, with its own connection pool: a fan-out keeps dozens
        of requests in flight, which must not starve the handlers' replies."""
        assert self.settings.telegram_token
        return Bot(
            self.settings.telegram_token,
            base_url=self.settings.telegram_api_url,
            base_file_url=file_url(self.settings.telegram_api_url),
            request=HTTPXRequest(connection_pool_size=40, read_timeout=10.0),
        )

    async def start(self, webhook: Webhook | None = None) -> None:
        app = self.application
        if app is not None:
            await app.initialize()
            if app.post_init:
                await app.post_init(app)
            await app.start()
            assert app.updater is not None
            if webhook is None:
                await app.updater.start_polling(
                    poll_interval=0.0, timeout=10, drop_pending_updates=False
                )
            else:
                await app.updater.start_webhook(
                    listen=webhook.host,
                    port=webhook.port,
                    url_path="telegram",
                    webhook_url=webhook.url,
                    secret_token=webhook.secret,
                )
        if self.with_worker:
            await self._start_worker()
        log.info(
            "TSO bot started (%s)",
            "bot+worker" if app and self.with_worker else "bot" if app else "worker",
        )

    async def _start_worker(self) -> None:
        self._worker_bot = self._new_worker_bot()
        await self._worker_bot.initialize()
        kwargs: dict[str, object] = {
            "limiter": RateLimiter(
                self.settings.telegram_rate, self.settings.telegram_chat_interval
            ),
            **self.dispatcher_kwargs,
        }
        self.dispatcher = Dispatcher(
            self.ctx,
            bot=self._worker_bot,
            mailer=SmtpMailer(self.settings),
            poll_interval=self.poll_interval,
            **kwargs,  # type: ignore[arg-type]
        )
        self.planner = ReminderPlanner(self.ctx, interval=self.planner_interval)
        self._tasks.append(asyncio.create_task(self.dispatcher.run_forever(self._stop)))
        self._tasks.append(asyncio.create_task(self.planner.run_forever(self._stop)))

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=10)
        app = self.application
        if app is not None:
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
            await app.shutdown()
        if self._worker_bot is not None:
            await self._worker_bot.shutdown()
        log.info("TSO bot stopped")
