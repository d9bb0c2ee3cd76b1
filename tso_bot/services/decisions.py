"""Rule 6: the chef d'établissement's decision, by import or in Telegram.

Once per pupil (the primary key of `decisions` holds it even in a race), after the final
choices closed. When it differs from the family's request it needs a motif, and the appeal
deadline (3 jours ouvrables from notification, the school's public holidays) is stored with
it. The family is notified at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tso_bot.domain.calendar import SchoolCalendar
from tso_bot.domain.council import CouncilLine
from tso_bot.domain.decision import MAINTIEN, Decision, differs_from_request, family_request
from tso_bot.domain.permissions import Role, StaffRefusal, decision_refusal, may_decide
from tso_bot.domain.phases import Phase
from tso_bot.domain.ranking import Ranking
from tso_bot.domain.voies import Voie, parse_voie
from tso_bot.domain.working_days import appeal_deadline
from tso_bot.services.context import AppContext
from tso_bot.services.council import COMMENT_LIMIT, load_facts
from tso_bot.services.journal import audit, tell_family
from tso_bot.staff import council_checks
from tso_bot.staff.csvio import ImportIssue
from tso_bot.staff.parsing import DecisionRow as DecisionLine
from tso_bot.store import queries
from tso_bot.store.models import DecisionDraftRow, DecisionRow, FamilyAnswerRow, Person, Pupil

KIND = "decision"
MOTIF_LIMIT = COMMENT_LIMIT
PAGE_SIZE = 20


@dataclass(frozen=True)
class DecisionFacts:
    """What the decision screen and the rules need about one pupil."""

    pupil: Pupil
    final_choices: Ranking
    response: FamilyAnswerRow | None  # the family's response to the council (définitive)
    council: tuple[CouncilLine, ...]  # the council's définitive answer, if recorded
    existing: DecisionRow | None

    @property
    def accepted(self) -> Voie | None:
        voie = self.response.accepted_voie if self.response else None
        return Voie(voie) if voie else None

    @property
    def request(self) -> Voie | None:
        return family_request(self.accepted, self.final_choices.voies)

    def differs(self, decision: Decision) -> bool:
        return differs_from_request(decision, self.request)

    def refusal(self, calendar: SchoolCalendar, now: datetime) -> StaffRefusal | None:
        return decision_refusal(calendar, now, decided=self.existing is not None)


async def load_decision_facts(
    s: AsyncSession, calendar: SchoolCalendar, pupil: Pupil, now: datetime
) -> DecisionFacts:
    council = await load_facts(s, calendar, pupil, Phase.DEFINITIVE, now)
    return DecisionFacts(
        pupil,
        council.requested,
        await s.get(FamilyAnswerRow, (pupil.id, Phase.DEFINITIVE.value)),
        council.recorded,
        await s.get(DecisionRow, pupil.id),
    )


async def _record(
    s: AsyncSession,
    calendar: SchoolCalendar,
    facts: DecisionFacts,
    decision: Decision,
    *,
    actor: Person | None,
    actor_name: str | None,
    now: datetime,
) -> DecisionRow:
    """Insert the decision, audit it, notify the family; the caller checked the rules."""
    differs = facts.differs(decision)
    deadline = appeal_deadline(now, calendar.timezone, calendar.holidays) if differs else None
    row = DecisionRow(
        pupil_id=facts.pupil.id,
        decision=decision.code,
        motif=decision.motif,
        person_id=actor.id if actor else None,
        at=now,
        appeal_deadline=deadline,
    )
    s.add(row)
    await s.flush()  # the primary key makes it once per pupil, even in a race
    await s.execute(delete(DecisionDraftRow).where(DecisionDraftRow.pupil_id == facts.pupil.id))
    params: dict[str, Any] = {
        "pupil_id": facts.pupil.id,
        "pupil": facts.pupil.full_name,
        "classe": facts.pupil.classe,
        "decision": decision.code,
        "motif": decision.motif,
        "differs": differs,
        "appeal_deadline": deadline.isoformat() if deadline else None,
        "at": now.isoformat(),
    }
    audit(
        s,
        at=now,
        actor=actor,
        actor_name=actor_name,
        action="decision",
        pupil_id=facts.pupil.id,
        after={k: params[k] for k in ("decision", "motif", "differs", "appeal_deadline")},
    )
    await tell_family(
        s,
        key=f"decision:{facts.pupil.id}",
        kind=KIND,
        guardians=await queries.guardians_of(s, facts.pupil.id),
        pupil=await s.get_one(Person, facts.pupil.person_id),
        actor=None,  # the chef: every guardian is told
        params=params,
        at=now,
    )
    return row


# --- Import ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportOutcome:
    issues: list[ImportIssue]
    decisions: int = 0


def _decision(line: DecisionLine) -> Decision:
    code = line.decision.value if isinstance(line.decision, Voie) else MAINTIEN
    return Decision.from_code(code, line.motif)


async def _check_line(
    s: AsyncSession, ctx: AppContext, line: DecisionLine, now: datetime
) -> tuple[DecisionFacts | None, list[ImportIssue]]:
    pupil = await s.get(Pupil, line.eleve_id)
    if pupil is None:
        return None, council_checks.unknown_pupil([line])
    facts = await load_decision_facts(s, ctx.calendar, pupil, now)
    refusal = facts.refusal(ctx.calendar, now)
    if refusal is not None:
        existing = (facts.existing.decision, facts.existing.at) if facts.existing else None
        return facts, [council_checks.decision_refused(line, refusal, ctx.calendar, existing)]
    if facts.differs(_decision(line)) and not line.motif:
        return facts, [council_checks.motif_required(line, facts.request)]
    return facts, []


async def import_decisions(
    ctx: AppContext, lines: Sequence[DecisionLine], *, dry_run: bool = False
) -> ImportOutcome:
    """All or nothing, like the council import."""
    now = ctx.clock.now()
    async with ctx.db.transaction() as s:
        issues: list[ImportIssue] = []
        ready: list[tuple[DecisionFacts, DecisionLine]] = []
        for line in lines:
            facts, found = await _check_line(s, ctx, line, now)
            issues.extend(found)
            if facts is not None and not found:
                ready.append((facts, line))
        if issues or dry_run:
            issues.sort(key=lambda issue: issue.line or 0)
            return ImportOutcome(issues, len(ready))
        for facts, line in ready:
            await _record(
                s,
                ctx.calendar,
                facts,
                _decision(line),
                actor=None,
                actor_name="cli:decisions",
                now=now,
            )
    ctx.outbox_changed()
    return ImportOutcome([], len(ready))


# --- Telegram -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecisionState:
    """What the decision screen shows for one pupil, or why it cannot."""

    chef: Person | None
    facts: DecisionFacts | None = None
    draft: Decision | None = None  # chosen, not recorded yet
    refusal: StaffRefusal | None = None
    awaiting_motif: bool = False
    motif_missing: bool = False  # "Enregistrer" pressed without the motif it needs
    motif_too_long: bool = False
    saved: DecisionRow | None = None

    @property
    def differs(self) -> bool:
        return self.facts is not None and self.draft is not None and self.facts.differs(self.draft)

    @property
    def ready(self) -> bool:
        return self.draft is not None and (bool(self.draft.motif) or not self.differs)


def awaiting_motif(pupil_id: str) -> str:
    return f"motif:{pupil_id}"


def parse_awaiting_motif(awaiting: str | None) -> str | None:
    kind, _sep, pupil_id = (awaiting or "").partition(":")
    return pupil_id if kind == "motif" and pupil_id else None


async def _state(
    s: AsyncSession, ctx: AppContext, chat_id: int, pupil_id: str, now: datetime
) -> tuple[DecisionState, DecisionDraftRow | None]:
    """Who asks, about whom, whether they may decide now: from the database only."""
    person = await queries.person_by_chat(s, chat_id)
    if person is None:
        return DecisionState(None, refusal=StaffRefusal.NOT_LINKED), None
    if may_decide(Role(person.role)) is not None:
        return DecisionState(person, refusal=StaffRefusal.READ_ONLY), None
    pupil = await s.get(Pupil, pupil_id)
    if pupil is None:
        return DecisionState(person, refusal=StaffRefusal.NOT_LINKED), None
    facts = await load_decision_facts(s, ctx.calendar, pupil, now)
    refusal = facts.refusal(ctx.calendar, now)
    if refusal is not None:
        return DecisionState(person, facts, refusal=refusal), None
    draft_row = await s.get(DecisionDraftRow, pupil.id)
    draft = Decision.from_code(draft_row.decision, draft_row.motif) if draft_row else None
    return DecisionState(person, facts, draft), draft_row


async def open_decision(ctx: AppContext, chat_id: int, pupil_id: str) -> DecisionState:
    now = ctx.clock.now()
    async with ctx.db.transaction() as s:
        state, _row = await _state(s, ctx, chat_id, pupil_id, now)
        if state.chef is not None and state.refusal is None:
            state.chef.awaiting = None
        return state


async def choose(ctx: AppContext, chat_id: int, pupil_id: str, code: str) -> DecisionState:
    """A voie or maintien. When it differs from the request and has no motif yet, the next
    message from the chef is taken as the motif."""
    now = ctx.clock.now()
    async with ctx.db.transaction() as s:
        state, row = await _state(s, ctx, chat_id, pupil_id, now)
        if state.refusal is not None or state.chef is None or state.facts is None:
            return state
        if code != MAINTIEN and parse_voie(code) is None:
            return replace(state, refusal=StaffRefusal.NOT_LINKED)  # a forged button
        motif = row.motif if row else None
        if row is None:
            row = DecisionDraftRow(pupil_id=state.facts.pupil.id, person_id=state.chef.id)
            s.add(row)
        chef = state.chef
        row.decision, row.updated_at, row.person_id = code, now, chef.id
        state = replace(state, draft=Decision.from_code(code, motif))
        ask = state.differs and not motif
        chef.awaiting = awaiting_motif(pupil_id) if ask else None
        return replace(state, awaiting_motif=ask)


async def ask_motif(ctx: AppContext, chat_id: int, pupil_id: str) -> DecisionState:
    now = ctx.clock.now()
    async with ctx.db.transaction() as s:
        state, _row = await _state(s, ctx, chat_id, pupil_id, now)
        if state.refusal is not None or state.chef is None or state.draft is None:
            return state
        state.chef.awaiting = awaiting_motif(pupil_id)
        return replace(state, awaiting_motif=True)


async def set_motif(ctx: AppContext, chat_id: int, text: str) -> DecisionState | None:
    """The text typed after choosing a decision that differs: None when this chat was not
    asked for a motif."""
    now = ctx.clock.now()
    async with ctx.db.transaction() as s:
        person = await queries.person_by_chat(s, chat_id)
        pupil_id = parse_awaiting_motif(person.awaiting if person else None)
        if person is None or pupil_id is None:
            return None
        person.awaiting = None
        state, row = await _state(s, ctx, chat_id, pupil_id, now)
        if state.refusal is not None or row is None or state.draft is None:
            return state
        motif = text.strip()
        if len(motif) > MOTIF_LIMIT:
            person.awaiting = awaiting_motif(pupil_id)
            return replace(state, awaiting_motif=True, motif_too_long=True)
        row.motif, row.updated_at = motif or None, now
        return replace(state, draft=replace(state.draft, motif=row.motif))


async def save(ctx: AppContext, chat_id: int, pupil_id: str) -> DecisionState:
    """ "Enregistrer la décision". A lost race (two presses at once) surfaces as an
    IntegrityError: running again answers with ALREADY_DECIDED."""
    try:
        return await _save_once(ctx, chat_id, pupil_id)
    except IntegrityError:
        return await _save_once(ctx, chat_id, pupil_id)


async def _save_once(ctx: AppContext, chat_id: int, pupil_id: str) -> DecisionState:
    now = ctx.clock.now()
    async with ctx.db.transaction() as s:
        state, _row = await _state(s, ctx, chat_id, pupil_id, now)
        if state.refusal is not None or state.chef is None or state.facts is None:
            return state
        if state.draft is None:
            # On PostgreSQL (read committed) a concurrent save may have committed between
            # our read of the decision and of its draft: look again, to say so.
            if await s.get(DecisionRow, pupil_id) is not None:
                return replace(state, refusal=StaffRefusal.ALREADY_DECIDED)
            return state
        if not state.ready:
            state.chef.awaiting = awaiting_motif(pupil_id)
            return replace(state, motif_missing=True, awaiting_motif=True)
        saved = await _record(
            s, ctx.calendar, state.facts, state.draft, actor=state.chef, actor_name=None, now=now
        )
        state.chef.awaiting = None
    ctx.outbox_changed()
    return replace(state, saved=saved)


@dataclass(frozen=True)
class Pending:
    """The decisions still to take, a page at a time (Telegram shows 100 buttons at most)."""

    chef: Person | None
    pupils: tuple[tuple[Pupil, Voie | None], ...] = ()  # with the family's request
    page: int = 0
    pages: int = 1
    total: int = 0
    refusal: StaffRefusal | None = None


async def pending(ctx: AppContext, chat_id: int, page: int = 0) -> Pending:
    now = ctx.clock.now()
    async with ctx.db.transaction() as s:
        person = await queries.person_by_chat(s, chat_id)
        if person is None:
            return Pending(None, refusal=StaffRefusal.NOT_LINKED)
        if may_decide(Role(person.role)) is not None:
            return Pending(person, refusal=StaffRefusal.READ_ONLY)
        refusal = decision_refusal(ctx.calendar, now, decided=False)
        if refusal is not None:
            return Pending(person, refusal=refusal)
        person.awaiting = None
        undecided = Pupil.id.not_in(select(DecisionRow.pupil_id))
        total = await s.scalar(select(func.count()).select_from(Pupil).where(undecided)) or 0
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(max(page, 0), pages - 1)
        query = (
            select(Pupil)
            .where(undecided)
            .order_by(Pupil.classe, Pupil.nom, Pupil.prenom, Pupil.id)
            .offset(page * PAGE_SIZE)
            .limit(PAGE_SIZE)
        )
        rows = []
        for pupil in await s.scalars(query):
            facts = await load_decision_facts(s, ctx.calendar, pupil, now)
            rows.append((pupil, facts.request))
        return Pending(person, tuple(rows), page, pages, total)
