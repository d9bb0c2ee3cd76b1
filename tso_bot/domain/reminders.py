"""The reminder planner: which reminders are due, derived from the calendar and the dossiers.

Reminders are computed, not scheduled in memory. A planner runs periodically over an interval
(since, until] and gets back every reminder due in it; the caller inserts them into the outbox
under `DueReminder.key`, a unique key, so restarts and several instances never send one twice.

Pure: no I/O, no clock. Every moment is an aware datetime; due times are returned in UTC
(compare and store them as instants, show them with `.astimezone(calendar.timezone)`).

Conventions (every clock time is the school's local time):

- "Nd" (e.g. "7d"): 09:00 on the day N days before the closing day. Not "close - N x 24 h":
  windows close at 23:59:59, so that would fall in quiet hours and be deferred to 08:00 the
  day after, one day late. A parent should get it in the morning, and "N days before"
  then matches the dates a parent reads on a calendar.
- "Nh" (e.g. "12h"): exactly N hours (elapsed time, so right across a DST change) before the
  close.
- "last_day@HH:MM": the closing day at HH:MM.
- The closing day is the local date of the close, except that a close at exactly 00:00
  belongs to the day before ("jusqu'au 11/03 minuit" may be written 2024-03-12T00:00).
- Quiet hours are [quiet_start, quiet_end): a moment inside is deferred to the next
  quiet_end. quiet_start > quiet_end wraps midnight (the default 20:00-08:00); equal bounds
  mean no quiet hours.
- A before-close reminder is kept only if, once deferred, opens <= due < closes: a window
  shorter than the offset skips that offset, and nothing is ever due after the close.
- The "window opens" announcement is due at the opening, deferred out of quiet hours, unless
  that pushes it to the close.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal, NamedTuple

from tso_bot.domain.calendar import ReminderPolicy, SchoolCalendar, Step, Window

Kind = Literal["window_open", "before_close"]
WINDOW_OPEN: Kind = "window_open"
BEFORE_CLOSE: Kind = "before_close"

# The clock time of the "Nd" reminders: a morning, when parents read their messages.
MORNING = time(9, 0)
# Bounds that keep timedelta arithmetic far from overflow; a campaign is one school year.
_MAX_DAYS = 366
_MAX_HOURS = _MAX_DAYS * 24


# --- Offsets -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DaysBefore:
    """At 09:00 on the local day `days` days before the closing day."""

    days: int

    @property
    def key(self) -> str:
        return f"{self.days}d"

    def moment(self, closes: datetime, tz: tzinfo) -> datetime:
        return local_moment(closing_day(closes, tz) - timedelta(days=self.days), MORNING, tz)


@dataclass(frozen=True)
class HoursBefore:
    """Exactly `hours` hours before the close."""

    hours: int

    @property
    def key(self) -> str:
        return f"{self.hours}h"

    def moment(self, closes: datetime, tz: tzinfo) -> datetime:
        # In UTC, so that the difference is elapsed time even across a DST change.
        return closes.astimezone(UTC) - timedelta(hours=self.hours)


@dataclass(frozen=True)
class LastDayAt:
    """At `clock` on the closing day."""

    clock: time

    @property
    def key(self) -> str:
        return f"last_day@{self.clock:%H:%M}"

    def moment(self, closes: datetime, tz: tzinfo) -> datetime:
        return local_moment(closing_day(closes, tz), self.clock, tz)


Offset = DaysBefore | HoursBefore | LastDayAt

_OFFSET = re.compile(r"(?P<n>\d+)(?P<unit>[dh])|last_day@(?P<clock>\d\d:\d\d)")
_OFFSET_HELP = (
    "expected 'Nd' (09:00, N days before the closing day), 'Nh' (N hours before the close) "
    "or 'last_day@HH:MM'"
)


def parse_offset(text: str) -> Offset:
    """Parse one `[reminders] before_close` entry; ValueError says what is wrong."""
    match = _OFFSET.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"invalid reminder offset {text!r}: {_OFFSET_HELP}")
    if match["clock"] is not None:
        return LastDayAt(_clock(text, match["clock"]))
    n = int(match["n"])
    limit = _MAX_DAYS if match["unit"] == "d" else _MAX_HOURS
    if not 1 <= n <= limit:
        raise ValueError(f"invalid reminder offset {text!r}: N must be between 1 and {limit}")
    return DaysBefore(n) if match["unit"] == "d" else HoursBefore(n)


def _clock(text: str, value: str) -> time:
    try:
        return time.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"invalid reminder offset {text!r}: {value} is not a time") from exc


def policy_offsets(policy: ReminderPolicy) -> tuple[Offset, ...]:
    """The policy's offsets, parsed, without duplicates ("7d" and "07d" are one reminder)."""
    offsets = {offset.key: offset for offset in map(parse_offset, policy.before_close)}
    return tuple(offsets.values())


