"""Shared test material: the seed's calendar, a small roster, helpers."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from tso_bot.domain.calendar import SchoolCalendar
from tso_bot.sandbox.demo_seed import CALENDAR_TOML as DEMO_CALENDAR_TOML

PARIS = ZoneInfo("Europe/Paris")

# The seed letter's 2024 calendar, the very file the demo school uses.
CALENDAR_TOML = DEMO_CALENDAR_TOML


def seed_calendar() -> SchoolCalendar:
    import tomllib

    return SchoolCalendar.from_mapping(tomllib.loads(CALENDAR_TOML))


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)  # type: ignore[arg-type]


# Two pupils: Zoé with two guardians, Tom with one. Names with HTML in them on purpose.
ROSTER_CSV = (
    "classe,eleve_id,eleve_nom,eleve_prenom,rl1_nom,rl1_prenom,rl1_email,"
    "rl2_nom,rl2_prenom,rl2_email\r\n"
    "3eA,E001,Martin,Zoé,Martin,Anne,anne.martin@example.org,Durand,Paul,paul.durand@example.org\r\n"
    "3eB,E002,Petit,Tom,Petit,Léa,lea.petit@example.org,,,\r\n"
).encode()

STAFF_CSV = (
    b"role,classe,nom,prenom,email\r\n"
    b"pp,3eA,Leroy,Claire,claire.leroy@example.org\r\n"
    b"pp,3eB,Moreau,Hugo,hugo.moreau@example.org\r\n"
    b"chef,,Bernard,Sophie,chef@example.org\r\n"
)
