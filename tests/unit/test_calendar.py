"""The calendar file: windows in the school's time zone."""

from __future__ import annotations

import pytest

from tests.support import paris, seed_calendar
from tso_bot.domain.calendar import CalendarError, SchoolCalendar, Step


def test_seed_calendar_windows_are_whole_local_days() -> None:
    cal = seed_calendar()
    window = cal.windows[Step.INTENTIONS]
    assert window.opens == paris(2024, 2, 26, 0, 0)
    assert window.closes == paris(2024, 3, 11, 23, 59, 59)
    assert list(cal.windows) == [Step.INTENTIONS, Step.ACK, Step.CHOICES, Step.RESPONSE]
    assert cal.current_step(paris(2024, 4, 3, 12)) is Step.ACK
    assert cal.current_step(paris(2024, 3, 20)) is None
    assert cal.next_step(paris(2024, 3, 20)) is Step.ACK


def test_overseas_school_uses_its_own_zone() -> None:
    cal = SchoolCalendar.from_mapping(
        {
            "school": {"timezone": "America/Guadeloupe", "holidays": "FR-GP"},
            "windows": {"intentions": {"opens": "2024-02-26", "closes": "2024-03-11"}},
        }
    )
    closes = cal.windows[Step.INTENTIONS].closes
    assert closes.utcoffset() is not None
    assert closes.utcoffset().total_seconds() == -4 * 3600  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"windows": {"intentions": {"opens": "2024-03-11", "closes": "2024-02-26"}}},
            "closes before it opens",
        ),
        (
            {"windows": {"intentions": {"opens": "2024-02-30", "closes": "2024-03-11"}}},
            "invalid date",
        ),
        (
            {"windows": {"holidays": {"opens": "2024-02-26", "closes": "2024-03-11"}}},
            "unknown step",
        ),
        ({"school": {"timezone": "Mars/Olympus"}}, "unknown time zone"),
        ({"windows": {"ack": {"opens": "2024-04-01"}}}, "needs opens and closes"),
    ],
)
def test_bad_calendars_are_explained(data: dict[str, object], message: str) -> None:
    with pytest.raises(CalendarError, match=message):
        SchoolCalendar.from_mapping(data)
