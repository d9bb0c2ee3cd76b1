"""`tso-bot demo`: the whole bot offline, in one process, played from a web page.

One aiohttp server on 127.0.0.1 carries the Bot API emulator's routes, the page and its
JSON/SSE API (`demo_web`). The bot itself runs through `Runtime`, exactly as `tso-bot run`
does, pointed at that emulator, at a local mail catcher and at a SQLite file in the data
folder. A `SimulatedClock` is shared by the bot and the emulator, and the page moves it.

The data folder keeps the database and `demo.json` (the simulated time). `demo.json` is
written once the school is seeded: a folder without it is seeded afresh (a first start, or
a start interrupted while seeding).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from tso_bot.clock import SimulatedClock
from tso_bot.config import Settings
from tso_bot.runtime import Runtime, build_context
from tso_bot.sandbox import demo_seed
from tso_bot.sandbox.demo_seed import PERSONAS, PersonaSpec
from tso_bot.sandbox.emulator import Emulator
from tso_bot.sandbox.mailcatcher import CaughtMail, MailCatcher
from tso_bot.services.context import AppContext
from tso_bot.store.migrate import upgrade

log = logging.getLogger(__name__)

TOKEN = "424242:DEMO-OFFLINE-TOKEN"  # the emulator's; never a real Telegram token
BOT_USERNAME = "college_jean_moulin_demo_bot"
MAIL_FROM = "orientation@college-jean-moulin.example"
DB_NAME = "demo.sqlite3"
STATE_NAME = "demo.json"
JSON = dict[str, Any]
LINK_QUIET = 0.05  # seconds without a bot call that mean a persona's linking is answered


@dataclass
class Persona:
    """A persona of this run: its emulator user, its person, its link and invitation."""

    spec: PersonaSpec
    user_id: int
    person_id: int = 0
    linked: bool = False
    code: str | None = None  # an unused invitation code, while not linked

    def to_dict(self) -> JSON:
        invite = None
        if not self.linked and self.code:
            invite = {"code": self.code, "link": f"https://t.me/{BOT_USERNAME}?start={self.code}"}
        return {
            "key": self.spec.key,
            "label": self.spec.label,
            "name": self.spec.name,
            "description": self.spec.description,
            "chat_id": self.user_id,
            "linked": self.linked,
            "invite": invite,
        }


class EventHub:
    """Fan-out of live events to every open page (one queue per SSE stream)."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[JSON | None]] = set()

    def subscribe(self) -> asyncio.Queue[JSON | None]:
        queue: asyncio.Queue[JSON | None] = asyncio.Queue()
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[JSON | None]) -> None:
        self._queues.discard(queue)

    def publish(self, event: JSON) -> None:
        for queue in self._queues:
            queue.put_nowait(event)

    def close(self) -> None:
        """End every stream (None is the end marker), so that shutdown does not wait."""
        for queue in self._queues:
            queue.put_nowait(None)


class DemoError(Exception):
    """A request the demo refuses; the message is shown to the visitor."""


