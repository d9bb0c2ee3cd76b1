"""The reminder planner over the whole seed campaign, on a simulated clock: the exact set of
reminders per guardian per day, quiet hours respected, none once a step is done, each once
whatever the restarts and overlapping runs."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from tests.support import PARIS, paris, seed_calendar
from tso_bot.clock import SimulatedClock
from tso_bot.domain.calendar import SchoolCalendar, Step
from tso_bot.domain.reminders import in_quiet_hours
from tso_bot.i18n import LANGUAGES, format_datetime
from tso_bot.notify.dispatcher import Dispatcher
from tso_bot.notify.planner import ReminderPlanner, preview
from tso_bot.notify.render import render
from tso_bot.sandbox.telegram_html import parse_html
from tso_bot.services.context import AppContext
from tso_bot.staff.export import status
from tso_bot.store.db import Database
from tso_bot.store.models import (
    AuditEntry,
    ChoiceVersion,
    FamilyAnswerRow,
    Guardianship,
    OutboxMessage,
    Person,
    PlannerMark,
    Pupil,
)

N, A, C, R = Step.INTENTIONS, Step.ACK, Step.CHOICES, Step.RESPONSE
LAST = "last_day@09:00"


async def person_id(ctx: AppContext, email: str | None = None, pupil: str | None = None) -> int:
    async with ctx.db.transaction() as s:
        if pupil is not None:
            found = await s.scalar(select(Pupil.person_id).where(Pupil.id == pupil))
        else:
            found = await s.scalar(select(Person.id).where(Person.email == email))
        assert found is not None
        return found


async def set_contact(ctx: AppContext, pid: int, **values: Any) -> None:
    async with ctx.db.transaction() as s:
        await s.execute(update(Person).where(Person.id == pid).values(**values))


async def add_unreachable_family(ctx: AppContext) -> int:
    """Pupil E003, whose only guardian has neither Telegram nor an e-mail address."""
    now = ctx.clock.now()
    async with ctx.db.transaction() as s:
        pupil_person = Person(role="pupil", nom="Roux", prenom="Lina", created_at=now)
        guardian = Person(role="guardian", nom="Roux", prenom="Max", created_at=now)
        s.add_all([pupil_person, guardian])
        await s.flush()
        s.add(Pupil(id="E003", classe="3eB", nom="Roux", prenom="Lina", person_id=pupil_person.id))
        await s.flush()
        s.add(Guardianship(pupil_id="E003", rank=1, person_id=guardian.id))
        return guardian.id


async def mark_done(ctx: AppContext, pupil: str, step: Step, by: int) -> None:
    """Record the fact that makes a step done, as the use cases do."""
    now = ctx.clock.now()
    phase = "provisoire" if step in (N, A) else "definitive"
    async with ctx.db.transaction() as s:
        if step in (N, C):
            s.add(
                ChoiceVersion(
                    pupil_id=pupil, phase=phase, version=1, voies="2GT", person_id=by, at=now
                )
            )
        else:
            s.add(
                FamilyAnswerRow(
                    pupil_id=pupil, phase=phase, accepted_voie="2GT", person_id=by, at=now
                )
            )


async def reminder_rows(ctx: AppContext) -> list[OutboxMessage]:
    async with ctx.db.transaction() as s:
        return list(
            await s.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.kind.like("reminder_%"))
                .order_by(OutboxMessage.id)
            )
        )


def by_person_and_day(rows: list[OutboxMessage]) -> dict[tuple[int, date], set[tuple[Any, ...]]]:
    got: dict[tuple[int, date], set[tuple[Any, ...]]] = defaultdict(set)
    for row in rows:
        p = row.params
        day = row.not_before.astimezone(PARIS).date()
        got[(row.person_id, day)].add((p["pupil_id"], Step(p["step"]), p["offset"], row.channel))
    return got


async def run_campaign(ctx: AppContext, clock: SimulatedClock, events: dict[datetime, Any]) -> None:
    """From 20 February to 20 June, a planner run every 50 to 150 minutes - each a new
    planner, as after a restart - with the given events happening on the way."""
    rng = random.Random(4)
    clock.set(paris(2024, 2, 20, 0, 0))
    end = paris(2024, 6, 20, 0, 0)
    pending = sorted(events.items())
    while clock.now() < end:
        clock.advance(timedelta(minutes=rng.randint(50, 150)))
        while pending and pending[0][0] <= clock.now():
            await pending.pop(0)[1]()
        await ReminderPlanner(ctx).run_once()


async def test_the_whole_campaign_day_by_day(school: AppContext, clock: SimulatedClock) -> None:
    ctx = school
    anne = await person_id(ctx, "anne.martin@example.org")
    paul = await person_id(ctx, "paul.durand@example.org")
    lea = await person_id(ctx, "lea.petit@example.org")
    zoe = await person_id(ctx, pupil="E001")
    max_ = await add_unreachable_family(ctx)
    await set_contact(ctx, anne, chat_id=101)  # on Telegram
    await set_contact(ctx, lea, chat_id=103)  # on Telegram, until she blocks the bot
    await set_contact(ctx, zoe, chat_id=201)  # the pupil too; Tom is not
    # Paul: e-mail only. Max: neither.

    async def lea_blocks_the_bot() -> None:
        await set_contact(ctx, lea, telegram_reachable=False)

    events = {
        paris(2024, 3, 5, 12): lambda: mark_done(ctx, "E001", N, anne),
        paris(2024, 4, 2, 18): lambda: mark_done(ctx, "E001", A, paul),
        paris(2024, 4, 10, 12): lea_blocks_the_bot,
        paris(2024, 5, 20, 12): lambda: mark_done(ctx, "E002", C, lea),
        paris(2024, 6, 12, 8, 30): lambda: mark_done(ctx, "E002", R, lea),
    }
    await run_campaign(ctx, clock, events)

    rows = await reminder_rows(ctx)
    got = by_person_and_day(rows)

    def day(m: int, d: int) -> date:
        return date(2024, m, d)

    expected: dict[tuple[int, date], set[tuple[Any, ...]]] = defaultdict(set)

    def expect(
        person: int, channel: str, pupil: str, *moments: tuple[Step, str | None, date]
    ) -> None:
        for step, offset, when in moments:
            expected[(person, when)].add((pupil, step, offset, channel))

    zoe_family = [
        (N, None, day(2, 26)),
        (N, "7d", day(3, 4)),  # done on the 5th: no "2d" nor last day
        (A, None, day(4, 1)),  # done on the 2nd: no "2d" (3 April) nor last day
        (C, None, day(5, 13)),
        (C, "7d", day(5, 17)),
        (C, "2d", day(5, 22)),
        (C, LAST, day(5, 24)),
        (R, None, day(6, 10)),
        (R, "2d", day(6, 12)),
        (R, LAST, day(6, 14)),
    ]
    expect(anne, "telegram", "E001", *zoe_family)
    expect(paul, "email", "E001", *zoe_family)
    expect(zoe, "telegram", "E001", (N, None, day(2, 26)), (A, None, day(4, 1)))
    expect(zoe, "telegram", "E001", (C, None, day(5, 13)), (R, None, day(6, 10)))
    lea_before = [
        (N, None, day(2, 26)),
        (N, "7d", day(3, 4)),
        (N, "2d", day(3, 9)),
        (N, LAST, day(3, 11)),
        (A, None, day(4, 1)),
        (A, "2d", day(4, 3)),
        (A, LAST, day(4, 5)),
    ]
    lea_after = [  # she blocked the bot: by e-mail from now on
        (C, None, day(5, 13)),
        (C, "7d", day(5, 17)),  # done on the 20th
        (R, None, day(6, 10)),  # answered on the 12th at 08:30, before the "2d" at 09:00
    ]
    expect(lea, "telegram", "E002", *lea_before)
    expect(lea, "email", "E002", *lea_after)
    assert dict(got) == dict(expected)

    # Never in quiet hours; each row is due when its moment came, and expires at the close.
    for row in rows:
        assert not in_quiet_hours(row.not_before, PARIS, ctx.calendar.reminders)
        assert row.expires_at == ctx.calendar.windows[Step(row.params["step"])].closes
        assert row.quiet_hours
    assert len({row.key for row in rows}) == len(rows)
    # Max was counted each time a reminder could not reach him, and staff see him.
    async with ctx.db.transaction() as s:
        audits = list(
            await s.scalars(select(AuditEntry).where(AuditEntry.action == "plan_reminders"))
        )
    assert audits and all(a.after and a.after["unreachable_guardians"] == 1 for a in audits)
    assert max_ not in {row.person_id for row in rows}
    classes = {c.classe: c for c in await status(ctx)}
    assert classes["3eB"].unreachable == ("E003 RL1",) and classes["3eA"].unreachable == ()


async def test_restarts_and_overlapping_planners_queue_each_reminder_once(
    school: AppContext, clock: SimulatedClock
) -> None:
    """Four planners (their own engines, as in four workers) race over the same interval,
    then one runs again after a restart: one row per reminder, and the same rows."""
    clock.set(paris(2024, 3, 4, 8, 0))
    await ReminderPlanner(school).run_once()  # the mark: 08:00
    clock.set(paris(2024, 3, 4, 9, 30))
    contexts = [
        AppContext(db=Database(school.db.url), calendar=school.calendar, clock=clock)
        for _ in range(4)
    ]
    try:
        summaries = await asyncio.gather(*(ReminderPlanner(c).run_once() for c in contexts))
    finally:
        for c in contexts:
            await c.db.dispose()
    rows = await reminder_rows(school)
    # "7d" for E001 (2 guardians) and E002 (1): three reminders, queued once in all.
    assert sorted((r.params["pupil_id"], r.params["offset"]) for r in rows) == [
        ("E001", "7d"),
        ("E001", "7d"),
        ("E002", "7d"),
    ]
    assert sum(s.queued for s in summaries) == 3
    assert all(s.due in (0, 3) for s in summaries)
    await ReminderPlanner(school).run_once()
    clock.advance(timedelta(hours=1))
    await ReminderPlanner(school).run_once()
    assert len(await reminder_rows(school)) == 3
    async with school.db.transaction() as s:
        mark = await s.scalar(select(PlannerMark.until))
    assert mark is not None and mark >= paris(2024, 3, 4, 10, 29)


async def test_after_an_outage_only_the_latest_reminder_of_a_step_goes(
    school: AppContext, clock: SimulatedClock
) -> None:
    clock.set(paris(2024, 3, 1, 12, 0))
    await ReminderPlanner(school).run_once()
    clock.set(paris(2024, 3, 10, 12, 0))  # "7d" (4 March) and "2d" (9 March) were missed
    summary = await ReminderPlanner(school).run_once()
    rows = await reminder_rows(school)
    assert {r.params["offset"] for r in rows} == {"2d"} and summary.queued == 3
    clock.set(paris(2024, 3, 12, 12, 0))  # the whole window is over: nothing at all
    await ReminderPlanner(school).run_once()
    assert len(await reminder_rows(school)) == 3


async def test_a_reminder_queued_before_the_step_was_done_is_dropped(
    school: AppContext, clock: SimulatedClock
) -> None:
    """The outbox may be long (65,000 guardians take half an hour at 30/s): a family that
    validates meanwhile gets no reminder of what it just did."""
    clock.set(paris(2024, 3, 4, 8, 0))
    await ReminderPlanner(school).run_once()
    clock.set(paris(2024, 3, 4, 9, 0, 30))
    await ReminderPlanner(school).run_once()
    anne = await person_id(school, "anne.martin@example.org")
    await mark_done(school, "E001", N, anne)
    jobs = await Dispatcher(school, bot=None, mailer=None).claim()
    assert [j.params["pupil_id"] for j in jobs] == ["E002"]
    async with school.db.transaction() as s:
        expired = await s.scalar(
            select(func.count()).where(
                OutboxMessage.status == "expired", OutboxMessage.last_error == "step done"
            )
        )
    assert expired == 2


async def test_the_dry_run_lists_what_would_be_due(
    school: AppContext, clock: SimulatedClock
) -> None:
    await set_contact(school, await person_id(school, "anne.martin@example.org"), chat_id=101)
    await add_unreachable_family(school)
    since, items = await preview(school, paris(2024, 3, 4, 9, 0))
    assert since < paris(2024, 3, 4, 0, 0)
    got = sorted(
        (i.reminder.pupil_id, i.reminder.offset, i.audience, i.channel or "-") for i in items
    )
    assert got == [
        ("E001", "7d", "guardian", "email"),
        ("E001", "7d", "guardian", "telegram"),
        ("E002", "7d", "guardian", "email"),
        ("E003", "7d", "guardian", "-"),
    ]
    _, none = await preview(school, paris(2024, 3, 4, 8, 59))
    assert none == []
    assert len(await reminder_rows(school)) == 0  # a dry run writes nothing


@pytest.mark.parametrize("locale", sorted(LANGUAGES))
@pytest.mark.parametrize("step", list(Step))
def test_reminder_messages_in_every_language(locale: str, step: Step) -> None:
    calendar = seed_calendar()
    window = calendar.windows[step]
    params = {
        "pupil_id": "E001",
        "pupil": "<b>Zoé & Léa</b> Martin",
        "classe": "3eA",
        "step": str(step),
        "offset": "2d",
        "opens": window.opens.isoformat(),
        "closes": window.closes.isoformat(),
    }
    for kind, audience in (
        ("reminder_open", "guardian"),
        ("reminder_open", "pupil"),
        ("reminder_close", "guardian"),
    ):
        rendered = render(kind, params | {"audience": audience}, locale, PARIS)
        parsed = parse_html(rendered.telegram_html)  # raises as Telegram would
        assert "<b>Zoé & Léa</b>" in parsed.text or audience == "pupil"
        closes = format_datetime(window.closes, PARIS, locale)
        assert closes in rendered.email_text and closes in rendered.subject + rendered.email_text
        assert "<" not in rendered.email_text.replace("<b>Zoé & Léa</b>", "")


async def test_a_window_opening_at_night_is_announced_when_quiet_hours_end(
    school: AppContext, clock: SimulatedClock
) -> None:
    """Opening at 22:00: announced at 08:00 the next morning, not in the night; and an
    offset longer than the window (a 3-day window has no "7d") is skipped."""
    school.calendar = SchoolCalendar.from_mapping(
        {
            "windows": {
                "intentions": {"opens": "2024-03-01T22:00:00", "closes": "2024-03-04"},
            },
            "reminders": {"before_close": ["7d", "2d"], "quiet_hours": "20:00-08:00"},
        }
    )
    clock.set(paris(2024, 3, 1, 21, 0))
    await ReminderPlanner(school).run_once()
    for hour in (22, 23):
        clock.set(paris(2024, 3, 1, hour, 30))
        await ReminderPlanner(school).run_once()
    clock.set(paris(2024, 3, 2, 7, 59))
    await ReminderPlanner(school).run_once()
    assert await reminder_rows(school) == []
    clock.set(paris(2024, 3, 2, 8, 1))
    await ReminderPlanner(school).run_once()
    rows = await reminder_rows(school)
    assert {r.kind for r in rows} == {"reminder_open"}
    assert {r.not_before for r in rows} == {paris(2024, 3, 2, 8, 0)}
    clock.set(paris(2024, 3, 4, 12, 0))
    await ReminderPlanner(school).run_once()
    offsets = {r.params["offset"] for r in await reminder_rows(school)}
    assert offsets == {None, "2d"}  # 2d is 2 March 09:00, inside; 7d is before the opening
