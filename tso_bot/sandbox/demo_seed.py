"""The demo school: its calendar, roster, staff and the personas a visitor plays.

Everything is created through the real services (CSV parsing, roster and staff imports,
invitations), so the demo shows exactly what a school would get from `tso-bot roster import`
and `tso-bot invites`; the personas then link by sending `/start <code>` to the bot.

The calendar keeps the 2024 dates of the school's letter (`seed/`): the demo runs on a
simulated clock anyway, so fixed dates cost nothing, and they keep every message, e-mail
and screenshot the same from one run to the next.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from tso_bot.config import load_calendar
from tso_bot.domain.calendar import SchoolCalendar, Step
from tso_bot.domain.reminders import BEFORE_CLOSE, closing_day, due_schedule, local_moment
from tso_bot.i18n import format_datetime
from tso_bot.services import roster
from tso_bot.services.context import AppContext
from tso_bot.services.invites import InviteRow, issue_invites
from tso_bot.staff.parsing import ParseResult, parse_roster, parse_staff
from tso_bot.store.models import Person, Pupil

SCHOOL_TZ = ZoneInfo("Europe/Paris")
# The demo opens on the second day of the intentions window, mid-morning.
START = datetime(2024, 2, 27, 10, 0, tzinfo=SCHOOL_TZ)

CALENDAR_TOML = """\
[school]
name = "Collège Jean Moulin (démo)"
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

# Two classes, five pupils. Zoé's guardians are the personas; Inès and Hugo are twins
# (one guardian, one account, a child picker); Léa Petit has no e-mail (Telegram only).
ROSTER_CSV = (
    "classe;eleve_id;eleve_nom;eleve_prenom;rl1_nom;rl1_prenom;rl1_email;"
    "rl2_nom;rl2_prenom;rl2_email\n"
    "3eA;E001;Martin;Zoé;Martin;Anne;anne.martin@example.org;"
    "Durand;Paul;paul.durand@example.org\n"
    "3eA;E002;Bernard;Inès;Bernard;Karim;karim.bernard@example.org;;;\n"
    "3eB;E003;Bernard;Hugo;Bernard;Karim;karim.bernard@example.org;;;\n"
    "3eB;E004;Petit;Tom;Petit;Léa;;Petit;Marc;marc.petit@example.org\n"
    "3eB;E005;Nguyen;Linh;Nguyen;Thu;thu.nguyen@example.org;;;\n"
).encode()

STAFF_CSV = (
    b"role;classe;nom;prenom;email\n"
    b"pp;3eA;Leroy;Claire;claire.leroy@college-jean-moulin.example\n"
    b"pp;3eB;Moreau;Julien;julien.moreau@college-jean-moulin.example\n"
    b"chef;;Rousseau;Sophie;chef@college-jean-moulin.example\n"
    b"secretariat;;Lambert;Nadia;secretariat@college-jean-moulin.example\n"
)


def default_calendar() -> SchoolCalendar:
    return SchoolCalendar.from_mapping(tomllib.loads(CALENDAR_TOML))


def ensure_calendar(path: Path) -> SchoolCalendar:
    """The demo's calendar file, written on first start; a visitor may edit it (the bot
    reads the file, as in production)."""
    if not path.exists():
        path.write_text(CALENDAR_TOML, encoding="utf-8")
    return load_calendar(path)


@dataclass(frozen=True)
class PersonaSpec:
    """Someone the visitor plays: a Telegram user of the emulator and a person of the roster."""

    key: str
    label: str  # the tab
    first_name: str
    last_name: str
    description: str
    invite_type: str  # the invitation row's `type`: rl | eleve | staff
    match: str  # how to find them: the e-mail (rl, staff) or the pupil id (eleve)
    linked_at_start: bool  # Anne is not, so that the visitor links her account

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def matches(self, row: InviteRow) -> bool:
        key = row.eleve_id if self.invite_type == "eleve" else row.email
        return row.type == self.invite_type and key == self.match


PERSONAS: tuple[PersonaSpec, ...] = (
    PersonaSpec(
        "parent1", "Parent 1", "Anne", "Martin",
        "Responsable légale 1 de Zoé Martin (3eA)", "rl", "anne.martin@example.org", False,
    ),
    PersonaSpec(
        "parent2", "Parent 2", "Paul", "Durand",
        "Responsable légal 2 de Zoé Martin (3eA)", "rl", "paul.durand@example.org", True,
    ),
    PersonaSpec("eleve", "Élève", "Zoé", "Martin", "Élève de 3eA", "eleve", "E001", True),
    PersonaSpec(
        "pp", "PP", "Claire", "Leroy", "Professeure principale de 3eA", "staff",
        "claire.leroy@college-jean-moulin.example", True,
    ),
    PersonaSpec(
        "chef", "Cheffe", "Sophie", "Rousseau", "Cheffe d'établissement", "staff",
        "chef@college-jean-moulin.example", True,
    ),
)  # fmt: skip


T = TypeVar("T")


def _rows(result: ParseResult[T]) -> list[T]:
    if result.issues:  # the seed is ours: an issue here is a bug, not a user error
        raise RuntimeError(f"demo seed rejected: {[i.render('fr') for i in result.issues]}")
    return result.rows


async def seed_school(ctx: AppContext) -> None:
    """Import the roster and the staff, as `tso-bot roster/staff import` would."""
    await roster.import_roster(ctx, _rows(parse_roster(ROSTER_CSV)), "fr")
    await roster.import_staff(ctx, _rows(parse_staff(STAFF_CSV)), "fr")


