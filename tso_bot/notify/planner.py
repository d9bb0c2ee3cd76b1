"""The reminder planner service: from the calendar and the dossiers to outbox rows.

Reminders are computed, not scheduled in memory (DESIGN.md). Each run covers the interval
(mark, now], where the mark is how far the last run planned, kept in `planner_marks`: a
restart neither misses nor repeats a reminder. The pure planner (`domain.reminders.plan`)
says who is due what; this module reads the dossiers, picks each recipient's channel, and
inserts the outbox rows under the reminder's unique key with INSERT ... ON CONFLICT DO
NOTHING, with an audit row, in one transaction. Two planners running at once (two workers,
or a run overlapping a slow one) then insert each reminder once, whoever wins.

Channels are chosen when the reminder is planned: Telegram when the person is linked and
has not blocked the bot, else e-mail; a guardian with neither is counted (and shown by
`tso-bot status`), since nobody can be reached. Each row carries the window's close as its
expiry and asks the dispatcher to respect quiet hours, so that a backed-up outbox never
sends a reminder late at night or after the close; the dispatcher also drops a reminder
whose step was done in the meantime (`obsolete_reminders`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from tso_bot.domain.calendar import SchoolCalendar, Step
from tso_bot.domain.phases import Phase
from tso_bot.domain.reminders import (
    BEFORE_CLOSE,
    WINDOW_OPEN,
    DossierProgress,
    DueReminder,
    ScheduledMoment,
    due_schedule,
    plan,
)
from tso_bot.services.context import AppContext
from tso_bot.services.journal import audit
from tso_bot.store.models import (
    ChoiceVersion,
    FamilyAnswerRow,
    Guardianship,
    OutboxMessage,
    Person,
    PlannerMark,
    Pupil,
)

log = logging.getLogger(__name__)

MARK = "reminders"
KIND_OPEN = "reminder_open"
KIND_CLOSE = "reminder_close"
REMINDER_KINDS = frozenset({KIND_OPEN, KIND_CLOSE})
TELEGRAM, EMAIL = "telegram", "email"
GUARDIAN, PUPIL = "guardian", "pupil"
# Rows per INSERT statement: well under SQLite's and asyncpg's bound-parameter limits.
INSERT_CHUNK = 1000

# Which fact marks a step done: a validated version (intentions, choices) or the family's
# answer (acknowledgement, response), in the step's phase.
_ENTRY_STEPS = {Phase.PROVISOIRE: Step.INTENTIONS, Phase.DEFINITIVE: Step.CHOICES}
_ANSWER_STEPS = {Phase.PROVISOIRE: Step.ACK, Phase.DEFINITIVE: Step.RESPONSE}


# --- Reading the dossiers ------------------------------------------------------------------


@dataclass(frozen=True)
class Contact:
    telegram: bool
    email: bool

    @property
    def channel(self) -> str | None:
        if self.telegram:
            return TELEGRAM
        return EMAIL if self.email else None


@dataclass(frozen=True)
class PupilInfo:
    name: str
    classe: str


@dataclass(frozen=True)
class Dossiers:
    """What the planner needs, read in a handful of queries whatever the school's size."""

    progress: list[DossierProgress]
    pupils: dict[str, PupilInfo]
    contacts: dict[int, Contact]
    guardians: frozenset[int]


async def done_steps(
    session: AsyncSession, pupil_ids: Sequence[str] | None = None
) -> dict[str, set[Step]]:
    """The steps whose fact is recorded, per pupil (all pupils when `pupil_ids` is None)."""
    versions = select(ChoiceVersion.pupil_id, ChoiceVersion.phase).distinct()
    answers = select(FamilyAnswerRow.pupil_id, FamilyAnswerRow.phase)
    if pupil_ids is not None:
        versions = versions.where(ChoiceVersion.pupil_id.in_(pupil_ids))
        answers = answers.where(FamilyAnswerRow.pupil_id.in_(pupil_ids))
    done: dict[str, set[Step]] = defaultdict(set)
    for pupil_id, phase in (await session.execute(versions)).all():
        done[pupil_id].add(_ENTRY_STEPS[Phase(phase)])
    for pupil_id, phase in (await session.execute(answers)).all():
        done[pupil_id].add(_ANSWER_STEPS[Phase(phase)])
    return done


