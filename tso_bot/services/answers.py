"""Rule 5: the family's acknowledgement (provisoire) or response (définitive).

Either guardian, once, within the window: accept one voie that got `oui` or that the
council proposed, or refuse them all. The primary key of `family_answers` makes "once" hold
even when both guardians press at the same instant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tso_bot.domain.council import AnswerProblem, FamilyAnswer, check_family_answer
from tso_bot.domain.permissions import Denial, may_answer_council
from tso_bot.domain.phases import Phase
from tso_bot.domain.voies import Voie
from tso_bot.services import dossier as dossiers
from tso_bot.services.context import AppContext
from tso_bot.services.journal import audit, notify, tell_family
from tso_bot.store import queries
from tso_bot.store.models import FamilyAnswerRow, Person

REFUSED = "refus"


class Outcome(StrEnum):
    RECORDED = "recorded"
    DENIED = "denied"
    PROBLEM = "problem"


@dataclass(frozen=True)
class AnswerResult:
    outcome: Outcome
    view: dossiers.DossierView | None
    denial: Denial | None = None
    problem: AnswerProblem | None = None
    at: datetime | None = None


async def check(
    ctx: AppContext, chat_id: int, pupil_id: str, phase: Phase, accepted: Voie | None
) -> AnswerResult:
    """Whether this person may give this answer now (for the confirmation screen)."""
    async with ctx.db.transaction() as s:
        return await _check(s, ctx, chat_id, pupil_id, phase, FamilyAnswer(accepted))


async def _check(
    s: AsyncSession,
    ctx: AppContext,
    chat_id: int,
    pupil_id: str,
    phase: Phase,
    answer: FamilyAnswer,
) -> AnswerResult:
    now = ctx.clock.now()
    person = await queries.person_by_chat(s, chat_id)
    view = (
        await dossiers.load(s, person, pupil_id, calendar=ctx.calendar, now=now) if person else None
    )
    if view is None:
        return AnswerResult(Outcome.DENIED, None, Denial.NOT_LINKED)
    denial = may_answer_council(view.relation, ctx.calendar, phase.answer_step, now)
    if denial:
        return AnswerResult(Outcome.DENIED, view, denial)
    given = view.answers.get(phase)
    already = FamilyAnswer(given.accepted) if given else None
    problem = check_family_answer(view.council.get(phase), answer, already)
    if problem:
        return AnswerResult(Outcome.PROBLEM, view, problem=problem)
    return AnswerResult(Outcome.RECORDED, view)


async def answer(
    ctx: AppContext, chat_id: int, pupil_id: str, phase: Phase, accepted: Voie | None
) -> AnswerResult:
    try:
        return await _answer_once(ctx, chat_id, pupil_id, phase, accepted)
    except IntegrityError:
        # The other guardian answered in the same instant: the second run says so.
        return await check(ctx, chat_id, pupil_id, phase, accepted)


async def _answer_once(
    ctx: AppContext, chat_id: int, pupil_id: str, phase: Phase, accepted: Voie | None
) -> AnswerResult:
    now = ctx.clock.now()
    async with ctx.db.transaction() as s:
        result = await _check(s, ctx, chat_id, pupil_id, phase, FamilyAnswer(accepted))
        if result.outcome is not Outcome.RECORDED or result.view is None:
            return result
        view = result.view
        s.add(
            FamilyAnswerRow(
                pupil_id=view.pupil.id,
                phase=phase,
                person_id=view.viewer.id,
                accepted_voie=accepted.value if accepted else None,
                at=now,
            )
        )
        await s.flush()
        audit(
            s,
            at=now,
            actor=view.viewer,
            action=f"answer_{phase}",
            pupil_id=view.pupil.id,
            before=None,
            after={"accepted": accepted.value if accepted else REFUSED},
        )
        await _queue(s, view, phase, accepted, now)
    ctx.outbox_changed()
    return AnswerResult(Outcome.RECORDED, view, at=now)


def contacts(view: dossiers.DossierView, chefs: list[Person]) -> dict[str, str]:
    return {
        "pp": ", ".join(p.full_name for p in view.pp),
        "chef": ", ".join(c.full_name for c in chefs),
    }


async def _queue(
    s: AsyncSession,
    view: dossiers.DossierView,
    phase: Phase,
    accepted: Voie | None,
    now: datetime,
) -> None:
    """Recap to both guardians by e-mail; Telegram to the others and the pupil; and, when
    the family refuses everything, the PP is told."""
    params = {
        "pupil_id": view.pupil.id,
        "pupil": view.pupil.full_name,
        "classe": view.pupil.classe,
        "phase": str(phase),
        "accepted": accepted.value if accepted else None,
        "by": view.viewer.full_name,
        "at": now.isoformat(),
        **contacts(view, await queries.chefs(s)),
    }
    base = f"answer:{view.pupil.id}:{phase}"
    await tell_family(
        s,
        key=base,
        kind="answer_recap",
        guardians=view.guardians,
        pupil=await s.get_one(Person, view.pupil.person_id),
        actor=view.viewer,
        params=params,
        at=now,
    )
    if accepted is None:
        for pp in view.pp:
            await notify(
                s,
                key=f"{base}:refusal:{pp.id}",
                kind="refusal_to_pp",
                person=pp,
                params=params,
                at=now,
            )
