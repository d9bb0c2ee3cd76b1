"""Small reads shared by the use cases."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tso_bot.domain.council import Avis, CouncilAnswer, CouncilLine
from tso_bot.domain.ranking import Ranking
from tso_bot.domain.voies import Voie
from tso_bot.store.models import (
    AppealRow,
    ChoiceVersion,
    CouncilAnswerRow,
    DecisionRow,
    Draft,
    EnteringGuardian,
    FamilyAnswerRow,
    Guardianship,
    Person,
    Pupil,
)


async def person_by_chat(session: AsyncSession, chat_id: int) -> Person | None:
    return await session.scalar(select(Person).where(Person.chat_id == chat_id))


async def pupils_of(session: AsyncSession, person: Person) -> list[Pupil]:
    """The pupils whose dossier this person may see, in a stable order."""
    if person.role == "guardian":
        query = select(Pupil).join(Guardianship).where(Guardianship.person_id == person.id)
    elif person.role == "pupil":
        query = select(Pupil).where(Pupil.person_id == person.id)
    elif person.role == "pp":
        query = select(Pupil).where(Pupil.classe == person.classe)
    else:  # chef, secretariat: the whole school
        query = select(Pupil)
    return list(await session.scalars(query.order_by(Pupil.classe, Pupil.nom, Pupil.prenom)))


async def guardians_of(session: AsyncSession, pupil_id: str) -> list[Person]:
    rows = await session.execute(
        select(Person)
        .join(Guardianship, Guardianship.person_id == Person.id)
        .where(Guardianship.pupil_id == pupil_id)
        .order_by(Guardianship.rank)
    )
    return list(rows.scalars())


async def entering_guardian_id(session: AsyncSession, pupil_id: str) -> int | None:
    return await session.scalar(
        select(EnteringGuardian.person_id).where(EnteringGuardian.pupil_id == pupil_id)
    )


async def latest_version(session: AsyncSession, pupil_id: str, phase: str) -> ChoiceVersion | None:
    return await session.scalar(
        select(ChoiceVersion)
        .where(ChoiceVersion.pupil_id == pupil_id, ChoiceVersion.phase == phase)
        .order_by(ChoiceVersion.version.desc())
        .limit(1)
    )


async def draft_of(
    session: AsyncSession, pupil_id: str, phase: str, person_id: int
) -> Draft | None:
    return await session.get(Draft, (pupil_id, phase, person_id))


async def pp_of_class(session: AsyncSession, classe: str) -> list[Person]:
    return list(
        await session.scalars(
            select(Person).where(Person.role == "pp", Person.classe == classe).order_by(Person.id)
        )
    )


async def council_answer(
    session: AsyncSession, pupil_id: str, phase: str, requested: Ranking | None = None
) -> CouncilAnswer | None:
    """The council's lines for a pupil and phase: requested voies in rank order first."""
    rows = list(
        await session.scalars(
            select(CouncilAnswerRow).where(
                CouncilAnswerRow.pupil_id == pupil_id, CouncilAnswerRow.phase == phase
            )
        )
    )
    if not rows:
        return None
    order = {v: i for i, v in enumerate(requested.voies)} if requested else {}
    rows.sort(key=lambda r: (order.get(Voie(r.voie), len(order)), Voie(r.voie).value))
    return CouncilAnswer(tuple(CouncilLine(Voie(r.voie), Avis(r.avis), r.comment) for r in rows))


async def family_answer(session: AsyncSession, pupil_id: str, phase: str) -> FamilyAnswerRow | None:
    return await session.get(FamilyAnswerRow, (pupil_id, phase))


async def decision_of(session: AsyncSession, pupil_id: str) -> DecisionRow | None:
    return await session.get(DecisionRow, pupil_id)


async def appeal_of(session: AsyncSession, pupil_id: str) -> AppealRow | None:
    return await session.get(AppealRow, pupil_id)


async def chefs(session: AsyncSession) -> list[Person]:
    return list(
        await session.scalars(select(Person).where(Person.role == "chef").order_by(Person.id))
    )
