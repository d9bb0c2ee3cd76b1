"""Settings from the environment (`TSO_*`) or a TOML file; the environment wins."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path

from tso_bot.domain.calendar import CalendarError, SchoolCalendar
from tso_bot.i18n import N_, LocalizedError

PREFIX = "TSO_"


class ConfigError(LocalizedError, ValueError):
    """Settings or a calendar file that cannot be used; says what and where."""


@dataclass(frozen=True)
class Settings:
    telegram_token: str | None = None
    telegram_api_url: str = "https://api.telegram.org/bot"
    database_url: str = "sqlite+aiosqlite:///tso_bot.sqlite3"
    calendar: str = "calendar.toml"
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_tls: str = "none"
    mail_from: str = "orientation@localhost"
    default_locale: str = "fr"
    bot_username: str | None = None  # for invitation links when getMe is not at hand
    # Telegram's limits for the dispatcher, per worker process: with N workers, give each
    # 30/N so that together they stay under Telegram's ~30 messages a second.
    telegram_rate: float = 30.0
    telegram_chat_interval: float = 1.0
    # An ISO datetime to run at instead of the real time (rehearsing a campaign, tests).
    clock: str | None = None

    @classmethod
    def load(
        cls, config_file: str | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        if config_file:
            try:
                values.update(tomllib.loads(Path(config_file).read_text("utf-8")))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ConfigError(N_("{path} : {reason}"), path=config_file, reason=exc) from exc
        known = {f.name: f for f in fields(cls)}
        for name in known:
            env_value = environ.get(PREFIX + name.upper())
            if env_value not in (None, ""):
                values[name] = env_value
        unknown = set(values) - set(known)
        if unknown:
            raise ConfigError(N_("réglages inconnus : {names}"), names=", ".join(sorted(unknown)))
        for name in ("telegram_rate", "telegram_chat_interval"):
            if name in values:
                try:
                    values[name] = float(str(values[name]))
                except ValueError as exc:
                    raise ConfigError(
                        N_("{name} doit être un nombre"), name=f"TSO_{name.upper()}"
                    ) from exc
        if "smtp_port" in values:
            try:
                values["smtp_port"] = int(str(values["smtp_port"]))
            except ValueError as exc:
                raise ConfigError(N_("{name} doit être un nombre"), name="TSO_SMTP_PORT") from exc
        if values.get("clock"):
            try:
                moment = datetime.fromisoformat(str(values["clock"]))
            except ValueError as exc:
                raise ConfigError(N_("TSO_CLOCK doit être une date et une heure ISO")) from exc
            if moment.tzinfo is None:
                raise ConfigError(
                    N_("TSO_CLOCK doit donner son fuseau, par exemple 2024-03-15T17:00+01:00")
                )
        if values.get("smtp_tls", "none") not in ("none", "starttls", "ssl"):
            raise ConfigError(N_("TSO_SMTP_TLS vaut none, starttls ou ssl"))
        return cls(**values)  # type: ignore[arg-type]


def load_calendar(path: str | Path) -> SchoolCalendar:
    """Read the school's calendar file; errors name the file and the entry."""
    try:
        data = tomllib.loads(Path(path).read_text("utf-8"))
    except OSError as exc:
        raise ConfigError(
            N_("{path} : lecture du calendrier impossible ({reason})"),
            path=path,
            reason=exc.strerror,
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(N_("{path} : {reason}"), path=path, reason=exc) from exc
    try:
        return SchoolCalendar.from_mapping(data)
    except CalendarError as exc:
        raise ConfigError(N_("{path} : {reason}"), path=path, reason=exc) from exc
