"""The reminder planner: offsets, quiet hours, and a whole campaign planned hour by hour."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import PARIS, paris, seed_calendar
from tso_bot.domain.calendar import ReminderPolicy, SchoolCalendar, Step, Window
from tso_bot.domain.reminders import (
    BEFORE_CLOSE,
    WINDOW_OPEN,
    DaysBefore,
    DossierProgress,
    DueReminder,
    HoursBefore,
    LastDayAt,
    Offset,
    ScheduledMoment,
    due_schedule,
    in_quiet_hours,
    opening_time,
    parse_offset,
    plan,
    reminder_key,
    reminder_time,
)

GUADELOUPE = ZoneInfo("America/Guadeloupe")
DEFAULT = ReminderPolicy()
NO_QUIET = ReminderPolicy(quiet_start=time(0, 0), quiet_end=time(0, 0))
LAST_DAY = "last_day@09:00"

# Short names for the tables below (N for iNtentions: ruff forbids a variable named I).
N, A, C, R = Step.INTENTIONS, Step.ACK, Step.CHOICES, Step.RESPONSE

# The seed campaign's reminder moments, by hand (Europe/Paris local time). "ack" and
# "response" last 5 days, so their "7d" would fall before the opening and is skipped.
SEED_MOMENTS = [
    (paris(2024, 2, 26, 8), N, None),
    (paris(2024, 3, 4, 9), N, "7d"),
    (paris(2024, 3, 9, 9), N, "2d"),
    (paris(2024, 3, 11, 9), N, LAST_DAY),
    (paris(2024, 4, 1, 8), A, None),
    (paris(2024, 4, 3, 9), A, "2d"),
    (paris(2024, 4, 5, 9), A, LAST_DAY),
    (paris(2024, 5, 13, 8), C, None),
    (paris(2024, 5, 17, 9), C, "7d"),
    (paris(2024, 5, 22, 9), C, "2d"),
    (paris(2024, 5, 24, 9), C, LAST_DAY),
    (paris(2024, 6, 10, 8), R, None),
    (paris(2024, 6, 12, 9), R, "2d"),
    (paris(2024, 6, 14, 9), R, LAST_DAY),
]

CAMPAIGN_START = datetime(2024, 2, 20, tzinfo=UTC)
CAMPAIGN_END = datetime(2024, 6, 20, tzinfo=UTC)

# Three pupils: Alice's family validates intentions on 5 March; Bruno's never acts; Chloé has
# a single guardian and no Telegram account of her own.
ALICE_VALIDATES = paris(2024, 3, 5, 18, 30)
ALICE = DossierProgress("E-ALICE", frozenset(), guardians=(1, 2), pupil_person=10)
BRUNO = DossierProgress("E-BRUNO", frozenset(), guardians=(3, 4), pupil_person=20)
CHLOE = DossierProgress("E-CHLOE", frozenset(), guardians=(5,), pupil_person=None)


def progress_at(now: datetime) -> list[DossierProgress]:
    """The dossiers as the planner would read them from the database at `now`."""
    alice = ALICE
    if now >= ALICE_VALIDATES:
        alice = DossierProgress(ALICE.pupil_id, frozenset({N}), ALICE.guardians, 10)
    return [alice, BRUNO, CHLOE]


def hours(start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    moment = start
    while moment < end:
        yield moment, moment + timedelta(hours=1)
        moment += timedelta(hours=1)


def simulate(calendar: SchoolCalendar) -> list[DueReminder]:
    """The planner run every hour across the campaign, reading the dossiers each time."""
    sent: list[DueReminder] = []
    for since, until in hours(CAMPAIGN_START, CAMPAIGN_END):
        sent.extend(plan(calendar, progress_at(until), since, until))
    return sent


Entry = tuple[Step, str | None]  # (step, offset key or None for the opening)


def by_recipient_and_day(sent: list[DueReminder]) -> dict[int, dict[date, set[Entry]]]:
    table: dict[int, dict[date, set[Entry]]] = defaultdict(lambda: defaultdict(set))
    for reminder in sent:
        day = reminder.due_at.astimezone(PARIS).date()
        table[reminder.recipient][day].add((reminder.step, reminder.offset))
    return {person: dict(days) for person, days in table.items()}


# --- Offsets -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "offset", "key"),
    [
        ("7d", DaysBefore(7), "7d"),
        (" 07d ", DaysBefore(7), "7d"),
        ("2d", DaysBefore(2), "2d"),
        ("12h", HoursBefore(12), "12h"),
        ("last_day@09:00", LastDayAt(time(9, 0)), "last_day@09:00"),
        ("last_day@18:30", LastDayAt(time(18, 30)), "last_day@18:30"),
    ],
)
def test_parse_offset(text: str, offset: Offset, key: str) -> None:
    assert parse_offset(text) == offset
    assert parse_offset(text).key == key


@pytest.mark.parametrize(
    "text",
    [
        *("", "7", "d", "7w", "7 d", "0d", "0h", "-1d", "400d", "9000h", "7d@09:00"),
        *("last_day", "last_day@9:00", "last_day@25:00", "last_day@09:60"),
    ],
)
def test_parse_offset_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid reminder offset") as info:
        parse_offset(text)
    assert repr(text) in str(info.value)


def test_duplicate_offsets_are_one_reminder() -> None:
    cal = seed_calendar()
    policy = ReminderPolicy(before_close=("2d", "02d"))
    cal = SchoolCalendar(cal.school_name, cal.timezone, cal.holidays, cal.windows, policy)
    assert [m.offset for m in due_schedule(cal) if m.step is N] == [None, "2d"]


# --- Quiet hours and single moments -------------------------------------------------------


@pytest.mark.parametrize(
    ("opens", "expected"),
    [
        (paris(2024, 3, 4, 0, 0), paris(2024, 3, 4, 8, 0)),
        (paris(2024, 3, 4, 7, 59), paris(2024, 3, 4, 8, 0)),
        (paris(2024, 3, 4, 8, 0), paris(2024, 3, 4, 8, 0)),
        (paris(2024, 3, 4, 12, 0), paris(2024, 3, 4, 12, 0)),
        (paris(2024, 3, 4, 19, 59), paris(2024, 3, 4, 19, 59)),
        (paris(2024, 3, 4, 20, 0), paris(2024, 3, 5, 8, 0)),
        (paris(2024, 3, 4, 23, 30), paris(2024, 3, 5, 8, 0)),
    ],
)
def test_opening_is_deferred_out_of_quiet_hours(opens: datetime, expected: datetime) -> None:
    window = Window(opens, paris(2024, 3, 11, 23, 59, 59))
    assert opening_time(window, PARIS, DEFAULT) == expected


def test_opening_inside_quiet_hours_until_the_close_is_skipped() -> None:
    window = Window(paris(2024, 3, 4, 21, 0), paris(2024, 3, 4, 23, 0))
    assert opening_time(window, PARIS, DEFAULT) is None


def test_quiet_hours_that_do_not_wrap_midnight() -> None:
    lunch = ReminderPolicy(quiet_start=time(12, 0), quiet_end=time(14, 0))
    window = Window(paris(2024, 3, 4, 13, 0), paris(2024, 3, 11, 23, 59, 59))
    assert opening_time(window, PARIS, lunch) == paris(2024, 3, 4, 14, 0)
    assert not in_quiet_hours(paris(2024, 3, 4, 23, 0), PARIS, lunch)
    assert not in_quiet_hours(paris(2024, 3, 4, 3, 0), PARIS, NO_QUIET)


def test_reminder_deferred_past_the_close_is_skipped() -> None:
    window = Window(paris(2024, 3, 4), paris(2024, 3, 11, 23, 59, 59))
    # 21:59:59 is quiet; 08:00 the next day is after the close.
    assert reminder_time(window, HoursBefore(2), PARIS, DEFAULT) is None
    # 11:59:59 is not quiet: kept as is.
    assert reminder_time(window, HoursBefore(12), PARIS, DEFAULT) == paris(2024, 3, 11, 11, 59, 59)
    # 30 h before: 17:59:59 the day before, not quiet either.
    assert reminder_time(window, HoursBefore(30), PARIS, DEFAULT) == paris(2024, 3, 10, 17, 59, 59)


def test_reminder_at_or_after_the_close_is_skipped() -> None:
    window = Window(paris(2024, 3, 4), paris(2024, 3, 11, 9, 0))
    assert reminder_time(window, parse_offset(LAST_DAY), PARIS, DEFAULT) is None
    assert reminder_time(window, parse_offset("last_day@08:59"), PARIS, DEFAULT) == paris(
        2024, 3, 11, 8, 59
    )


def test_window_shorter_than_the_offset_skips_it() -> None:
    window = Window(paris(2024, 4, 1), paris(2024, 4, 5, 23, 59, 59))
    assert reminder_time(window, DaysBefore(7), PARIS, DEFAULT) is None
    assert reminder_time(window, DaysBefore(4), PARIS, DEFAULT) == paris(2024, 4, 1, 9, 0)
    assert reminder_time(window, DaysBefore(2), PARIS, DEFAULT) == paris(2024, 4, 3, 9, 0)
    # Opening at 10:00 on the 1st: "4d" (09:00 on the 1st) would be before it.
    late = Window(paris(2024, 4, 1, 10, 0), window.closes)
    assert reminder_time(late, DaysBefore(4), PARIS, DEFAULT) is None


def test_close_at_midnight_belongs_to_the_day_before() -> None:
    # "jusqu'au 11/03 minuit" written as the 12th at 00:00.
    window = Window(paris(2024, 2, 26), paris(2024, 3, 12, 0, 0))
    assert reminder_time(window, parse_offset(LAST_DAY), PARIS, DEFAULT) == paris(2024, 3, 11, 9)
    assert reminder_time(window, DaysBefore(2), PARIS, DEFAULT) == paris(2024, 3, 9, 9)


@settings(max_examples=200, deadline=None)
@given(
    opens=st.datetimes(datetime(2024, 1, 1), datetime(2024, 12, 1), timezones=st.just(PARIS)),
    length=st.timedeltas(timedelta(minutes=1), timedelta(days=30)),
    offset=st.one_of(
        st.integers(1, 40).map(DaysBefore),
        st.integers(1, 24 * 40).map(HoursBefore),
        st.times().map(lambda t: LastDayAt(t.replace(second=0, microsecond=0))),
    ),
)
def test_a_reminder_is_inside_its_window_and_never_quiet(
    opens: datetime, length: timedelta, offset: Offset
) -> None:
    window = Window(opens, opens + length)
    due = reminder_time(window, offset, PARIS, DEFAULT)
    if due is not None:
        assert window.opens <= due < window.closes
        assert not in_quiet_hours(due, PARIS, DEFAULT)
    opening = opening_time(window, PARIS, DEFAULT)
    if opening is not None:
        assert window.opens <= opening < window.closes
        assert not in_quiet_hours(opening, PARIS, DEFAULT)


# --- The seed campaign ---------------------------------------------------------------------


def test_due_schedule_of_the_seed_calendar() -> None:
    schedule = due_schedule(seed_calendar())
    expected = [
        ScheduledMoment(step, WINDOW_OPEN if offset is None else BEFORE_CLOSE, offset, due)
        for due, step, offset in SEED_MOMENTS
    ]
    assert schedule == expected
    assert all(m.due_at.tzinfo is UTC for m in schedule)


def test_campaign_hour_by_hour_sends_exactly_the_expected_reminders() -> None:
    sent = simulate(seed_calendar())
    table = by_recipient_and_day(sent)
    d = date
    never_acts: dict[date, set[Entry]] = {
        d(2024, 2, 26): {(N, None)},
        d(2024, 3, 4): {(N, "7d")},
        d(2024, 3, 9): {(N, "2d")},
        d(2024, 3, 11): {(N, LAST_DAY)},
        d(2024, 4, 1): {(A, None)},
        d(2024, 4, 3): {(A, "2d")},
        d(2024, 4, 5): {(A, LAST_DAY)},
        d(2024, 5, 13): {(C, None)},
        d(2024, 5, 17): {(C, "7d")},
        d(2024, 5, 22): {(C, "2d")},
        d(2024, 5, 24): {(C, LAST_DAY)},
        d(2024, 6, 10): {(R, None)},
        d(2024, 6, 12): {(R, "2d")},
        d(2024, 6, 14): {(R, LAST_DAY)},
    }
    # Alice's family validated on 5 March: the 7d reminder (4 March) went out, 2d and the last
    # day did not; every later step is still to do.
    validated = {
        day: moments
        for day, moments in never_acts.items()
        if day not in (d(2024, 3, 9), d(2024, 3, 11))
    }
    openings = {day: m for day, m in never_acts.items() if next(iter(m))[1] is None}
    assert table == {
        1: validated,
        2: validated,
        3: never_acts,
        4: never_acts,
        5: never_acts,
        10: openings,
        20: openings,
    }


def test_campaign_hour_by_hour_invariants() -> None:
    cal = seed_calendar()
    sent = simulate(cal)
    assert len({r.key for r in sent}) == len(sent)  # each reminder exactly once
    for reminder in sent:
        window = cal.windows[reminder.step]
        assert reminder.key == reminder_key(
            reminder.pupil_id, reminder.step, reminder.offset, reminder.recipient
        )
        assert not in_quiet_hours(reminder.due_at, PARIS, cal.reminders)
        assert window.opens <= reminder.due_at < window.closes
        if reminder.kind == BEFORE_CLOSE:
            assert reminder.recipient in (1, 2, 3, 4, 5)  # never the pupil
        if reminder.pupil_id == ALICE.pupil_id and reminder.step is N:
            assert reminder.due_at < ALICE_VALIDATES or reminder.kind == WINDOW_OPEN


def test_the_hourly_runs_equal_one_run_over_the_campaign() -> None:
    cal = seed_calendar()
    pupils = [BRUNO, CHLOE]
    hourly = [r for s, u in hours(CAMPAIGN_START, CAMPAIGN_END) for r in plan(cal, pupils, s, u)]
    whole = list(plan(cal, pupils, CAMPAIGN_START, CAMPAIGN_END))
    assert hourly == whole
    assert len(whole) == 14 * 3 + 4 * 1  # 14 moments x 3 guardians, 4 openings x 1 pupil


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.datetimes(
            datetime(2024, 2, 21), datetime(2024, 6, 19), timezones=st.sampled_from([UTC, PARIS])
        ),
        max_size=40,
    )
)
def test_any_split_of_the_campaign_gives_the_same_reminders(cuts: list[datetime]) -> None:
    cal = seed_calendar()
    pupils = [ALICE, BRUNO, CHLOE]
    bounds = [CAMPAIGN_START, *sorted(cuts, key=lambda cut: cut.astimezone(UTC)), CAMPAIGN_END]
    pieces = [r for s, u in pairwise(bounds) for r in plan(cal, pupils, s, u)]
    whole = list(plan(cal, pupils, CAMPAIGN_START, CAMPAIGN_END))
    assert len(pieces) == len(set(pieces))  # no duplicates
    assert set(pieces) == set(whole)  # no gaps


def test_interval_is_open_at_since_and_closed_at_until() -> None:
    cal = seed_calendar()
    opening = paris(2024, 2, 26, 8)
    assert [r.recipient for r in plan(cal, [CHLOE], opening - timedelta(hours=1), opening)] == [5]
    assert list(plan(cal, [CHLOE], opening, opening + timedelta(hours=1))) == []


# --- Scale and arguments -------------------------------------------------------------------


class Untouchable:
    """Dossiers that must not be read."""

    def __iter__(self) -> Iterator[DossierProgress]:
        raise AssertionError("the planner read the dossiers over a quiet interval")


def test_a_quiet_interval_does_not_read_the_dossiers() -> None:
    cal = seed_calendar()
    quiet = plan(cal, Untouchable(), paris(2024, 3, 20), paris(2024, 3, 31))
    assert list(quiet) == []


def test_academie_scale_one_pass_per_moment() -> None:
    cal = seed_calendar()
    pupils = (
        DossierProgress(
            f"E{n:05d}", frozenset({N}) if n % 2 else frozenset(), (2 * n, 2 * n + 1), None
        )
        for n in range(35_000)
    )
    # A generator, read once although two moments fall in the interval.
    sent = list(plan(cal, pupils, paris(2024, 3, 4), paris(2024, 3, 10)))
    assert len(sent) == 2 * 17_500 * 2  # 7d and 2d, to both guardians of the pupils not done
    assert len({r.key for r in sent}) == len(sent)


def test_a_person_listed_twice_is_told_once() -> None:
    cal = seed_calendar()
    twice = DossierProgress("E1", frozenset(), guardians=(7, 7), pupil_person=7)
    sent = list(plan(cal, [twice], paris(2024, 2, 26), paris(2024, 2, 27)))
    assert [(r.recipient, r.key) for r in sent] == [(7, "reminder:E1:intentions:open:7")]


def test_plan_checks_its_interval() -> None:
    cal = seed_calendar()
    with pytest.raises(ValueError, match="aware"):
        plan(cal, [], datetime(2024, 3, 1), paris(2024, 3, 2))
    with pytest.raises(ValueError, match="before since"):
        plan(cal, [], paris(2024, 3, 2), paris(2024, 3, 1))


def test_invalid_policy_offset_is_reported() -> None:
    cal = seed_calendar()
    bad = ReminderPolicy(before_close=("7d", "1w"))
    cal = SchoolCalendar(cal.school_name, cal.timezone, cal.holidays, cal.windows, bad)
    with pytest.raises(ValueError, match="'1w'"):
        due_schedule(cal)


# --- Time zones ----------------------------------------------------------------------------


def test_days_offset_is_local_morning_across_the_spring_dst_change() -> None:
    # Paris goes from UTC+1 to UTC+2 on Sunday 31 March 2024.
    window = Window(paris(2024, 3, 20), paris(2024, 4, 3, 23, 59, 59))
    seven = reminder_time(window, DaysBefore(7), PARIS, DEFAULT)
    two = reminder_time(window, DaysBefore(2), PARIS, DEFAULT)
    assert seven == datetime(2024, 3, 27, 8, 0, tzinfo=UTC)  # 09:00 CET
    assert two == datetime(2024, 4, 1, 7, 0, tzinfo=UTC)  # 09:00 CEST
    on_sunday = reminder_time(window, DaysBefore(3), PARIS, DEFAULT)
    assert on_sunday == datetime(2024, 3, 31, 7, 0, tzinfo=UTC)  # 09:00 CEST, the DST day


def test_hours_offset_is_elapsed_time_across_the_dst_change() -> None:
    window = Window(paris(2024, 3, 20), paris(2024, 3, 31, 12, 0))  # 12:00 CEST = 10:00 UTC
    due = reminder_time(window, HoursBefore(12), PARIS, NO_QUIET)
    assert due == datetime(2024, 3, 30, 22, 0, tzinfo=UTC)  # 23:00 CET: 11 h on the wall clock
    # With quiet hours it is deferred to 08:00 CEST on the Sunday.
    deferred = reminder_time(window, HoursBefore(12), PARIS, DEFAULT)
    assert deferred == datetime(2024, 3, 31, 6, 0, tzinfo=UTC)


def test_campaign_across_the_dst_change_hour_by_hour() -> None:
    cal = SchoolCalendar.from_mapping(
        {
            "school": {"timezone": "Europe/Paris"},
            "windows": {"ack": {"opens": "2024-03-28", "closes": "2024-04-02"}},
            "reminders": {"before_close": ["2d", "3d", "36h"]},
        }
    )
    start, end = datetime(2024, 3, 27, tzinfo=UTC), datetime(2024, 4, 3, tzinfo=UTC)
    sent = [r for s, u in hours(start, end) for r in plan(cal, [CHLOE], s, u)]
    local = {r.offset: r.due_at.astimezone(PARIS).replace(tzinfo=None) for r in sent}
    assert local == {
        None: datetime(2024, 3, 28, 8, 0),
        "3d": datetime(2024, 3, 30, 9, 0),
        "2d": datetime(2024, 3, 31, 9, 0),
        # 23:59:59 CEST on 2 April minus 36 h = 11:59:59 CEST on 1 April.
        "36h": datetime(2024, 4, 1, 11, 59, 59),
    }


def test_overseas_school_plans_in_its_own_zone() -> None:
    cal = SchoolCalendar.from_mapping(
        {
            "school": {"timezone": "America/Guadeloupe", "holidays": "FR-GP"},
            "windows": {
                "intentions": {"opens": "2024-02-26", "closes": "2024-03-11"},
                "ack": {"opens": "2024-04-01", "closes": "2024-04-05"},
            },
        }
    )
    schedule = due_schedule(cal)
    # UTC-4 all year: 08:00 local is 12:00 UTC, 09:00 is 13:00 UTC.
    assert [(m.step, m.offset, m.due_at) for m in schedule] == [
        (N, None, datetime(2024, 2, 26, 12, tzinfo=UTC)),
        (N, "7d", datetime(2024, 3, 4, 13, tzinfo=UTC)),
        (N, "2d", datetime(2024, 3, 9, 13, tzinfo=UTC)),
        (N, LAST_DAY, datetime(2024, 3, 11, 13, tzinfo=UTC)),
        (A, None, datetime(2024, 4, 1, 12, tzinfo=UTC)),
        (A, "2d", datetime(2024, 4, 3, 13, tzinfo=UTC)),
        (A, LAST_DAY, datetime(2024, 4, 5, 13, tzinfo=UTC)),
    ]
    sent = [r for s, u in hours(CAMPAIGN_START, CAMPAIGN_END) for r in plan(cal, [BRUNO], s, u)]
    assert len(sent) == 7 * 2 + 2  # both guardians every moment, the pupil at both openings
    assert not any(in_quiet_hours(r.due_at, GUADELOUPE, cal.reminders) for r in sent)
    # Paris's morning of the opening day is still night in Guadeloupe: nothing is due yet.
    assert not list(plan(cal, [BRUNO], paris(2024, 2, 26, 0), paris(2024, 2, 26, 12)))