class DemoServer:
    """Start with `await start()`, stop with `await stop()`; `url` is the page."""

    def __init__(self, data_dir: Path, *, host: str = "127.0.0.1", port: int = 8080) -> None:
        if host not in ("127.0.0.1", "localhost"):
            raise ValueError("the demo only listens on the loopback interface")
        self.data_dir = data_dir
        self.host, self.port = host, port
        self.url = ""
        self.clock = SimulatedClock(demo_seed.START)
        self.emulator = Emulator(TOKEN, bot_username=BOT_USERNAME, clock=self.clock.now)
        self.mail = MailCatcher()
        self.hub = EventHub()
        self.ready = False
        self.personas: dict[str, Persona] = {}
        self.runtime: Runtime | None = None
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()  # one reset or clock move at a time
        self.calendar_path = data_dir / "calendar.toml"
        self.calendar = demo_seed.default_calendar()  # until start() reads the file

    # -- paths and settings ---------------------------------------------------------------
    @property
    def db_path(self) -> Path:
        return self.data_dir / DB_NAME

    @property
    def state_path(self) -> Path:
        return self.data_dir / STATE_NAME

    def settings(self) -> Settings:
        return Settings(
            telegram_token=TOKEN,
            telegram_api_url=self.emulator.base_url,
            database_url=f"sqlite+aiosqlite:///{self.db_path}",
            calendar=str(self.calendar_path),
            smtp_host=self.mail.host,
            smtp_port=self.mail.port,
            mail_from=MAIL_FROM,
            bot_username=BOT_USERNAME,
        )

    @property
    def ctx(self) -> AppContext:
        if self.runtime is None:
            raise DemoError("La démo redémarre, réessayez dans un instant.")
        return self.runtime.ctx

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        from tso_bot.sandbox.demo_web import build_app  # the page's routes need this class

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.calendar = demo_seed.ensure_calendar(self.calendar_path)
        self._runner = web.AppRunner(build_app(self), access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = self._runner.addresses[0][1]
        self.url = f"http://{self.host}:{self.port}"
        self.emulator.set_origin(self.url)
        await self.mail.start()
        self.mail.on_mail(self._on_mail)
        self._spawn(self._pump_emulator())
        await self._boot(fresh=not self.state_path.exists())
        self.ready = True

    async def stop(self) -> None:
        self.ready = False
        if self.runtime is not None:
            self._save_state()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._stop_bot()
        await self.emulator.stop()  # wakes the long polls still open
        self.hub.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.mail.stop()

    async def _boot(self, *, fresh: bool) -> None:
        """Database, bot, personas; seeds the school first when `fresh`."""
        if fresh:
            self._wipe()
            self.clock.set(demo_seed.START)
        else:
            self.clock.set(self._saved_clock())
        await upgrade(self.settings().database_url)
        ctx = build_context(self.settings(), self.clock)
        self.runtime = Runtime(ctx, self.settings(), poll_interval=0.5)
        # The bot's start (getMe, the command menus) and the seed are independent: overlap
        # them, the start-up time is what a visitor waits for.
        await asyncio.gather(self.runtime.start(), demo_seed.seed_school(ctx) if fresh else _noop())
        await self._attach_personas(fresh)
        self._save_state()

    async def _stop_bot(self) -> None:
        runtime, self.runtime = self.runtime, None
        if runtime is not None:
            await runtime.stop()
            await runtime.ctx.db.dispose()

    def _wipe(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            self.db_path.with_name(DB_NAME + suffix).unlink(missing_ok=True)
        self.state_path.unlink(missing_ok=True)

    def _saved_clock(self) -> datetime:
        try:
            saved = json.loads(self.state_path.read_text("utf-8"))
            return datetime.fromisoformat(saved["clock"])
        except (OSError, ValueError, KeyError, TypeError):
            return demo_seed.START

    def _save_state(self) -> None:
        state = {"clock": self.clock.now().isoformat()}
        self.state_path.write_text(json.dumps(state), encoding="utf-8")

    # -- personas -------------------------------------------------------------------------
    async def _attach_personas(self, fresh: bool) -> None:
        """One emulator user per persona; link them (fresh) or re-attach their links."""
        ctx = self.ctx
        people = await demo_seed.person_ids(ctx)
        self.personas = {}
        for spec in PERSONAS:
            user = self.emulator.add_user(spec.first_name, spec.last_name, language_code="fr")
            self.personas[spec.key] = Persona(spec, user.id, people[spec.key])
        if fresh:
            await self._link_at_start()
        else:
            await self._reattach()
        await self.refresh_personas()

    async def _link_at_start(self) -> None:
        """Every persona but Anne opens their invitation link, as a family would."""
        specs = [p.spec for p in self.personas.values()]
        codes = await demo_seed.invitation_codes(self.ctx, specs)
        linking = [
            # A short quiet period: the bot's two replies follow each other at once.
            self.emulator.send_text_and_wait(
                p.user_id, f"/start {codes[key]}", expect=1, quiet=LINK_QUIET
            )
            for key, p in self.personas.items()
            if p.spec.linked_at_start
        ]
        await asyncio.gather(*linking)
        for key, persona in self.personas.items():
            persona.code = None if persona.spec.linked_at_start else codes[key]

    async def _reattach(self) -> None:
        chats = await demo_seed.linked_chats(self.ctx, self._people())
        moves = {p.person_id: p.user_id for k, p in self.personas.items() if chats[k] is not None}
        await demo_seed.reattach(self.ctx, moves)
        for persona in self.personas.values():
            if persona.person_id in moves:
                # They wrote to the bot in an earlier run: the bot may write to them.
                self.emulator.user(persona.user_id).started = True

    def _people(self) -> dict[str, int]:
        return {key: p.person_id for key, p in self.personas.items()}

    async def refresh_personas(self) -> None:
        """Read who is linked; give unlinked personas a fresh code if theirs was used.

        Publishes a `personas` event when something changed (e.g. Anne just linked, or a
        persona sent /oublier and needs a new invitation)."""
        before = [p.to_dict() for p in self.personas.values()]
        chats = await demo_seed.linked_chats(self.ctx, self._people())
        for key, persona in self.personas.items():
            persona.linked = chats[key] == persona.user_id
            if persona.linked:
                persona.code = None
        unlinked = [p for p in self.personas.values() if not p.linked]
        if any(p.code is None for p in unlinked):
            codes = await demo_seed.invitation_codes(self.ctx, [p.spec for p in unlinked])
            for persona in unlinked:
                persona.code = codes.get(persona.spec.key)
        after = [p.to_dict() for p in self.personas.values()]
        if after != before:
            self.hub.publish({"type": "personas", "personas": after})

    def persona(self, key: str) -> Persona:
        persona = self.personas.get(key)
        if persona is None:
            raise KeyError(key)
        return persona

    # -- the visitor's actions ------------------------------------------------------------
    async def send(self, key: str, text: str) -> None:
        persona = self.persona(key)
        await self.emulator.send_text(persona.user_id, text)
        self._after_action(persona)

    async def press(self, key: str, message_id: int, data: str) -> None:
        persona = self.persona(key)
        try:
            await self.emulator.press(persona.user_id, message_id, data)
        except ValueError as exc:  # the keyboard changed meanwhile: a real client can't
            raise DemoError("Ce bouton n'existe plus.") from exc
        self._after_action(persona)

    async def open_invite(self, key: str) -> None:
        """What Telegram does when a deep link is opened and "Démarrer" pressed."""
        persona = self.persona(key)
        if persona.linked or not persona.code:
            raise DemoError("Ce compte est déjà relié.")
        await self.send(key, f"/start {persona.code}")

    def _after_action(self, persona: Persona) -> None:
        """Once the bot has answered, see whether the persona's link changed."""

        async def settle_then_refresh() -> None:
            with contextlib.suppress(TimeoutError):
                await self.emulator.settle(persona.user_id, timeout=15)
            if self.runtime is not None:
                await self.refresh_personas()

        self._spawn(settle_then_refresh())

    # -- the clock ------------------------------------------------------------------------
    def clock_dict(self) -> JSON:
        now = self.clock.now()
        return {
            "now": now.isoformat(),
            "label": demo_seed.format_moment(now, self.calendar),
            "status": demo_seed.calendar_status(self.calendar, now),
        }

    async def move_clock(self, moment: datetime) -> JSON:
        """Jump the simulated clock; the bot's reminders and refusals follow."""
        async with self._lock:
            self.clock.set(moment)
            self._save_state()
            await self._planner_pass()
            self.ctx.outbox_changed()  # due messages go out now, not at the next poll
        clock = self.clock_dict()
        self.hub.publish({"type": "clock", "clock": clock})
        return clock

    async def advance_clock(self, delta: timedelta) -> JSON:
        return await self.move_clock(self.clock.now() + delta)

    async def _planner_pass(self) -> None:
        """Run the reminder planner once, if this runtime has one (`runtime.planner`, with
        `run_once()` like `runtime.dispatcher`), so that a jump over a reminder sends it."""
        planner = getattr(self.runtime, "planner", None)
        run_once = getattr(planner, "run_once", None)
        if run_once is not None:
            try:
                await run_once()
            except Exception:  # the visitor's jump must not fail on a planner bug
                log.exception("reminder planner pass failed")

    # -- reset ----------------------------------------------------------------------------
    async def reset(self) -> None:
        """Back to the freshly seeded school: new database, empty chats and mailbox."""
        async with self._lock:
            self.ready = False
            try:
                await self._stop_bot()
                self.emulator.reset()  # the page empties its phones on this event
                self.mail.clear()
                await self._boot(fresh=True)
            finally:
                self.ready = True
        self.hub.publish({"type": "state"})  # the page reloads everything

    # -- live events ----------------------------------------------------------------------
    async def _pump_emulator(self) -> None:
        queue = self.emulator.subscribe()
        try:
            while True:
                self.hub.publish(await queue.get())
        finally:
            self.emulator.unsubscribe(queue)

    def _on_mail(self, mail: CaughtMail) -> None:
        self.hub.publish({"type": "mail", "mail": self.mail_summary(mail)})

    def mail_summary(self, mail: CaughtMail) -> JSON:
        """What the mail list shows; the parts are fetched when a mail is opened."""
        date = str(mail.message["Date"] or "")
        return {
            "id": mail.id,
            "to": mail.to,
            "subject": mail.subject,
            "date": demo_seed.format_mail_date(date, self.calendar),
        }

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("demo background task failed", exc_info=task.exception())

    # -- what the page reads --------------------------------------------------------------
    def state(self) -> JSON:
        personas = []
        for persona in self.personas.values():
            data = persona.to_dict()
            messages = self.emulator.messages(persona.user_id, include_deleted=False)
            data["messages"] = [m.to_dict() for m in messages]
            personas.append(data)
        return {
            "ready": self.ready,
            "school": self.calendar.school_name,
            "timezone": str(self.calendar.timezone),
            "clock": self.clock_dict(),
            "jumps": [j.to_dict(self.calendar) for j in demo_seed.jump_targets(self.calendar)],
            "personas": personas,
            "commands": self.emulator.commands("fr") or self.emulator.commands(),
            "mails": [self.mail_summary(m) for m in self.mail.mails],
        }


async def _noop() -> None:
    return None


async def start_demo(
    *, port: int = 8080, data_dir: Path = Path("demo-data"), host: str = "127.0.0.1"
) -> DemoServer:
    """Start the demo (seeding the school on first start); `await server.stop()` ends it."""
    server = DemoServer(data_dir, host=host, port=port)
    try:
        await server.start()
    except BaseException:
        await server.stop()
        raise
    return server