async def load_dossiers(session: AsyncSession) -> Dossiers:
    pupils = (
        await session.execute(
            select(Pupil.id, Pupil.prenom, Pupil.nom, Pupil.classe, Pupil.person_id).order_by(
                Pupil.id
            )
        )
    ).all()
    links = (
        await session.execute(
            select(Guardianship.pupil_id, Guardianship.person_id).order_by(
                Guardianship.pupil_id, Guardianship.rank
            )
        )
    ).all()
    guardians_of: dict[str, list[int]] = defaultdict(list)
    for pupil_id, person_id in links:
        guardians_of[pupil_id].append(person_id)
    done = await done_steps(session)
    progress, infos = [], {}
    for pupil_id, prenom, nom, classe, person_id in pupils:
        infos[pupil_id] = PupilInfo(f"{prenom} {nom}".strip(), classe)
        progress.append(
            DossierProgress(
                pupil_id,
                frozenset(done.get(pupil_id, ())),
                tuple(guardians_of.get(pupil_id, ())),
                person_id,
            )
        )
    contacts = {
        person_id: Contact(chat_id is not None and bool(reachable), bool(email))
        for person_id, chat_id, reachable, email in (
            await session.execute(
                select(Person.id, Person.chat_id, Person.telegram_reachable, Person.email)
            )
        ).all()
    }
    guardians = frozenset(p for ids in guardians_of.values() for p in ids)
    return Dossiers(progress, infos, contacts, guardians)


async def obsolete_reminders(session: AsyncSession, rows: Iterable[OutboxMessage]) -> set[int]:
    """Ids of before-close reminders whose step has been done since they were planned."""
    candidates = [row for row in rows if row.kind == KIND_CLOSE]
    if not candidates:
        return set()
    done = await done_steps(session, sorted({str(row.params["pupil_id"]) for row in candidates}))
    return {
        row.id
        for row in candidates
        if Step(str(row.params["step"])) in done.get(str(row.params["pupil_id"]), ())
    }


# --- Planning ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedReminder:
    reminder: DueReminder
    audience: str  # guardian | pupil
    channel: str | None  # None: this person can be reached neither way


@dataclass
class PlanSummary:
    since: datetime
    until: datetime
    due: int = 0  # reminders due in the interval, reachable or not
    queued: int = 0  # rows inserted by this run
    channels: Counter[str] = field(default_factory=Counter)  # of the due, reachable ones
    unreachable_guardians: set[int] = field(default_factory=set)

    def as_audit(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "due": self.due,
            "queued": self.queued,
            "telegram": self.channels[TELEGRAM],
            "email": self.channels[EMAIL],
            "unreachable_guardians": len(self.unreachable_guardians),
        }


def moments_to_send(
    calendar: SchoolCalendar, since: datetime, until: datetime
) -> set[tuple[Step, str | None]]:
    """The (step, offset) moments due in (since, until] that are still worth sending.

    Normally one run sees one moment at a time. After an outage it may see several: a
    moment whose window has closed is dropped, and of a step's before-close reminders only
    the latest is kept, so that nobody gets "7 days left" and "2 days left" together.
    """
    due = [m for m in due_schedule(calendar) if since < m.due_at <= until]
    latest: dict[Step, ScheduledMoment] = {}
    keep: set[tuple[Step, str | None]] = set()
    for moment in due:  # in time order
        window = calendar.windows[moment.step]
        if until >= window.closes:
            continue
        if moment.kind == BEFORE_CLOSE:
            latest[moment.step] = moment
        else:
            keep.add((moment.step, moment.offset))
    keep.update((m.step, m.offset) for m in latest.values())
    return keep


def planned(
    calendar: SchoolCalendar, dossiers: Dossiers, since: datetime, until: datetime
) -> Iterator[PlannedReminder]:
    """Every reminder to queue for (since, until], with its channel."""
    keep = moments_to_send(calendar, since, until)
    if not keep:
        return
    for reminder in plan(calendar, dossiers.progress, since, until):
        if (reminder.step, reminder.offset) not in keep:
            continue
        contact = dossiers.contacts.get(reminder.recipient, Contact(False, False))
        audience = GUARDIAN if reminder.recipient in dossiers.guardians else PUPIL
        yield PlannedReminder(reminder, audience, contact.channel)


def outbox_row(
    item: PlannedReminder, calendar: SchoolCalendar, dossiers: Dossiers, now: datetime
) -> dict[str, Any]:
    r = item.reminder
    window = calendar.windows[r.step]
    pupil = dossiers.pupils[r.pupil_id]
    return {
        "key": r.key,
        "kind": KIND_OPEN if r.kind == WINDOW_OPEN else KIND_CLOSE,
        "channel": item.channel,
        "person_id": r.recipient,
        "params": {
            "pupil_id": r.pupil_id,
            "pupil": pupil.name,
            "classe": pupil.classe,
            "step": str(r.step),
            "offset": r.offset,
            "audience": item.audience,
            "opens": window.opens.isoformat(),
            "closes": window.closes.isoformat(),
        },
        "status": "pending",
        "attempts": 0,
        "not_before": r.due_at,
        "created_at": now,
        "expires_at": window.closes,
        "quiet_hours": True,
    }


