"""Rule 6: within 3 jours ouvrables of a decision that differs from the family's request,
a guardian may tell the school *je fais appel* or *je demande le maintien*."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tso_bot.domain.decision import AppealKind
from tso_bot.domain.permissions import Relation, Role
from tso_bot.services import dossier as dossiers
from tso_bot.services.context import AppContext
from tso_bot.services.journal import audit, notify, tell_family
from tso_bot.store import queries
from tso_bot.store.models import AppealRow, Person


class AppealProblem(StrEnum):
    NOT_A_GUARDIAN = "not_a_guardian"
    NO_APPEAL_OPEN = "no_appeal_open"  # no decision, or it matches the request
    TOO_LATE = "too_late"
    ALREADY = "already"


@dataclass(frozen=True)
class AppealResult:
    view: dossiers.DossierView | None
    problem: AppealProblem | None = None
    at: datetime | None = None


def appeal_problem(
    rel: Relation, view: dossiers.DossierView, now: datetime
) -> AppealProblem | None:
    if rel.role is not Role.GUARDIAN or not rel.is_guardian_of_pupil:
        return AppealProblem.NOT_A_GUARDIAN
    decision = view.decision
    if decision is None or decision.appeal_deadline is None:
        return AppealProblem.NO_APPEAL_OPEN
    if view.appeal is not None:
        return AppealProblem.ALREADY
    if now > decision.appeal_deadline:
        return AppealProblem.TOO_LATE
    return None


async def _check(
    s: AsyncSession, ctx: AppContext, chat_id: int, pupil_id: str, now: datetime
) -> AppealResult:
    person = await queries.person_by_chat(s, chat_id)
    view = (
        await dossiers.load(s, person, pupil_id, calendar=ctx.calendar, now=now) if person else None
    )
    if view is None:
        return AppealResult(None, AppealProblem.NOT_A_GUARDIAN)
    return AppealResult(view, appeal_problem(view.relation, view, now))


async def check(ctx: AppContext, chat_id: int, pupil_id: str) -> AppealResult:
    async with ctx.db.transaction() as s:
        return await _check(s, ctx, chat_id, pupil_id, ctx.clock.now())


async def appeal(ctx: AppContext, chat_id: int, pupil_id: str, kind: AppealKind) -> AppealResult:
    now = ctx.clock.now()
    try:
        async with ctx.db.transaction() as s:
            result = await _check(s, ctx, chat_id, pupil_id, now)
            if result.problem or result.view is None:
                return result
            view = result.view
            s.add(AppealRow(pupil_id=view.pupil.id, kind=kind, person_id=view.viewer.id, at=now))
            await s.flush()
            audit(
                s,
                at=now,
                actor=view.viewer,
                action="appeal",
                pupil_id=view.pupil.id,
                after={"kind": str(kind)},
            )
            await _queue(s, view, kind, now)
    except IntegrityError:
        return await check(ctx, chat_id, pupil_id)
    ctx.outbox_changed()
    return AppealResult(view, None, now)


async def _queue(
    s: AsyncSession, view: dossiers.DossierView, kind: AppealKind, now: datetime
) -> None:
    decision = view.decision
    assert decision is not None
    params = {
        "pupil_id": view.pupil.id,
        "pupil": view.pupil.full_name,
        "classe": view.pupil.classe,
        "kind": str(kind),
        "decision": decision.decision,
        "by": view.viewer.full_name,
        "by_email": view.viewer.email or "",
        "at": now.isoformat(),
    }
    base = f"appeal:{view.pupil.id}"
    await tell_family(
        s,
        key=base,
        kind="appeal_recap",
        guardians=view.guardians,
        pupil=await s.get_one(Person, view.pupil.person_id),
        actor=view.viewer,
        params=params,
        at=now,
    )
    for chef in await queries.chefs(s):
        await notify(
            s,
            key=f"{base}:chef:{chef.id}",
            kind="appeal_to_chef",
            person=chef,
            params=params,
            at=now,
        )
