"""Linking, ranking, validating, versions, rights and the audit/outbox, on a real database."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import delete, select

from tests.support import paris
from tso_bot.clock import SimulatedClock
from tso_bot.domain.permissions import Denial
from tso_bot.domain.phases import Phase
from tso_bot.domain.voies import Voie
from tso_bot.services import choices, disagreement, invites, linking
from tso_bot.services.context import AppContext
from tso_bot.staff.export import dossier_rows
from tso_bot.store.models import (
    AuditEntry,
    ChoiceVersion,
    Draft,
    EnteringGuardian,
    OutboxMessage,
    Person,
)

P = Phase.PROVISOIRE


async def link_all(ctx: AppContext) -> dict[str, int]:
    """Issue invites and link everyone; returns chat ids by e-mail or pupil name."""
    rows = await invites.issue_invites(ctx, "tso_test_bot")
    chats = {}
    for chat_id, row in enumerate(rows, start=100):
        result = await linking.link(ctx, chat_id, row.code, "fr")
        assert result.outcome is linking.LinkOutcome.LINKED
        chats[row.email or f"{row.prenom} {row.nom}"] = chat_id
    return chats


async def enter(ctx: AppContext, chat: int, pupil: str, *voies: Voie) -> choices.EditorState:
    state = await choices.open_editor(ctx, chat, pupil, P)
    assert state.denial is None, state.denial
    for voie in state.ranking.voies:
        await choices.edit(ctx, chat, pupil, P, choices.Edit.REMOVE, voie)
    for voie in voies:
        state = await choices.edit(ctx, chat, pupil, P, choices.Edit.ADD, voie)
    return await choices.validate(ctx, chat, pupil, P)


async def test_first_validation_makes_the_entering_guardian(school: AppContext) -> None:
    chats = await link_all(school)
    anne, paul = chats["anne.martin@example.org"], chats["paul.durand@example.org"]
    state = await enter(school, anne, "E001", Voie.SECONDE_PRO, Voie.SECONDE_GT)
    assert state.validated is not None
    assert state.validated.ranking.encode() == "2PRO>2GT"
    assert state.validated.version == 1

    refused = await choices.open_editor(school, paul, "E001", P)
    assert refused.denial is Denial.NOT_ENTERING
    assert refused.view is not None and refused.view.entering is not None
    assert refused.view.entering.prenom == "Anne"

    again = await enter(school, anne, "E001", Voie.SECONDE_GT, Voie.SECONDE_PRO, Voie.CAP)
    assert again.validated is not None and again.validated.version == 2
    rows = {r[1]: r for r in await dossier_rows(school)}
    assert rows["E001"][4:6] == ["2GT>2PRO>CAP", "Anne Martin"]
    assert rows["E002"][4] == ""


async def test_validation_writes_audit_and_outbox_in_the_same_transaction(
    school: AppContext,
) -> None:
    chats = await link_all(school)
    await enter(school, chats["anne.martin@example.org"], "E001", Voie.CAP)
    async with school.db.transaction() as s:
        audit = list(
            await s.scalars(select(AuditEntry).where(AuditEntry.action == "validate_provisoire"))
        )
        outbox = list(await s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        people = {p.id: p for p in await s.scalars(select(Person))}
    assert len(audit) == 1
    assert audit[0].after == {"voies": "CAP", "version": 1}
    recaps = sorted(people[m.person_id].email or "" for m in outbox if m.kind == "choices_recap")
    assert recaps == ["anne.martin@example.org", "paul.durand@example.org"]
    told = sorted(people[m.person_id].role for m in outbox if m.kind == "choices_validated")
    assert told == ["guardian", "pupil"]  # Paul and Zoé, both linked; not Anne herself


async def test_forged_actions_change_nothing(school: AppContext) -> None:
    chats = await link_all(school)
    paul, lea = chats["paul.durand@example.org"], chats["lea.petit@example.org"]
    zoe = chats["Zoé Martin"]
    await enter(school, chats["anne.martin@example.org"], "E001", Voie.SECONDE_PRO)
    # Paul is not the entering guardian; Léa is not Zoé's guardian; Zoé is the pupil.
    for chat, expected in (
        (paul, Denial.NOT_ENTERING),
        (lea, Denial.NOT_LINKED),
        (zoe, Denial.READ_ONLY),
    ):
        for op in (choices.Edit.ADD, choices.Edit.REMOVE):
            state = await choices.edit(school, chat, "E001", P, op, Voie.CAP)
            assert state.denial is expected
        assert (await choices.validate(school, chat, "E001", P)).denial is expected
    rows = {r[1]: r for r in await dossier_rows(school)}
    assert rows["E001"][4] == "2PRO"


async def test_after_the_close_a_change_is_refused(
    school: AppContext, clock: SimulatedClock
) -> None:
    chats = await link_all(school)
    anne = chats["anne.martin@example.org"]
    await enter(school, anne, "E001", Voie.SECONDE_GT)
    clock.set(paris(2024, 3, 12, 0, 0, 1))
    assert (await choices.open_editor(school, anne, "E001", P)).denial is Denial.CLOSED
    clock.set(paris(2024, 2, 20))
    assert (await choices.open_editor(school, anne, "E001", P)).denial is Denial.NOT_YET_OPEN


async def test_the_other_guardian_may_flag_disagreement_for_the_pp(school: AppContext) -> None:
    chats = await link_all(school)
    await enter(school, chats["anne.martin@example.org"], "E001", Voie.CAP)
    assert (
        await disagreement.flag(school, chats["anne.martin@example.org"], "E001")
    ).denial is Denial.ENTERING_CANNOT_DISAGREE
    result = await disagreement.flag(school, chats["paul.durand@example.org"], "E001")
    assert result.denial is None and result.pp_reached
    async with school.db.transaction() as s:
        to_pp = list(
            await s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "disagreement_to_pp"))
        )
        pp = await s.get_one(Person, to_pp[0].person_id)
    assert (pp.role, pp.classe, to_pp[0].channel) == ("pp", "3eA", "telegram")  # PP linked


@pytest.mark.parametrize("rounds", [50])
async def test_race_of_two_first_validations_has_one_winner(
    school: AppContext, rounds: int
) -> None:
    """Both guardians of a fresh pupil validate at the same instant, 50 times over."""
    chats = await link_all(school)
    anne, paul = chats["anne.martin@example.org"], chats["paul.durand@example.org"]
    for _round in range(rounds):
        async with school.db.transaction() as s:
            for table in (ChoiceVersion, Draft, EnteringGuardian):
                await s.execute(delete(table).where(table.pupil_id == "E001"))
        for chat, voie in ((anne, Voie.CAP), (paul, Voie.SECONDE_GT)):
            await choices.edit(school, chat, "E001", P, choices.Edit.ADD, voie)
        results = await asyncio.gather(
            choices.validate(school, anne, "E001", P), choices.validate(school, paul, "E001", P)
        )
        winners = [r for r in results if r.validated is not None]
        losers = [r for r in results if r.denial is Denial.NOT_ENTERING]
        assert (len(winners), len(losers)) == (1, 1)
        async with school.db.transaction() as s:
            entering = list(await s.scalars(select(EnteringGuardian)))
        assert len(entering) == 1
        assert entering[0].person_id == winners[0].validated.by.id  # type: ignore[union-attr]