# --- Local time and quiet hours ------------------------------------------------------------


def local_moment(day: date, clock: time, tz: tzinfo) -> datetime:
    """`clock` on `day` in `tz`, as a UTC instant.

    Going through UTC resolves a clock time that does not exist (the spring-forward gap) to
    the instant just after the gap, and makes the result safe to compare with any other
    aware datetime (same-tzinfo comparisons in Python ignore the UTC offset).
    """
    return datetime.combine(day, clock, tzinfo=tz).astimezone(UTC)


def closing_day(closes: datetime, tz: tzinfo) -> date:
    local = closes.astimezone(tz)
    if local.time() == time(0, 0):
        return local.date() - timedelta(days=1)
    return local.date()


def in_quiet_hours(moment: datetime, tz: tzinfo, policy: ReminderPolicy) -> bool:
    clock = moment.astimezone(tz).time()
    start, end = policy.quiet_start, policy.quiet_end
    if start == end:
        return False
    if start < end:
        return start <= clock < end
    return clock >= start or clock < end


def defer_quiet(moment: datetime, tz: tzinfo, policy: ReminderPolicy) -> datetime:
    """`moment` (as UTC), or the end of the quiet hours it falls in."""
    if not in_quiet_hours(moment, tz, policy):
        return moment.astimezone(UTC)
    local = moment.astimezone(tz)
    day = local.date()
    if policy.quiet_start > policy.quiet_end and local.time() >= policy.quiet_start:
        day += timedelta(days=1)  # the evening part of a range that wraps: ends tomorrow
    return local_moment(day, policy.quiet_end, tz)


# --- Due times -----------------------------------------------------------------------------


def reminder_time(
    window: Window, offset: Offset, tz: tzinfo, policy: ReminderPolicy
) -> datetime | None:
    """When the `offset` reminder of `window` goes out (UTC), or None to skip it."""
    due = defer_quiet(offset.moment(window.closes, tz), tz, policy)
    return due if window.opens <= due < window.closes else None


def opening_time(window: Window, tz: tzinfo, policy: ReminderPolicy) -> datetime | None:
    """When "the window is open" goes out (UTC); None if quiet hours last until the close."""
    due = defer_quiet(window.opens, tz, policy)
    return due if due < window.closes else None


class ScheduledMoment(NamedTuple):
    """One reminder moment of the campaign, for every pupil at once."""

    step: Step
    kind: Kind
    offset: str | None  # the offset's key; None for the opening announcement
    due_at: datetime  # UTC


_STEP_ORDER = {step: index for index, step in enumerate(Step)}


def due_schedule(calendar: SchoolCalendar) -> list[ScheduledMoment]:
    """Every reminder moment of the campaign, in time order. Raises ValueError for an invalid
    offset in the calendar's policy."""
    offsets = policy_offsets(calendar.reminders)
    moments: list[ScheduledMoment] = []
    for step, window in calendar.windows.items():
        moments.extend(_window_moments(step, window, offsets, calendar))
    return sorted(moments, key=_schedule_order)


