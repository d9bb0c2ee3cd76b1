"""Shared test material: the seed's calendar, a small roster, helpers."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from tso_bot.domain.calendar import SchoolCalendar

PARIS = ZoneInfo("Europe/Paris")

CALENDAR_TOML = """\
[school]
name = "Collège Jean Moulin"
timezone = "Europe/Paris"
holidays = "FR"

[windows]
intentions = { opens = "2024-02-26", closes = "2024-03-11" }
ack        = { opens = "2024-04-01", closes = "2024-04-05" }
choices    = { opens = "2024-05-13", closes = "2024-05-24" }
response   = { opens = "2024-06-10", closes = "2024-06-14" }

[reminders]
before_close = ["7d", "2d", "last_day@09:00"]
quiet_hours  = "20:00-08:00"
"""


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
