"""Exports for staff and outside tools: dossiers, audit log, completion status (CSV)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tso_bot.domain.council import CouncilAnswer
from tso_bot.domain.phases import Phase
from tso_bot.domain.ranking import Ranking
from tso_bot.services.context import AppContext
from tso_bot.services.dossier import ValidatedChoices, validated_choices
from tso_bot.store import queries
from tso_bot.store.models import (
    AuditEntry,
    ChoiceVersion,
    FamilyAnswerRow,
    Guardianship,
    Person,
    Pupil,
)

EXPORT_COLUMNS = (
    "classe",
    "eleve_id",
    "eleve_nom",
    "eleve_prenom",
    "intentions",
    "intentions_par",
    "intentions_le",
    "avis_provisoire",
    "accuse_reception",
    "choix",
    "choix_par",
    "choix_le",
    "propositions",
    "reponse",
    "decision",
    "appel",  # an extension of the contract: appel | maintien when the family contested
)
AUDIT_COLUMNS = ("id", "at", "actor", "action", "eleve_id", "before", "after")


def write_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """UTF-8 with a BOM and `;`: what French Excel opens correctly on a double-click."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8-sig")


def _local_iso(v: ValidatedChoices | None, tz: ZoneInfo) -> str:
    return v.at.astimezone(tz).isoformat(timespec="seconds") if v else ""


async def dossier_rows(ctx: AppContext) -> list[list[str]]:
    tz = ctx.calendar.timezone
    rows = []
    async with ctx.db.transaction() as s:
        pupils = list(
            await s.scalars(select(Pupil).order_by(Pupil.classe, Pupil.nom, Pupil.prenom))
        )
        for pupil in pupils:
            latest: dict[Phase, ValidatedChoices | None] = {}
            for phase in Phase:
                version = await queries.latest_version(s, pupil.id, phase)
                latest[phase] = await validated_choices(s, version)
            intentions, choix = latest[Phase.PROVISOIRE], latest[Phase.DEFINITIVE]
            row = {
                "classe": pupil.classe,
                "eleve_id": pupil.id,
                "eleve_nom": pupil.nom,
                "eleve_prenom": pupil.prenom,
                "intentions": intentions.ranking.encode() if intentions else "",
                "intentions_par": intentions.by.full_name if intentions else "",
                "intentions_le": _local_iso(intentions, tz),
                "choix": choix.ranking.encode() if choix else "",
                "choix_par": choix.by.full_name if choix else "",
                "choix_le": _local_iso(choix, tz),
            }
            row |= await _council_columns(s, pupil.id, latest)
            rows.append([row.get(c, "") for c in EXPORT_COLUMNS])
    return rows


def encode_council(answer: CouncilAnswer | None) -> str:
    """`2PRO=oui,2GT=non,CAP=proposition`: requested voies in rank order, then proposals."""
    if answer is None:
        return ""
    return ",".join(f"{x.voie.value}={x.avis.value}" for x in answer.lines)


def encode_answer(row: FamilyAnswerRow | None, phase: Phase) -> str:
    """Acknowledgement: the accepted voie or `refus`; response: `accord:<voie>` or
    `desaccord`."""
    if row is None:
        return ""
    if phase is Phase.PROVISOIRE:
        return row.accepted_voie or "refus"
    return f"accord:{row.accepted_voie}" if row.accepted_voie else "desaccord"


async def _council_columns(
    s: AsyncSession, pupil_id: str, latest: dict[Phase, ValidatedChoices | None]
) -> dict[str, str]:
    def requested(phase: Phase) -> Ranking | None:
        chosen = latest[phase]
        return chosen.ranking if chosen else None

    decision = await queries.decision_of(s, pupil_id)
    appeal = await queries.appeal_of(s, pupil_id)
    return {
        "avis_provisoire": encode_council(
            await queries.council_answer(s, pupil_id, Phase.PROVISOIRE, requested(Phase.PROVISOIRE))
        ),
        "accuse_reception": encode_answer(
            await queries.family_answer(s, pupil_id, Phase.PROVISOIRE), Phase.PROVISOIRE
        ),
        "propositions": encode_council(
            await queries.council_answer(s, pupil_id, Phase.DEFINITIVE, requested(Phase.DEFINITIVE))
        ),
        "reponse": encode_answer(
            await queries.family_answer(s, pupil_id, Phase.DEFINITIVE), Phase.DEFINITIVE
        ),
        "decision": decision.decision if decision else "",
        "appel": appeal.kind if appeal else "",
    }


async def export_dossiers(ctx: AppContext) -> bytes:
    return write_csv(EXPORT_COLUMNS, await dossier_rows(ctx))


async def export_audit(ctx: AppContext) -> bytes:
    tz = ctx.calendar.timezone
    async with ctx.db.transaction() as s:
        entries = list(await s.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    return write_csv(
        AUDIT_COLUMNS,
        (
            [
                e.id,
                e.at.astimezone(tz).isoformat(timespec="seconds"),
                e.actor,
                e.action,
                e.pupil_id or "",
                json.dumps(e.before, ensure_ascii=False) if e.before else "",
                json.dumps(e.after, ensure_ascii=False) if e.after else "",
            ]
            for e in entries
        ),
    )


@dataclass(frozen=True)
class ClassStatus:
    classe: str
    pupils: int
    intentions: int
    choices: int
    # Guardians reachable neither on Telegram (never linked, or blocked the bot) nor by
    # e-mail, as "E003 RL1": they get no reminder, so the staff must reach them otherwise.
    unreachable: tuple[str, ...] = ()


async def status(ctx: AppContext, classe: str | None = None) -> list[ClassStatus]:
    async with ctx.db.transaction() as s:
        query = select(Pupil.classe, func.count()).group_by(Pupil.classe).order_by(Pupil.classe)
        if classe:
            query = query.where(Pupil.classe == classe)
        counts = {c: n for c, n in (await s.execute(query)).all()}
        done: dict[tuple[str, str], int] = {}
        for phase in Phase:
            q = (
                select(Pupil.classe, func.count(func.distinct(ChoiceVersion.pupil_id)))
                .join(ChoiceVersion, ChoiceVersion.pupil_id == Pupil.id)
                .where(ChoiceVersion.phase == phase)
                .group_by(Pupil.classe)
            )
            for c, n in (await s.execute(q)).all():
                done[(c, phase)] = n
        no_telegram = or_(Person.chat_id.is_(None), Person.telegram_reachable.is_(False))
        no_email = or_(Person.email.is_(None), Person.email == "")
        unreachable: dict[str, list[str]] = {}
        for c, pupil_id, rank in await s.execute(
            select(Pupil.classe, Pupil.id, Guardianship.rank)
            .join(Guardianship, Guardianship.pupil_id == Pupil.id)
            .join(Person, Person.id == Guardianship.person_id)
            .where(no_telegram, no_email)
            .order_by(Pupil.classe, Pupil.id, Guardianship.rank)
        ):
            unreachable.setdefault(c, []).append(f"{pupil_id} RL{rank}")
    return [
        ClassStatus(
            c,
            n,
            done.get((c, Phase.PROVISOIRE), 0),
            done.get((c, Phase.DEFINITIVE), 0),
            tuple(unreachable.get(c, ())),
        )
        for c, n in counts.items()
    ]
