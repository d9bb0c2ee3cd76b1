"""The school's calendar: one window per step, in the school's time zone.

Pure: parsing takes an already-read mapping (the TOML file is read by the shell), and every
question takes `now` as an argument, an aware datetime.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tso_bot.i18n import N_, LocalizedError


class Step(StrEnum):
    """The steps a family acts on, in calendar order."""

    INTENTIONS = "intentions"
    ACK = "ack"
    CHOICES = "choices"
    RESPONSE = "response"

    @property
    def label(self) -> str:
        return _STEP_LABELS[self]


_STEP_LABELS = {
    Step.INTENTIONS: N_("Saisie des intentions provisoires"),
    Step.ACK: N_("Accusé de réception de l'avis provisoire"),
    Step.CHOICES: N_("Saisie des choix définitifs"),
    Step.RESPONSE: N_("Réponse aux propositions du conseil de classe"),
}


class WindowState(StrEnum):
    NOT_YET = "not_yet"
    OPEN = "open"
    CLOSED = "closed"


class CalendarError(LocalizedError, ValueError):
    """A calendar file that cannot be used; the message says what and where."""


@dataclass(frozen=True)
class Window:
    """A closed interval [opens, closes] of aware datetimes."""

    opens: datetime
    closes: datetime

    def state(self, now: datetime) -> WindowState:
        if now < self.opens:
            return WindowState.NOT_YET
        if now > self.closes:
            return WindowState.CLOSED
        return WindowState.OPEN

    def is_open(self, now: datetime) -> bool:
        return self.state(now) is WindowState.OPEN

    def whole_days(self, tz: ZoneInfo) -> bool:
        """Opens at midnight and closes at the end of a day, in the school's zone."""
        opens, closes = self.opens.astimezone(tz), self.closes.astimezone(tz)
        return opens.time() == time(0, 0) and closes.time() >= time(23, 59, 59)


@dataclass(frozen=True)
class ReminderPolicy:
    before_close: tuple[str, ...] = ("7d", "2d", "last_day@09:00")
    quiet_start: time = time(20, 0)
    quiet_end: time = time(8, 0)


@dataclass(frozen=True)
class SchoolCalendar:
    school_name: str
    timezone: ZoneInfo
    holidays: str
    windows: Mapping[Step, Window]
    reminders: ReminderPolicy = field(default_factory=ReminderPolicy)

    def window(self, step: Step) -> Window | None:
        return self.windows.get(step)

    def state(self, step: Step, now: datetime) -> WindowState:
        window = self.windows.get(step)
        return window.state(now) if window else WindowState.NOT_YET

    def current_step(self, now: datetime) -> Step | None:
        """The step whose window is open now, if any."""
        for step, window in self.windows.items():
            if window.is_open(now):
                return step
        return None

    def next_step(self, now: datetime) -> Step | None:
        """The next step to open after `now`."""
        upcoming = [(w.opens, s) for s, w in self.windows.items() if w.opens > now]
        return min(upcoming)[1] if upcoming else None

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.timezone)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> SchoolCalendar:
        school = data.get("school", {})
        tz = _timezone(str(school.get("timezone", "Europe/Paris")))
        windows = {
            Step(name): _window(name, spec, tz)
            for name, spec in data.get("windows", {}).items()
            if _known_step(name)
        }
        return cls(
            school_name=str(school.get("name", "")),
            timezone=tz,
            holidays=str(school.get("holidays", "FR")),
            windows=dict(sorted(windows.items(), key=lambda item: item[1].opens)),
            reminders=_policy(data.get("reminders", {})),
        )


def _known_step(name: str) -> bool:
    if name not in Step.__members__.values():
        raise CalendarError(
            N_("[windows] {name} : étape inconnue (attendu : {steps})"),
            name=name,
            steps=", ".join(Step),
        )
    return True


def _timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CalendarError(
            N_("[school] timezone : fuseau horaire inconnu « {value} »"), value=name
        ) from exc


def _moment(value: Any, tz: ZoneInfo, *, end_of_day: bool) -> datetime:
    """A TOML date (whole day) or local datetime, made aware in the school's zone."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError as exc:
            raise CalendarError(N_("date invalide « {value} »"), value=value) from exc
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, date):
        clock = time(23, 59, 59) if end_of_day else time(0, 0)
        return datetime.combine(value, clock, tzinfo=tz)
    raise CalendarError(N_("date invalide « {value} »"), value=value)


def _window(name: str, spec: Any, tz: ZoneInfo) -> Window:
    if not isinstance(spec, Mapping) or "opens" not in spec or "closes" not in spec:
        raise CalendarError(N_("[windows] {name} : opens et closes sont obligatoires"), name=name)
    try:
        window = Window(
            _moment(spec["opens"], tz, end_of_day=False),
            _moment(spec["closes"], tz, end_of_day=True),
        )
    except CalendarError as exc:
        raise CalendarError(N_("[windows] {name} : {reason}"), name=name, reason=exc) from exc
    if window.closes <= window.opens:
        raise CalendarError(N_("[windows] {name} : closes précède opens"), name=name)
    return window


def _policy(spec: Mapping[str, Any]) -> ReminderPolicy:
    default = ReminderPolicy()
    quiet = str(spec.get("quiet_hours", "20:00-08:00"))
    try:
        start, end = (time.fromisoformat(part.strip()) for part in quiet.split("-"))
    except ValueError as exc:
        raise CalendarError(
            N_("[reminders] quiet_hours : valeur invalide « {value} »"), value=quiet
        ) from exc
    before = tuple(str(x) for x in spec.get("before_close", default.before_close))
    return ReminderPolicy(before_close=before, quiet_start=start, quiet_end=end)


def end_of_local_day(moment: datetime, tz: ZoneInfo) -> datetime:
    local = moment.astimezone(tz)
    return datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=tz)
