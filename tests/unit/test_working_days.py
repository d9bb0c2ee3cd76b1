"""Jours ouvrables and the appeal deadline (rule 6): every day but Sunday and public holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support import PARIS, paris
from tso_bot.domain.working_days import (
    add_working_days,
    appeal_deadline,
    is_working_day,
    parse_holidays_spec,
    public_holidays,
)

GUADELOUPE = ZoneInfo("America/Guadeloupe")
FR_2024 = public_holidays("FR", [2024])
GP_2024 = public_holidays("FR-GP", [2024])


@pytest.mark.parametrize(
    ("notified", "deadline", "why"),
    [
        (date(2024, 3, 4), date(2024, 3, 7), "Monday -> Tue, Wed, Thu"),
        (date(2024, 3, 7), date(2024, 3, 11), "Fri, Sat, (Sunday), Mon"),
        (date(2024, 3, 9), date(2024, 3, 13), "a Saturday: (Sunday), Mon, Tue, Wed"),
        (date(2024, 3, 10), date(2024, 3, 13), "a Sunday: the notification day never counts"),
        (date(2024, 3, 29), date(2024, 4, 3), "Sat, (Sunday), (Easter Monday 1/04), Tue, Wed"),
        (date(2024, 4, 30), date(2024, 5, 4), "(1 May, a Wednesday), Thu, Fri, Sat"),
        (date(2024, 5, 6), date(2024, 5, 11), "Tue, (8 May), (Ascension 9/05), Fri, Sat"),
        (date(2024, 5, 7), date(2024, 5, 13), "(8 May), (9 May), Fri, Sat, (Sunday), Mon"),
        (date(2024, 5, 8), date(2024, 5, 13), "(Ascension), Fri, Sat, (Sunday), Mon"),
        (date(2024, 5, 24), date(2024, 5, 28), "Sat, (Sunday), Mon 27, Tue: 27 May works in FR"),
    ],
)
def test_three_working_days_in_metropolitan_france(
    notified: date, deadline: date, why: str
) -> None:
    assert add_working_days(notified, 3, FR_2024) == deadline, why


def test_guadeloupe_has_its_own_holidays() -> None:
    # The library has the abolition of slavery in Guadeloupe (27 May), and more.
    assert date(2024, 5, 27) in GP_2024
    assert date(2024, 5, 27) not in FR_2024
    assert {date(2024, 3, 7), date(2024, 3, 29), date(2024, 7, 21)} <= GP_2024  # Mi-Carême...
    assert FR_2024 <= GP_2024
    # Friday 24 May: Sat, (Sunday), (27 May), Tue, Wed.
    assert add_working_days(date(2024, 5, 24), 3, GP_2024) == date(2024, 5, 29)


def test_appeal_deadline_is_the_end_of_the_local_deadline_day() -> None:
    # 23:30 in Paris on Monday is 22:30 UTC: the notification day is the local Monday.
    deadline = appeal_deadline(datetime(2024, 3, 4, 22, 30, tzinfo=UTC), PARIS, "FR")
    assert deadline == paris(2024, 3, 7, 23, 59, 59)
    assert deadline.tzinfo is PARIS


def test_appeal_deadline_of_an_overseas_school() -> None:
    # Friday 20:00 in Guadeloupe is already Saturday in UTC.
    notified = datetime(2024, 5, 25, 0, 0, tzinfo=UTC)
    deadline = appeal_deadline(notified, GUADELOUPE, "FR-GP")
    assert deadline == datetime(2024, 5, 29, 23, 59, 59, tzinfo=GUADELOUPE)
    # The same moment in metropolitan France: Saturday 02:00, then Mon (27 May works), Tue, Wed.
    assert appeal_deadline(notified, PARIS, "FR") == paris(2024, 5, 29, 23, 59, 59)


def test_appeal_deadline_across_new_year() -> None:
    # Monday 30 December: Tue 31, (1 January 2025), Thu 2, Fri 3.
    deadline = appeal_deadline(paris(2024, 12, 30, 10), PARIS, "FR")
    assert deadline == paris(2025, 1, 3, 23, 59, 59)


def test_appeal_deadline_needs_an_aware_moment() -> None:
    with pytest.raises(ValueError, match="aware"):
        appeal_deadline(datetime(2024, 3, 4, 10), PARIS, "FR")


def test_zero_and_negative_counts() -> None:
    assert add_working_days(date(2024, 3, 10), 0, FR_2024) == date(2024, 3, 10)
    with pytest.raises(ValueError, match=">= 0"):
        add_working_days(date(2024, 3, 10), -1, FR_2024)


@given(
    start=st.dates(date(2023, 1, 1), date(2025, 12, 1)),
    n=st.integers(1, 40),
)
def test_the_deadline_is_the_nth_working_day_after(start: date, n: int) -> None:
    table = public_holidays("FR-GP", range(2023, 2027))
    deadline = add_working_days(start, n, table)
    assert deadline > start
    assert is_working_day(deadline, table)
    days = [start + timedelta(days=k) for k in range(1, (deadline - start).days + 1)]
    assert sum(is_working_day(day, table) for day in days) == n


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        ("FR", ("FR", None)),
        (" fr ", ("FR", None)),
        ("FR-GP", ("FR", "GP")),
        ("FR-971", ("FR", "971")),
    ],
)
def test_parse_holidays_spec(spec: str, parsed: tuple[str, str | None]) -> None:
    assert parse_holidays_spec(spec) == parsed


@pytest.mark.parametrize("spec", ["", "-GP", "FR-", "XX", "FR-ZZ", "FR-gp"])
def test_unknown_holidays_spec(spec: str) -> None:
    with pytest.raises(ValueError, match="holidays"):
        public_holidays(spec, [2024])


def test_public_holidays_of_no_year() -> None:
    assert public_holidays("FR", []) == frozenset()