async def invitation_codes(ctx: AppContext, specs: list[PersonaSpec]) -> dict[str, str]:
    """Fresh codes for every unlinked person, as `tso-bot invites` issues them; returns the
    codes of the given personas (only a code's hash is stored, so the demo keeps these)."""
    rows = await issue_invites(ctx, ctx.bot_username)
    return {spec.key: row.code for spec in specs for row in rows if spec.matches(row)}


async def person_ids(ctx: AppContext) -> dict[str, int]:
    """Each persona's person id in the database."""
    found: dict[str, int] = {}
    async with ctx.db.transaction() as s:
        for spec in PERSONAS:
            if spec.invite_type == "eleve":
                query = select(Pupil.person_id).where(Pupil.id == spec.match)
            else:
                query = select(Person.id).where(Person.email == spec.match)
            person_id = await s.scalar(query)
            if person_id is None:
                raise RuntimeError(f"demo persona {spec.key} is not in the database")
            found[spec.key] = person_id
    return found


async def linked_chats(ctx: AppContext, people: dict[str, int]) -> dict[str, int | None]:
    """The chat each persona's person is linked to, if any."""
    async with ctx.db.transaction() as s:
        rows = await s.execute(
            select(Person.id, Person.chat_id).where(Person.id.in_(people.values()))
        )
        chats = {person_id: chat_id for person_id, chat_id in rows}
    return {key: chats.get(person_id) for key, person_id in people.items()}


async def reattach(ctx: AppContext, moves: dict[int, int]) -> None:
    """Point linked people ({person id: new chat id}) at the emulator's users of this run.

    The emulator lives in memory: after a restart, the personas are new Telegram users with
    new ids. A real person who changes phones would link again; in the demo, the accounts
    the visitor linked stay linked, so the sandbox moves them directly.
    """
    if not moves:
        return
    async with ctx.db.transaction() as s:
        # Free the target chat ids first: `chat_id` is unique.
        await s.execute(
            update(Person).where(Person.chat_id.in_(moves.values())).values(chat_id=None)
        )
        await s.flush()
        for person_id, chat_id in moves.items():
            await s.execute(update(Person).where(Person.id == person_id).values(chat_id=chat_id))


# --- The clock control's targets ------------------------------------------------------------


def _offset_label(offset: str | None) -> str:
    """Labels: "7d" → "Rappel J-7", "12h" → "Rappel H-12", "last_day@HH:MM" → the last day."""
    if offset is None:
        return "Annonce de l'ouverture"
    if offset.startswith("last_day@"):
        return f"Rappel du dernier jour ({offset.removeprefix('last_day@')})"
    number, unit = offset[:-1], offset[-1]
    return f"Rappel {'J' if unit == 'd' else 'H'}-{number}"


@dataclass(frozen=True)
class Jump:
    step: Step
    at: datetime
    what: str

    def to_dict(self, calendar: SchoolCalendar) -> dict[str, str]:
        when = format_datetime(self.at, calendar.timezone, "fr")
        return {
            "step": self.step.label,
            "at": self.at.isoformat(),
            "label": f"{self.what} — {when}",
        }


def jump_targets(calendar: SchoolCalendar) -> list[Jump]:
    """Where the clock control can jump: each window's opening, its last day at 09:00 and
    just after its close, plus every reminder moment. Same instant, one entry."""
    jumps: dict[datetime, Jump] = {}

    def add(step: Step, at: datetime, what: str) -> None:
        at = at.astimezone(calendar.timezone)
        if at in jumps:
            what = f"{jumps[at].what} · {what}"
        jumps[at] = Jump(step, at, what)

    for step, window in calendar.windows.items():
        add(step, window.opens, "Ouverture")
        last_day = closing_day(window.closes, calendar.timezone)
        add(step, local_moment(last_day, time(9, 0), calendar.timezone), "Dernier jour, 09:00")
        add(step, window.closes + timedelta(seconds=1), "Juste après la clôture")
    for moment in due_schedule(calendar):
        offset = moment.offset if moment.kind == BEFORE_CLOSE else None
        add(moment.step, moment.due_at, _offset_label(offset))
    return sorted(jumps.values(), key=lambda jump: jump.at)


def calendar_status(calendar: SchoolCalendar, now: datetime) -> str:
    """One line for the clock control: the open step, or the next one."""
    step = calendar.current_step(now)
    if step is not None:
        window = calendar.windows[step]
        closes = format_datetime(window.closes, calendar.timezone, "fr")
        return f"Étape ouverte : {step.label}, jusqu'au {closes}."
    upcoming = calendar.next_step(now)
    if upcoming is None:
        return "Aucune étape ouverte : la campagne est terminée."
    opens = format_datetime(calendar.windows[upcoming].opens, calendar.timezone, "fr")
    return f"Aucune étape ouverte. Prochaine : {upcoming.label}, le {opens}."


def format_moment(moment: datetime, calendar: SchoolCalendar) -> str:
    """« mardi 27 février 2024, 10:00 », in the school's zone."""
    return format_datetime(moment, calendar.timezone, "fr")


def format_mail_date(header: str, calendar: SchoolCalendar) -> str:
    """An e-mail's Date header, as the mail list shows it (the header if unreadable)."""
    try:
        return format_moment(parsedate_to_datetime(header), calendar)
    except (TypeError, ValueError):
        return header
