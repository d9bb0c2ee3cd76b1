"""Importing the roster (pupils, guardians, classes) and the staff list. Atomic."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from tso_bot.services.context import AppContext
from tso_bot.services.journal import audit
from tso_bot.staff.parsing import GuardianRow, RosterRow, StaffRow
from tso_bot.store.models import Guardianship, Person, Pupil


@dataclass(frozen=True)
class ImportSummary:
    created: int
    updated: int


def _name_key(nom: str, prenom: str) -> tuple[str, str]:
    return (nom.casefold().strip(), prenom.casefold().strip())


async def _guardian(
    s: AsyncSession, row: GuardianRow, current: Person | None, now: datetime, locale: str
) -> Person:
    """The same e-mail is the same person (siblings); without e-mail, the guardian
    already at that rank with the same name is kept."""
    person = None
    if row.email:
        person = await s.scalar(
            select(Person).where(Person.role == "guardian", Person.email == row.email)
        )
    if (
        person is None
        and current is not None
        and (_name_key(current.nom, current.prenom) == _name_key(row.nom, row.prenom))
    ):
        person = current
    if person is None:
        person = Person(
            role="guardian",
            nom=row.nom,
            prenom=row.prenom,
            email=row.email,
            locale=locale,
            created_at=now,
        )
        s.add(person)
        await s.flush()
    else:
        person.nom, person.prenom = row.nom, row.prenom
        person.email = row.email or person.email
    return person


async def _pupil(s: AsyncSession, row: RosterRow, now: datetime, locale: str) -> tuple[Pupil, bool]:
    pupil = await s.get(Pupil, row.eleve_id)
    if pupil is None:
        own = Person(
            role="pupil", nom=row.eleve_nom, prenom=row.eleve_prenom, locale=locale, created_at=now
        )
        s.add(own)
        await s.flush()
        pupil = Pupil(
            id=row.eleve_id,
            classe=row.classe,
            nom=row.eleve_nom,
            prenom=row.eleve_prenom,
            person_id=own.id,
        )
        s.add(pupil)
        return pupil, True
    own = await s.get_one(Person, pupil.person_id)
    pupil.classe, pupil.nom, pupil.prenom = row.classe, row.eleve_nom, row.eleve_prenom
    own.nom, own.prenom = row.eleve_nom, row.eleve_prenom
    return pupil, False


async def import_roster(ctx: AppContext, rows: list[RosterRow], locale: str) -> ImportSummary:
    now = ctx.clock.now()
    created = updated = 0
    async with ctx.db.transaction() as s:
        for row in rows:
            pupil, is_new = await _pupil(s, row, now, locale)
            await s.flush()
            links = {
                g.rank: g
                for g in await s.scalars(
                    select(Guardianship).where(Guardianship.pupil_id == pupil.id)
                )
            }
            for g in row.guardians:
                link = links.get(g.rank)
                current = await s.get(Person, link.person_id) if link else None
                person = await _guardian(s, g, current, now, locale)
                if link is None:
                    s.add(Guardianship(pupil_id=pupil.id, rank=g.rank, person_id=person.id))
                elif link.person_id != person.id:
                    link.person_id = person.id
            if 2 in links and len(row.guardians) == 1:
                await s.execute(
                    delete(Guardianship).where(
                        Guardianship.pupil_id == pupil.id, Guardianship.rank == 2
                    )
                )
            await s.flush()
            audit(
                s,
                at=now,
                actor=None,
                actor_name="cli:roster",
                action="roster_import",
                pupil_id=pupil.id,
                after={"classe": row.classe, "guardians": [g.rank for g in row.guardians]},
            )
            created += is_new
            updated += not is_new
    return ImportSummary(created, updated)


async def import_staff(ctx: AppContext, rows: list[StaffRow], locale: str) -> ImportSummary:
    now = ctx.clock.now()
    created = updated = 0
    async with ctx.db.transaction() as s:
        for row in rows:
            person = await s.scalar(
                select(Person).where(Person.role == row.role, Person.email == row.email)
            )
            if person is None:
                person = Person(
                    role=row.role,
                    nom=row.nom,
                    prenom=row.prenom,
                    email=row.email,
                    classe=row.classe if row.role == "pp" else None,
                    locale=locale,
                    created_at=now,
                )
                s.add(person)
                created += 1
            else:
                person.nom, person.prenom = row.nom, row.prenom
                person.classe = row.classe if row.role == "pp" else None
                updated += 1
            await s.flush()
            audit(
                s,
                at=now,
                actor=None,
                actor_name="cli:staff",
                action="staff_import",
                after={"person_id": person.id, "role": row.role, "classe": row.classe},
            )
    return ImportSummary(created, updated)
