"""/calendrier: the procedure's dates, and the same dates as an `.ics` file for the person's
own calendar app, with alarms at the moments the bot itself sends its reminders."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from icalendar import Alarm, Calendar, Event
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.error import TelegramError

from tso_bot.bot.common import Context, app_ctx, locale_for, send
from tso_bot.bot.views import Screen, calendar_lines
from tso_bot.domain.calendar import SchoolCalendar, Step
from tso_bot.domain.reminders import opening_time, policy_offsets, reminder_time
from tso_bot.i18n import Translator, format_datetime, translator
from tso_bot.notify.planner import done_steps
from tso_bot.store import queries
from tso_bot.store.models import Person

log = logging.getLogger(__name__)

ICS_NAME = "orientation.ics"
_FAMILY_ROLES = ("guardian", "pupil")


@dataclass(frozen=True)
class Deadline:
    """One window in someone's calendar: for a pupil (a family's), or the school's."""

    step: Step
    pupil_id: str | None
    pupil: str | None
    done: bool
    alarms: bool  # guardians are reminded to act; the pupil and staff are not


async def deadlines(
    session: AsyncSession, cal: SchoolCalendar, person: Person | None
) -> list[Deadline]:
    if person is None or person.role not in _FAMILY_ROLES:
        return [Deadline(step, None, None, False, False) for step in cal.windows]
    pupils = await queries.pupils_of(session, person)
    done = await done_steps(session, [p.id for p in pupils])
    return [
        Deadline(step, p.id, p.full_name, step in done.get(p.id, ()), person.role == "guardian")
        for p in pupils
        for step in cal.windows
    ]


def ics(
    _: Translator,
    cal: SchoolCalendar,
    items: Sequence[Deadline],
    now: datetime,
    domain: str,
) -> bytes:
    """An iCalendar file: one event per window, with alarms at the reminder moments still
    ahead (the opening, then each before-close offset) for steps not done yet. Times are in
    UTC, which every calendar app shows in its own zone; UIDs are stable, so importing the
    file again updates the events instead of duplicating them."""
    book = Calendar()
    book.add("prodid", "-//TSO bot//orientation//FR")
    book.add("version", "2.0")
    book.add("calscale", "GREGORIAN")
    book.add("method", "PUBLISH")
    book.add("x-wr-calname", _("Orientation — {school}", school=cal.school_name))
    for item in items:
        book.add_component(_event(_, cal, item, now, domain))
    return book.to_ical()


def _event(_: Translator, cal: SchoolCalendar, item: Deadline, now: datetime, domain: str) -> Event:
    window = cal.windows[item.step]
    step = _(item.step.label)
    event = Event()
    event.add("uid", f"{item.pupil_id or 'school'}-{item.step}@{domain}")
    event.add("dtstamp", now)
    event.add("dtstart", window.opens)
    event.add("dtend", window.closes)
    event.add("summary", f"{step} — {item.pupil}" if item.pupil else step)
    dates = {
        "opens": format_datetime(window.opens, cal.timezone, _.locale),
        "closes": format_datetime(window.closes, cal.timezone, _.locale),
    }
    description = _("Du {opens} au {closes}.", **dates)
    if item.done:
        description += " " + _("Étape faite.")
    elif item.alarms:
        description += " " + _("À faire dans la conversation Telegram du collège, avec /dossier.")
    event.add("description", description)
    if item.alarms and not item.done:
        for moment in _alarm_moments(cal, item.step):
            if moment > now:
                event.add_component(
                    _alarm(_("Rappel : {step}, jusqu'au {closes}", step=step, **dates), moment)
                )
    return event


def _alarm_moments(cal: SchoolCalendar, step: Step) -> list[datetime]:
    """The very moments of the bot's own reminders (domain.reminders)."""
    window, tz, policy = cal.windows[step], cal.timezone, cal.reminders
    moments = [opening_time(window, tz, policy)]
    moments += [reminder_time(window, offset, tz, policy) for offset in policy_offsets(policy)]
    return sorted({m for m in moments if m is not None})


def _alarm(text: str, moment: datetime) -> Alarm:
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", text)
    alarm.add("trigger", moment, parameters={"VALUE": "DATE-TIME"})
    return alarm


async def on_calendar(update: Update, context: Context) -> None:
    ctx = app_ctx(context)
    chat = update.effective_chat
    assert chat is not None
    async with ctx.db.transaction() as s:
        person = await queries.person_by_chat(s, chat.id)
        items = await deadlines(s, ctx.calendar, person)
    locale = locale_for(update, person)
    _ = translator(locale)
    now = ctx.clock.now()
    document = ics(translator(locale, html=False), ctx.calendar, items, now, ctx.bot_username)
    try:
        await chat.send_document(
            document=document,
            filename=ICS_NAME,
            caption=_("📎 Ces dates, avec leurs rappels, pour votre agenda : ouvrez le fichier."),
        )
    except TelegramError as exc:  # the dates below still answer the question
        log.warning("calendar file not sent to chat %s: %s", chat.id, exc)
    text = (
        _("📅 <b>Calendrier de l'orientation — {school}</b>", school=ctx.calendar.school_name)
        + "\n\n"
    )
    text += calendar_lines(_, ctx.calendar, now)
    await send(update, Screen(text))
