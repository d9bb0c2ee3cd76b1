"""Reading one pupil's dossier as a given person sees it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tso_bot.domain.calendar import SchoolCalendar
from tso_bot.domain.council import CouncilAnswer
from tso_bot.domain.permissions import Relation, Role
from tso_bot.domain.phases import Phase
from tso_bot.domain.ranking import Ranking
from tso_bot.domain.voies import Voie
from tso_bot.services.context import AppContext
from tso_bot.store import queries
from tso_bot.store.models import AppealRow, ChoiceVersion, DecisionRow, Person, Pupil


@dataclass(frozen=True)
class ValidatedChoices:
    ranking: Ranking
    version: int
    by: Person
    at: datetime


@dataclass(frozen=True)
class AnswerGiven:
    """The family's acknowledgement or response: a voie, or None when they refused all."""

    accepted: Voie | None
    by: Person
    at: datetime


@dataclass(frozen=True)
class DossierView:
    viewer: Person
    pupil: Pupil
    pupils: tuple[Pupil, ...]
    guardians: tuple[Person, ...]
    entering: Person | None
    choices: dict[Phase, ValidatedChoices] = field(default_factory=dict)
    pp: tuple[Person, ...] = ()
    council: dict[Phase, CouncilAnswer] = field(default_factory=dict)  # released ones only
    answers: dict[Phase, AnswerGiven] = field(default_factory=dict)
    decision: DecisionRow | None = None
    appeal: AppealRow | None = None

    @property
    def relation(self) -> Relation:
        return relation(self.viewer, self.guardians, self.entering)

    @property
    def others(self) -> tuple[Person, ...]:
        """The other guardian(s), seen from the viewer."""
        return tuple(g for g in self.guardians if g.id != self.viewer.id)


def relation(viewer: Person, guardians: tuple[Person, ...], entering: Person | None) -> Relation:
    return Relation(
        role=Role(viewer.role),
        is_guardian_of_pupil=any(g.id == viewer.id for g in guardians),
        entering_guardian_id=entering.id if entering else None,
        person_id=viewer.id,
    )


async def validated_choices(
    s: AsyncSession, version: ChoiceVersion | None
) -> ValidatedChoices | None:
    if version is None:
        return None
    by = await s.get_one(Person, version.person_id)
    return ValidatedChoices(Ranking.decode(version.voies), version.version, by, version.at)


def council_released(calendar: SchoolCalendar, phase: Phase, now: datetime) -> bool:
    """Rule 4: families see the council's answer once the answer window has opened."""
    window = calendar.window(phase.answer_step)
    return window is not None and now >= window.opens


async def load(
    s: AsyncSession,
    viewer: Person,
    pupil_id: str | None = None,
    *,
    calendar: SchoolCalendar | None = None,
    now: datetime | None = None,
) -> DossierView | None:
    """The dossier of `pupil_id` (or the viewer's current pupil), if the viewer may see it.

    With `calendar` and `now`, the council's answers a family may already see are included
    (staff always see them)."""
    pupils = await queries.pupils_of(s, viewer)
    if not pupils:
        return None
    wanted = pupil_id or viewer.current_pupil_id
    pupil = next((p for p in pupils if p.id == wanted), None)
    if pupil is None:
        if pupil_id is not None:
            return None  # asked for a pupil they may not see: a forged button
        pupil = pupils[0]
    guardians = tuple(await queries.guardians_of(s, pupil.id))
    entering_id = await queries.entering_guardian_id(s, pupil.id)
    entering = next((g for g in guardians if g.id == entering_id), None)
    choices = {}
    for phase in Phase:
        validated = await validated_choices(s, await queries.latest_version(s, pupil.id, phase))
        if validated:
            choices[phase] = validated
    pp = tuple(await queries.pp_of_class(s, pupil.classe))
    council, answers = {}, {}
    for phase in Phase:
        requested = choices[phase].ranking if phase in choices else None
        answer = await queries.council_answer(s, pupil.id, phase, requested)
        is_staff = viewer.role not in ("guardian", "pupil")
        released = (
            calendar is not None and now is not None and council_released(calendar, phase, now)
        )
        if answer is not None and (is_staff or released):
            council[phase] = answer
        given = await queries.family_answer(s, pupil.id, phase)
        if given is not None:
            by = await s.get_one(Person, given.person_id)
            accepted = Voie(given.accepted_voie) if given.accepted_voie else None
            answers[phase] = AnswerGiven(accepted, by, given.at)
    return DossierView(
        viewer,
        pupil,
        tuple(pupils),
        guardians,
        entering,
        choices,
        pp,
        council,
        answers,
        await queries.decision_of(s, pupil.id),
        await queries.appeal_of(s, pupil.id),
    )


async def load_for_chat(
    ctx: AppContext, chat_id: int, pupil_id: str | None = None
) -> tuple[Person | None, DossierView | None]:
    async with ctx.db.transaction() as s:
        person = await queries.person_by_chat(s, chat_id)
        if person is None:
            return None, None
        return person, await load(s, person, pupil_id, calendar=ctx.calendar, now=ctx.clock.now())
