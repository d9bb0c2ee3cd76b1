"""Linking a Telegram chat to a person with an invitation code, and forgetting it."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, func, select

from tso_bot.services.context import AppContext
from tso_bot.services.journal import audit
from tso_bot.store import queries
from tso_bot.store.models import Invite, LinkFailure, Person, Pupil

MAX_FAILURES = 5
LOCKOUT = timedelta(hours=1)
CODE_BYTES = 10  # 80 bits of randomness, well above the contract's 40
CODE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def new_code() -> str:
    return secrets.token_urlsafe(CODE_BYTES)


def hash_code(code: str) -> str:
    # Codes are long random strings, so a fast hash is enough: no dictionary to attack.
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def looks_like_code(text: str) -> bool:
    return bool(CODE_PATTERN.match(text.strip()))


class LinkOutcome(StrEnum):
    LINKED = "linked"
    INVALID = "invalid"
    LOCKED = "locked"


@dataclass(frozen=True)
class LinkResult:
    outcome: LinkOutcome
    person: Person | None = None
    pupils: tuple[Pupil, ...] = ()
    locked_until: datetime | None = None


async def _locked_until(ctx: AppContext, chat_id: int, now: datetime) -> datetime | None:
    async with ctx.db.transaction() as s:
        since = now - LOCKOUT
        count, last = (
            await s.execute(
                select(func.count(), func.max(LinkFailure.at)).where(
                    LinkFailure.chat_id == chat_id, LinkFailure.at > since
                )
            )
        ).one()
    if count >= MAX_FAILURES and last is not None:
        return last + LOCKOUT
    return None


async def link(ctx: AppContext, chat_id: int, code: str, locale: str) -> LinkResult:
    """Redeem an invitation code for this chat; five failures in an hour lock it out."""
    now = ctx.clock.now()
    locked = await _locked_until(ctx, chat_id, now)
    if locked:
        return LinkResult(LinkOutcome.LOCKED, locked_until=locked)
    async with ctx.db.transaction() as s:
        invite = await s.scalar(
            select(Invite).where(
                Invite.code_hash == hash_code(code.strip()),
                Invite.used_at.is_(None),
                Invite.revoked.is_(False),
            )
        )
        if invite is None:
            s.add(LinkFailure(chat_id=chat_id, at=now))
            audit(s, at=now, actor=None, action="link_failed", after={"chat_id": chat_id})
        else:
            person = await s.get_one(Person, invite.person_id)
            previous = await queries.person_by_chat(s, chat_id)
            if previous is not None and previous.id != person.id:
                previous.chat_id = None  # one chat, one person
            invite.used_at = now
            before = {"chat_id": person.chat_id}
            person.chat_id = chat_id
            person.telegram_reachable = True
            await s.execute(delete(LinkFailure).where(LinkFailure.chat_id == chat_id))
            audit(s, at=now, actor=person, action="link", before=before, after={"chat_id": chat_id})
            pupils = await queries.pupils_of(s, person)
            if pupils and person.current_pupil_id not in {p.id for p in pupils}:
                person.current_pupil_id = pupils[0].id
            return LinkResult(LinkOutcome.LINKED, person, tuple(pupils))
    locked = await _locked_until(ctx, chat_id, now)
    return LinkResult(LinkOutcome.LOCKED if locked else LinkOutcome.INVALID, locked_until=locked)


async def forget(ctx: AppContext, chat_id: int) -> Person | None:
    """Unlink this chat (`/oublier`). The dossier stays: it belongs to the school."""
    now = ctx.clock.now()
    async with ctx.db.transaction() as s:
        person = await queries.person_by_chat(s, chat_id)
        if person is None:
            return None
        audit(
            s,
            at=now,
            actor=person,
            action="unlink",
            before={"chat_id": chat_id},
            after={"chat_id": None},
        )
        person.chat_id = None
        return person


async def set_locale(ctx: AppContext, chat_id: int, locale: str) -> Person | None:
    now = ctx.clock.now()
    async with ctx.db.transaction() as s:
        person = await queries.person_by_chat(s, chat_id)
        if person is None:
            return None
        if person.locale != locale:
            audit(
                s,
                at=now,
                actor=person,
                action="set_locale",
                before={"locale": person.locale},
                after={"locale": locale},
            )
            person.locale = locale
        return person


async def select_pupil(ctx: AppContext, chat_id: int, pupil_id: str) -> Pupil | None:
    """The child picker: only a pupil this person may see can be selected."""
    async with ctx.db.transaction() as s:
        person = await queries.person_by_chat(s, chat_id)
        if person is None:
            return None
        pupils = {p.id: p for p in await queries.pupils_of(s, person)}
        pupil = pupils.get(pupil_id)
        if pupil is not None:
            person.current_pupil_id = pupil.id
        return pupil