def _insert(session: AsyncSession) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (both backends spell it alike)."""
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


async def insert_outbox_rows(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert rows, skipping any whose key exists (a concurrent planner, or a re-run);
    returns how many were new. Never check-then-insert: the unique key decides."""
    if not rows:
        return 0
    statement = (
        _insert(session)(OutboxMessage)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(OutboxMessage.id)
    )
    inserted = 0
    for start in range(0, len(rows), INSERT_CHUNK):
        result = await session.execute(statement, list(rows[start : start + INSERT_CHUNK]))
        inserted += len(result.all())
    return inserted


async def _read_mark(session: AsyncSession) -> datetime | None:
    return await session.scalar(select(PlannerMark.until).where(PlannerMark.name == MARK))


async def _advance_mark(session: AsyncSession, until: datetime, now: datetime) -> None:
    """Move the mark forward, never back: of two overlapping runs, the later one wins."""
    statement = _insert(session)(PlannerMark).values(name=MARK, until=until, updated_at=now)
    statement = statement.on_conflict_do_update(
        index_elements=["name"],
        set_={"until": statement.excluded.until, "updated_at": statement.excluded.updated_at},
        where=PlannerMark.until < statement.excluded.until,
    )
    await session.execute(statement)


class ReminderPlanner:
    """Run periodically (`run_forever`), or once (`run_once`) with the context's clock."""

    def __init__(
        self, ctx: AppContext, *, interval: float = 60.0, start: datetime | None = None
    ) -> None:
        self.ctx = ctx
        self.interval = interval
        # Where the very first run starts; by default the moment it runs: a new deployment
        # does not send what fell due before it existed.
        self.start = start

    async def run_once(self) -> PlanSummary:
        now = self.ctx.clock.now()
        calendar = self.ctx.calendar
        async with self.ctx.db.transaction() as s:
            since = await _read_mark(s) or self.start or now
            summary = PlanSummary(since, now)
            if since < now and moments_to_send(calendar, since, now):
                dossiers = await load_dossiers(s)
                await self._queue(s, planned(calendar, dossiers, since, now), dossiers, summary)
            await _advance_mark(s, max(since, now), now)
        if summary.due:
            self._log(summary)
        if summary.queued:
            self.ctx.outbox_changed()
        return summary

    async def _queue(
        self,
        session: AsyncSession,
        items: Iterable[PlannedReminder],
        dossiers: Dossiers,
        summary: PlanSummary,
    ) -> None:
        calendar, now = self.ctx.calendar, summary.until
        batch: list[dict[str, Any]] = []
        for item in items:
            summary.due += 1
            if item.channel is None:
                if item.audience == GUARDIAN:
                    summary.unreachable_guardians.add(item.reminder.recipient)
                continue  # a pupil not on Telegram is simply not told
            summary.channels[item.channel] += 1
            batch.append(outbox_row(item, calendar, dossiers, now))
            if len(batch) >= INSERT_CHUNK:
                summary.queued += await insert_outbox_rows(session, batch)
                batch.clear()
        summary.queued += await insert_outbox_rows(session, batch)
        if summary.due:
            audit(session, at=now, actor=None, action="plan_reminders", after=summary.as_audit())

    def _log(self, s: PlanSummary) -> None:
        log.info(
            "reminders due in (%s, %s]: %d queued (%d telegram, %d e-mail), %d already queued",
            s.since.isoformat(timespec="seconds"),
            s.until.isoformat(timespec="seconds"),
            s.queued,
            s.channels[TELEGRAM],
            s.channels[EMAIL],
            s.channels.total() - s.queued,
        )
        if s.unreachable_guardians:
            log.warning(
                "%d guardian(s) have neither Telegram nor e-mail and get no reminder: "
                "person ids %s",
                len(s.unreachable_guardians),
                ", ".join(map(str, sorted(s.unreachable_guardians)[:50])),
            )

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:
                log.exception("reminder planner pass failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)


async def preview(
    ctx: AppContext, at: datetime, since: datetime | None = None
) -> tuple[datetime, list[PlannedReminder]]:
    """What a planner run at `at` would queue, without writing anything.

    From `since`; by default from the planner's mark when it is before `at` (what the next
    run would add), else from the start of `at`'s day, school time (what fell due that day).
    """
    async with ctx.db.transaction() as s:
        if since is None:
            mark = await _read_mark(s)
            since = mark if mark is not None and mark < at else _start_of_day(ctx, at)
        if not moments_to_send(ctx.calendar, since, at):
            return since, []
        dossiers = await load_dossiers(s)
    return since, list(planned(ctx.calendar, dossiers, since, at))


def _start_of_day(ctx: AppContext, moment: datetime) -> datetime:
    tz = ctx.calendar.timezone
    local = moment.astimezone(tz)
    return datetime.combine(local.date(), time(0), tzinfo=tz) - timedelta(microseconds=1)
