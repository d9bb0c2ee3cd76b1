"""Jours ouvrables and the appeal deadline (DESIGN rule 6).

A *jour ouvrable* is every day but Sunday and the public holidays of the school's region
(Saturday counts). The deadline of "3 jours ouvrables from notification" is the 3rd working
day AFTER the notification day: the notification day itself never counts, whatever it is.
Notified on Monday -> Tue, Wed, Thu: the deadline is Thursday, until 23:59:59 local time (the
same end-of-day convention as the calendar's windows).

The arithmetic is pure and takes the holidays as a set of dates; only `public_holidays` asks
the `holidays` library (a computation, no I/O), so tests and callers can pass any set.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from datetime import date, datetime, time, timedelta, tzinfo
from functools import lru_cache

APPEAL_WORKING_DAYS = 3
END_OF_DAY = time(23, 59, 59)
_SUNDAY = 6  # date.weekday()


def is_working_day(day: date, holidays: Container[date]) -> bool:
    return day.weekday() != _SUNDAY and day not in holidays


def add_working_days(start: date, n: int, holidays: Container[date]) -> date:
    """The n-th working day after `start` (`start` itself never counts; n=0 gives `start`)."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    day = start
    while n:
        day += timedelta(days=1)
        if is_working_day(day, holidays):
            n -= 1
    return day


def parse_holidays_spec(spec: str) -> tuple[str, str | None]:
    """ "FR" -> ("FR", None); "FR-GP" -> ("FR", "GP"). Only the shape is checked here."""
    country, dash, subdiv = spec.strip().partition("-")
    if not country or (dash and not subdiv):
        raise ValueError(f"invalid holidays {spec!r}: expected a country, e.g. 'FR' or 'FR-GP'")
    return country.upper(), subdiv or None


def public_holidays(spec: str, years: Iterable[int]) -> frozenset[date]:
    """The public holidays of `spec` ("FR", "FR-GP", ...: a `holidays` country, optionally
    with a subdivision code or alias) in `years`. ValueError for a spec the library does not
    know."""
    country, subdiv = parse_holidays_spec(spec)
    try:
        return _library_holidays(country, subdiv, tuple(sorted(set(years))))
    except NotImplementedError as exc:  # the library's way to say "unknown country/subdivision"
        raise ValueError(f"unknown holidays {spec!r}: {exc}") from exc


@lru_cache(maxsize=64)
def _library_holidays(country: str, subdiv: str | None, years: tuple[int, ...]) -> frozenset[date]:
    # Imported here: the library takes tens of milliseconds to import, and only the appeal
    # deadline needs it; the rest of the domain (and the CLI start) should not pay for it.
    import holidays

    return frozenset(holidays.country_holidays(country, subdiv=subdiv, years=years))


def appeal_deadline(
    notified_at: datetime,
    tz: tzinfo,
    holidays_spec: str,
    working_days: int = APPEAL_WORKING_DAYS,
) -> datetime:
    """The last moment to appeal a decision notified at `notified_at`: the end (23:59:59
    local, aware in `tz`) of the `working_days`-th jour ouvrable after the notification day."""
    if notified_at.tzinfo is None or notified_at.utcoffset() is None:
        raise ValueError(f"notified_at must be an aware datetime, got {notified_at.isoformat()}")
    notified = notified_at.astimezone(tz).date()
    # Twice the count plus two weeks of calendar days always holds the deadline (at most one
    # Sunday a week, a few holidays); a late-December notification needs next year's holidays.
    horizon = notified + timedelta(days=2 * working_days + 14)
    table = public_holidays(holidays_spec, range(notified.year, horizon.year + 1))
    deadline = add_working_days(notified, working_days, table)
    return datetime.combine(deadline, END_OF_DAY, tzinfo=tz)
