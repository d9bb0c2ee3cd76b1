"""Rule 5 and 6 on a real database: acknowledgement, response, once; appeal in time."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import delete, select

from tests.integration.test_choices_flow import enter, link_all
from tests.support import paris
from tso_bot.clock import SimulatedClock
from tso_bot.domain.council import AnswerProblem
from tso_bot.domain.decision import AppealKind
from tso_bot.domain.permissions import Denial
from tso_bot.domain.phases import Phase
from tso_bot.domain.voies import Voie
from tso_bot.services import answers, appeals
from tso_bot.services.appeals import AppealProblem
from tso_bot.services.context import AppContext
from tso_bot.staff.export import dossier_rows
from tso_bot.store.models import (
    CouncilAnswerRow,
    DecisionRow,
    FamilyAnswerRow,
    OutboxMessage,
    Person,
)

P = Phase.PROVISOIRE


async def council(ctx: AppContext, pupil: str, phase: Phase, *lines: tuple[Voie, str]) -> None:
    """Council lines written as the staff's use case would (tested on its own)."""
    async with ctx.db.transaction() as s:
        for voie, avis in lines:
            s.add(
                CouncilAnswerRow(
                    pupil_id=pupil,
                    phase=phase,
                    voie=voie.value,
                    avis=avis,
                    comment="Bon dossier" if avis == "oui" else None,
                    at=ctx.clock.now(),
                )
            )


async def setup(school: AppContext, clock: SimulatedClock) -> dict[str, int]:
    chats = await link_all(school)
    await enter(school, chats["anne.martin@example.org"], "E001", Voie.SECONDE_PRO, Voie.SECONDE_GT)
    clock.set(paris(2024, 3, 20, 10))
    await council(
        school,
        "E001",
        P,
        (Voie.SECONDE_PRO, "oui"),
        (Voie.SECONDE_GT, "non"),
        (Voie.CAP, "proposition"),
    )
    return chats


async def test_answers_appear_and_are_accepted_once_in_the_window(
    school: AppContext, clock: SimulatedClock
) -> None:
    chats = await setup(school, clock)
    anne, paul, zoe = (
        chats["anne.martin@example.org"],
        chats["paul.durand@example.org"],
        chats["Zoé Martin"],
    )
    before = await answers.check(school, paul, "E001", P, Voie.CAP)
    assert before.denial is Denial.NOT_YET_OPEN
    assert before.view is not None and P not in before.view.council  # not released yet
    clock.set(paris(2024, 4, 2, 18))
    released = await answers.check(school, paul, "E001", P, Voie.CAP)
    assert released.view is not None
    assert released.view.council[P].options() == (Voie.SECONDE_PRO, Voie.CAP)
    assert (await answers.answer(school, zoe, "E001", P, Voie.CAP)).denial is Denial.READ_ONLY
    wrong = await answers.answer(school, paul, "E001", P, Voie.SECONDE_GT)  # got "non"
    assert wrong.problem is AnswerProblem.NOT_AN_OPTION
    done = await answers.answer(school, paul, "E001", P, Voie.CAP)  # the other guardian may
    assert done.outcome is answers.Outcome.RECORDED
    again = await answers.answer(school, anne, "E001", P, Voie.SECONDE_PRO)
    assert again.problem is AnswerProblem.ALREADY_ANSWERED
    async with school.db.transaction() as s:
        sent = list(
            await s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "answer_recap"))
        )
        people = {p.id: p for p in await s.scalars(select(Person))}
    by_channel = sorted((m.channel, people[m.person_id].prenom) for m in sent)
    assert by_channel == [
        ("email", "Anne"),
        ("email", "Paul"),
        ("telegram", "Anne"),
        ("telegram", "Zoé"),
    ]
    row = {r[1]: r for r in await dossier_rows(school)}["E001"]
    assert row[7:9] == ["2PRO=oui,2GT=non,CAP=proposition", "CAP"]


