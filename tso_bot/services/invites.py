"""Invitation codes for everyone not yet linked: one row per person, a fresh code each."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from tso_bot.services.context import AppContext
from tso_bot.services.journal import audit
from tso_bot.services.linking import hash_code, new_code
from tso_bot.store import queries
from tso_bot.store.models import Invite, Person

INVITE_COLUMNS = ("type", "eleve_id", "classe", "nom", "prenom", "email", "code", "lien")
_TYPES = {"guardian": "rl", "pupil": "eleve"}


@dataclass(frozen=True)
class InviteRow:
    type: str
    eleve_id: str
    classe: str
    nom: str
    prenom: str
    email: str
    code: str
    lien: str

    def as_list(self) -> list[str]:
        return [getattr(self, c) for c in INVITE_COLUMNS]


def deep_link(bot_username: str, code: str) -> str:
    return f"https://t.me/{bot_username}?start={code}"


async def issue_invites(ctx: AppContext, bot_username: str) -> list[InviteRow]:
    """New codes for every unlinked person; their older unused codes stop working (only
    the hash is kept, so an old code cannot be printed again)."""
    now = ctx.clock.now()
    rows: list[InviteRow] = []
    async with ctx.db.transaction() as s:
        people = list(
            await s.scalars(
                select(Person).where(Person.chat_id.is_(None)).order_by(Person.role, Person.id)
            )
        )
        await s.execute(
            update(Invite)
            .where(
                Invite.person_id.in_([p.id for p in people]),
                Invite.used_at.is_(None),
            )
            .values(revoked=True)
        )
        for person in people:
            pupils = await queries.pupils_of(s, person) if person.role in _TYPES else []
            if person.role in _TYPES and not pupils:
                continue  # a guardian no longer on the roster
            code = new_code()
            s.add(Invite(code_hash=hash_code(code), person_id=person.id, created_at=now))
            rows.append(
                InviteRow(
                    type=_TYPES.get(person.role, "staff"),
                    eleve_id=" ".join(p.id for p in pupils),
                    classe=" ".join(sorted({p.classe for p in pupils})) or (person.classe or ""),
                    nom=person.nom,
                    prenom=person.prenom,
                    email=person.email or "",
                    code=code,
                    lien=deep_link(bot_username, code),
                )
            )
        audit(
            s,
            at=now,
            actor=None,
            actor_name="cli:invites",
            action="invites_issued",
            after={"count": len(rows)},
        )
    return rows