def _window_moments(
    step: Step, window: Window, offsets: Sequence[Offset], calendar: SchoolCalendar
) -> Iterator[ScheduledMoment]:
    tz, policy = calendar.timezone, calendar.reminders
    opening = opening_time(window, tz, policy)
    if opening is not None:
        yield ScheduledMoment(step, WINDOW_OPEN, None, opening)
    for offset in offsets:
        due = reminder_time(window, offset, tz, policy)
        if due is not None:
            yield ScheduledMoment(step, BEFORE_CLOSE, offset.key, due)


def _schedule_order(moment: ScheduledMoment) -> tuple[datetime, int, bool, str]:
    return (
        moment.due_at,
        _STEP_ORDER[moment.step],
        moment.kind != WINDOW_OPEN,
        moment.offset or "",
    )


# --- The planner ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DossierProgress:
    """What the planner needs to know about one pupil. `done` holds the steps whose fact is
    recorded (intentions validated, ack given, choices validated, response given): the caller
    knows the database, the planner does not. Ids are person ids."""

    pupil_id: str
    done: frozenset[Step]
    guardians: tuple[int, ...]
    pupil_person: int | None


@dataclass(frozen=True)
class DueReminder:
    key: str  # reminder_key(...): unique per pupil, step, offset and recipient
    pupil_id: str
    step: Step
    kind: Kind
    offset: str | None  # the offset's key; None for the opening announcement
    recipient: int
    due_at: datetime  # UTC


def reminder_key(pupil_id: str, step: Step, offset: str | None, recipient: int) -> str:
    return f"reminder:{pupil_id}:{step}:{offset or 'open'}:{recipient}"


def plan(
    calendar: SchoolCalendar,
    progress: Iterable[DossierProgress],
    since: datetime,
    until: datetime,
) -> Iterator[DueReminder]:
    """Every reminder due in (since, until].

    Openings go to the guardians and the pupil; before-close reminders go to the guardians of
    pupils whose step is not done. The schedule is computed once per call, independently of
    the pupils, and pupils are only visited for the moments inside the interval: over a quiet
    interval `progress` is not even iterated, whatever its size.

    Consecutive intervals (t0, t1], (t1, t2], ... yield exactly what (t0, tn] yields (given the
    same progress). Arguments are checked at once; reminders are produced lazily.
    """
    low, high = _instant(since, "since"), _instant(until, "until")
    if high < low:
        raise ValueError(f"until ({until.isoformat()}) is before since ({since.isoformat()})")
    due = [moment for moment in due_schedule(calendar) if low < moment.due_at <= high]
    return _expand(due, progress)


def _expand(
    due: Sequence[ScheduledMoment], progress: Iterable[DossierProgress]
) -> Iterator[DueReminder]:
    if not due:
        return
    pupils = progress if isinstance(progress, Sequence) else list(progress)  # visited per moment
    for moment in due:
        for pupil in pupils:
            yield from _pupil_reminders(moment, pupil)


def _pupil_reminders(moment: ScheduledMoment, pupil: DossierProgress) -> Iterator[DueReminder]:
    for recipient in _recipients(moment, pupil):
        yield DueReminder(
            key=reminder_key(pupil.pupil_id, moment.step, moment.offset, recipient),
            pupil_id=pupil.pupil_id,
            step=moment.step,
            kind=moment.kind,
            offset=moment.offset,
            recipient=recipient,
            due_at=moment.due_at,
        )


def _recipients(moment: ScheduledMoment, pupil: DossierProgress) -> tuple[int, ...]:
    if moment.kind == BEFORE_CLOSE:
        # Reminders nag about something to do: only the guardians act, and only until done.
        return () if moment.step in pupil.done else tuple(dict.fromkeys(pupil.guardians))
    people = (*pupil.guardians, *(() if pupil.pupil_person is None else (pupil.pupil_person,)))
    return tuple(dict.fromkeys(people))  # a person listed twice is told once


def _instant(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got {moment.isoformat()}")
    return moment.astimezone(UTC)
