"""Rule 3: the guardian who did not enter may say "je ne suis pas d'accord"."""

from __future__ import annotations

from dataclasses import dataclass

from tso_bot.domain.permissions import Denial, may_flag_disagreement
from tso_bot.services import dossier as dossiers
from tso_bot.services.context import AppContext
from tso_bot.services.journal import audit, notify
from tso_bot.store import queries


@dataclass(frozen=True)
class Flagged:
    view: dossiers.DossierView | None
    denial: Denial | None = None
    pp_reached: bool = False


async def flag(ctx: AppContext, chat_id: int, pupil_id: str) -> Flagged:
    now = ctx.clock.now()
    async with ctx.db.transaction() as s:
        person = await queries.person_by_chat(s, chat_id)
        view = await dossiers.load(s, person, pupil_id) if person else None
        if view is None:
            return Flagged(None, Denial.NOT_LINKED)
        denial = may_flag_disagreement(view.relation)
        if denial:
            return Flagged(view, denial)
        current = {p: c.ranking.encode() for p, c in view.choices.items()}
        audit(
            s,
            at=now,
            actor=view.viewer,
            action="disagreement",
            pupil_id=view.pupil.id,
            after={"choices": {str(k): v for k, v in current.items()}},
        )
        params = {
            "pupil_id": view.pupil.id,
            "pupil": view.pupil.full_name,
            "classe": view.pupil.classe,
            "by": view.viewer.full_name,
            "by_email": view.viewer.email or "",
            "entering": view.entering.full_name if view.entering else "",
            "at": now.isoformat(),
        }
        reached = False
        for pp in view.pp:
            channel = await notify(
                s,
                key=f"disagreement:{view.pupil.id}:{view.viewer.id}:{now.isoformat()}:{pp.id}",
                kind="disagreement_to_pp",
                person=pp,
                params=params,
                at=now,
            )
            reached = reached or channel is not None
    ctx.outbox_changed()
    return Flagged(view, None, reached)
