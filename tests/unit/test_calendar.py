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
    ("data", "french", "english"),
    [
        (
            {"windows": {"intentions": {"opens": "2024-03-11", "closes": "2024-02-26"}}},
            "[windows] intentions : closes précède opens",
            "[windows] intentions: closes comes before opens",
        ),
        (
            {"windows": {"intentions": {"opens": "2024-02-30", "closes": "2024-03-11"}}},
            "[windows] intentions : date invalide « 2024-02-30 »",
            "[windows] intentions: invalid date “2024-02-30”",
        ),
        (
            {"windows": {"holidays": {"opens": "2024-02-26", "closes": "2024-03-11"}}},
            "[windows] holidays : étape inconnue",
            "[windows] holidays: unknown step",
        ),
        (
            {"school": {"timezone": "Mars/Olympus"}},
            "fuseau horaire inconnu « Mars/Olympus »",
            "unknown time zone “Mars/Olympus”",
        ),
        (
            {"windows": {"ack": {"opens": "2024-04-01"}}},
            "[windows] ack : opens et closes sont obligatoires",
            "[windows] ack: opens and closes are both required",
        ),
    ],
)
def test_bad_calendars_are_explained(data: dict[str, object], french: str, english: str) -> None:
    with pytest.raises(CalendarError) as err:
        SchoolCalendar.from_mapping(data)
    assert french in str(err.value)
    assert english in err.value.render("en")
