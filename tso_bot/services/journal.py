"""Audit log and outbox writes: called inside the use case's own transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tso_bot.store.models import AuditEntry, OutboxMessage, Person

SYSTEM = "system"


def actor_label(person: Person | None) -> str:
    return f"person:{person.id}" if person else SYSTEM


def audit(
    session: AsyncSession,
    *,
    at: datetime,
    actor: Person | None,
    action: str,
    pupil_id: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    actor_name: str | None = None,
) -> None:
    session.add(
        AuditEntry(
            at=at,
            actor_person_id=actor.id if actor else None,
            actor=actor_name or actor_label(actor),
            action=action,
            pupil_id=pupil_id,
            before=before,
            after=after,
        )
    )


def telegram_reachable(person: Person) -> bool:
    return person.chat_id is not None and person.telegram_reachable


async def enqueue(
    session: AsyncSession,
    *,
    key: str,
    kind: str,
    person: Person,
    channel: str,
    params: dict[str, Any],
    at: datetime,
    not_before: datetime | None = None,
) -> bool:
    """Queue one message unless one with the same key exists (idempotent)."""
    exists = await session.scalar(select(OutboxMessage.id).where(OutboxMessage.key == key))
    if exists is not None:
        return False
    session.add(
        OutboxMessage(
            key=key,
            kind=kind,
            channel=channel,
            person_id=person.id,
            params=params,
            status="pending",
            attempts=0,
            not_before=not_before or at,
            created_at=at,
        )
    )
    return True


async def notify(
    session: AsyncSession,
    *,
    key: str,
    kind: str,
    person: Person,
    params: dict[str, Any],
    at: datetime,
    email_fallback: bool = True,
) -> str | None:
    """Queue a Telegram message, or an e-mail where the person cannot be reached there.

    Returns the channel used, or None when the person has neither.
    """
    if telegram_reachable(person):
        channel = "telegram"
    elif email_fallback and person.email:
        channel = "email"
    else:
        return None
    await enqueue(
        session,
        key=f"{key}:{channel}",
        kind=kind,
        person=person,
        channel=channel,
        params=params,
        at=at,
    )
    return channel


async def tell_family(
    session: AsyncSession,
    *,
    key: str,
    kind: str,
    guardians: tuple[Person, ...] | list[Person],
    pupil: Person | None,
    actor: Person | None,
    params: dict[str, Any],
    at: datetime,
    telegram_kind: str | None = None,
    not_before: datetime | None = None,
) -> None:
    """The recap rule of DESIGN.md: an e-mail to every guardian who has an address, and a
    Telegram message to the other guardian(s) and the pupil where linked (the actor, if a
    guardian, already saw the answer in their chat)."""
    for guardian in guardians:
        if guardian.email:
            await enqueue(
                session,
                key=f"{key}:{guardian.id}:email",
                kind=kind,
                person=guardian,
                channel="email",
                params=params,
                at=at,
                not_before=not_before,
            )
    others = [g for g in guardians if actor is None or g.id != actor.id]
    for person in (*others, *([pupil] if pupil else [])):
        if telegram_reachable(person):
            await enqueue(
                session,
                key=f"{key}:{person.id}:telegram",
                kind=telegram_kind or kind,
                person=person,
                channel="telegram",
                params=params,
                at=at,
                not_before=not_before,
            )
