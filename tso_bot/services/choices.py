"""Ranking voies and validating them: intentions (provisoire) and final choices (définitive).

One function per intent: open the editor, edit the draft, validate, cancel. Each runs in
one transaction and re-checks who may act from the database, never from the button.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tso_bot.domain.permissions import Denial, may_enter_choices

__all__ = ["Denial", "Edit", "EditorState", "cancel", "edit", "open_editor", "validate"]
from tso_bot.domain.phases import Phase
from tso_bot.domain.ranking import Ranking, RankingError
from tso_bot.domain.voies import Voie
from tso_bot.services import dossier as dossiers
from tso_bot.services.context import AppContext
from tso_bot.services.journal import audit, tell_family
from tso_bot.store import queries
from tso_bot.store.models import ChoiceVersion, Draft, EnteringGuardian, Person


class Edit(StrEnum):
    ADD = "add"
    REMOVE = "rm"
    UP = "up"


@dataclass(frozen=True)
class EditorState:
    """What the editing screen shows, or why the person may not edit."""

    view: dossiers.DossierView | None
    phase: Phase
    ranking: Ranking = field(default_factory=Ranking)
    denial: Denial | None = None
    problem: str | None = None  # a RankingError reason from the last edit
    validated: dossiers.ValidatedChoices | None = None


async def _context(
    s: AsyncSession, ctx: AppContext, chat_id: int, pupil_id: str, phase: Phase, now: datetime
) -> tuple[Person | None, dossiers.DossierView | None, Denial | None]:
    person = await queries.person_by_chat(s, chat_id)
    if person is None:
        return None, None, Denial.NOT_LINKED
    view = await dossiers.load(s, person, pupil_id)
    if view is None:
        return person, None, Denial.NOT_LINKED
    return person, view, may_enter_choices(view.relation, ctx.calendar, phase.entry_step, now)


async def _draft(s: AsyncSession, view: dossiers.DossierView, phase: Phase, now: datetime) -> Draft:
    draft = await queries.draft_of(s, view.pupil.id, phase, view.viewer.id)
    if draft is None:
        validated = view.choices.get(phase)
        start = validated.ranking.encode() if validated else ""
        draft = Draft(
            pupil_id=view.pupil.id,
            phase=phase,
            person_id=view.viewer.id,
            voies=start,
            updated_at=now,
        )
        s.add(draft)
    return draft


async def open_editor(ctx: AppContext, chat_id: int, pupil_id: str, phase: Phase) -> EditorState:
    now = ctx.clock.now()
    async with ctx.db.transaction() as s:
        _, view, denial = await _context(s, ctx, chat_id, pupil_id, phase, now)
        if view is None or denial:
            return EditorState(view, phase, denial=denial)
        draft = await _draft(s, view, phase, now)
        return EditorState(view, phase, Ranking.decode(draft.voies))


async def edit(
    ctx: AppContext, chat_id: int, pupil_id: str, phase: Phase, op: Edit, voie: Voie
) -> EditorState:
    now = ctx.clock.now()
    async with ctx.db.transaction() as s:
        _, view, denial = await _context(s, ctx, chat_id, pupil_id, phase, now)
        if view is None or denial:
            return EditorState(view, phase, denial=denial)
        draft = await _draft(s, view, phase, now)
        ranking = Ranking.decode(draft.voies)
        try:
            if op is Edit.ADD:
                ranking = ranking.add(voie)
            elif op is Edit.REMOVE:
                ranking = ranking.remove(voie)
            else:
                ranking = ranking.move_up(voie)
        except RankingError as exc:
            return EditorState(view, phase, ranking, problem=exc.reason)
        draft.voies = ranking.encode()
        draft.updated_at = now
        return EditorState(view, phase, ranking)


async def cancel(ctx: AppContext, chat_id: int, pupil_id: str, phase: Phase) -> None:
    async with ctx.db.transaction() as s:
        person = await queries.person_by_chat(s, chat_id)
        if person is not None:
            await s.execute(
                delete(Draft).where(
                    Draft.pupil_id == pupil_id, Draft.phase == phase, Draft.person_id == person.id
                )
            )


async def validate(ctx: AppContext, chat_id: int, pupil_id: str, phase: Phase) -> EditorState:
    """Validate the draft as a new version; the first guardian to do so becomes the
    entering guardian. A lost race surfaces as an IntegrityError: we run the use case
    again, and the second run sees the winner and answers with the right denial."""
    for attempt in range(3):
        try:
            return await _validate_once(ctx, chat_id, pupil_id, phase)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def _validate_once(ctx: AppContext, chat_id: int, pupil_id: str, phase: Phase) -> EditorState:
    now = ctx.clock.now()
    async with ctx.db.transaction() as s:
        _, view, denial = await _context(s, ctx, chat_id, pupil_id, phase, now)
        if view is None or denial:
            return EditorState(view, phase, denial=denial)
        draft = await queries.draft_of(s, view.pupil.id, phase, view.viewer.id)
        ranking = Ranking.decode(draft.voies if draft else "")
        if not ranking.can_validate:
            return EditorState(view, phase, ranking, problem="empty")
        if view.entering is None:
            s.add(EnteringGuardian(pupil_id=view.pupil.id, person_id=view.viewer.id, at=now))
            await s.flush()  # the primary key decides a race here
        previous = view.choices.get(phase)
        version = (previous.version if previous else 0) + 1
        s.add(
            ChoiceVersion(
                pupil_id=view.pupil.id,
                phase=phase,
                version=version,
                voies=ranking.encode(),
                person_id=view.viewer.id,
                at=now,
            )
        )
        if draft is not None:
            await s.delete(draft)
        await s.flush()
        audit(
            s,
            at=now,
            actor=view.viewer,
            action=f"validate_{phase}",
            pupil_id=view.pupil.id,
            before={"voies": previous.ranking.encode() if previous else None},
            after={"voies": ranking.encode(), "version": version},
        )
        await _queue_recaps(s, view, phase, ranking, version, now)
    ctx.outbox_changed()
    validated = dossiers.ValidatedChoices(ranking, version, view.viewer, now)
    return EditorState(view, phase, ranking, validated=validated)


async def _queue_recaps(
    s: AsyncSession,
    view: dossiers.DossierView,
    phase: Phase,
    ranking: Ranking,
    version: int,
    now: datetime,
) -> None:
    """E-mail recap to both guardians; a Telegram message to the others and the pupil."""
    params = {
        "pupil_id": view.pupil.id,
        "pupil": view.pupil.full_name,
        "classe": view.pupil.classe,
        "phase": str(phase),
        "voies": [v.value for v in ranking.voies],
        "by": view.viewer.full_name,
        "at": now.isoformat(),
        "version": version,
    }
    await tell_family(
        s,
        key=f"choices:{view.pupil.id}:{phase}:{version}",
        kind="choices_recap",
        telegram_kind="choices_validated",
        guardians=view.guardians,
        pupil=await s.get_one(Person, view.pupil.person_id),
        actor=view.viewer,
        params=params,
        at=now,
    )