async def test_after_the_window_closes_no_answer(school: AppContext, clock: SimulatedClock) -> None:
    chats = await setup(school, clock)
    clock.set(paris(2024, 4, 6, 0, 0, 1))
    late = await answers.answer(school, chats["paul.durand@example.org"], "E001", P, Voie.CAP)
    assert late.denial is Denial.CLOSED


async def test_refusing_everything_tells_the_pp(school: AppContext, clock: SimulatedClock) -> None:
    chats = await setup(school, clock)
    clock.set(paris(2024, 4, 3, 9))
    result = await answers.answer(school, chats["anne.martin@example.org"], "E001", P, None)
    assert result.outcome is answers.Outcome.RECORDED
    async with school.db.transaction() as s:
        to_pp = list(
            await s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "refusal_to_pp"))
        )
        pp = await s.get_one(Person, to_pp[0].person_id)
    assert (len(to_pp), pp.classe, to_pp[0].params["pp"]) == (1, "3eA", "Claire Leroy")


async def test_two_guardians_answering_at_once_record_one_answer(
    school: AppContext, clock: SimulatedClock
) -> None:
    chats = await setup(school, clock)
    clock.set(paris(2024, 4, 2, 9))
    anne, paul = chats["anne.martin@example.org"], chats["paul.durand@example.org"]
    for _round in range(20):
        async with school.db.transaction() as s:
            await s.execute(delete(FamilyAnswerRow))
        results = await asyncio.gather(
            answers.answer(school, anne, "E001", P, Voie.CAP),
            answers.answer(school, paul, "E001", P, None),
        )
        recorded = [r for r in results if r.outcome is answers.Outcome.RECORDED]
        refused = [r for r in results if r.problem is AnswerProblem.ALREADY_ANSWERED]
        assert (len(recorded), len(refused)) == (1, 1)


async def test_appeal_within_three_working_days(school: AppContext, clock: SimulatedClock) -> None:
    chats = await link_all(school)
    anne, paul, zoe = (
        chats["anne.martin@example.org"],
        chats["paul.durand@example.org"],
        chats["Zoé Martin"],
    )
    notified = paris(2024, 6, 17, 10)  # a Monday: deadline Thursday 20 June, 23:59:59
    clock.set(notified)
    async with school.db.transaction() as s:
        s.add(
            DecisionRow(
                pupil_id="E001",
                decision="maintien",
                motif="Résultats",
                at=notified,
                appeal_deadline=paris(2024, 6, 20, 23, 59, 59),
            )
        )
        s.add(
            DecisionRow(
                pupil_id="E002", decision="2GT", motif=None, at=notified, appeal_deadline=None
            )
        )
    assert (await appeals.check(school, zoe, "E001")).problem is AppealProblem.NOT_A_GUARDIAN
    lea = chats["lea.petit@example.org"]
    assert (await appeals.check(school, lea, "E002")).problem is AppealProblem.NO_APPEAL_OPEN
    clock.set(paris(2024, 6, 21, 0, 0, 1))
    assert (await appeals.check(school, paul, "E001")).problem is AppealProblem.TOO_LATE
    clock.set(paris(2024, 6, 20, 23, 0))
    done = await appeals.appeal(school, paul, "E001", AppealKind.MAINTIEN)
    assert done.problem is None
    again = await appeals.appeal(school, anne, "E001", AppealKind.APPEL)
    assert again.problem is AppealProblem.ALREADY
    async with school.db.transaction() as s:
        kinds = sorted(m.kind for m in await s.scalars(select(OutboxMessage)))
    assert kinds.count("appeal_to_chef") == 1 and kinds.count("appeal_recap") == 4
    row = {r[1]: r for r in await dossier_rows(school)}["E001"]
    assert row[-2:] == ["maintien", "maintien"]
    assert clock.now() - notified < timedelta(days=4)
