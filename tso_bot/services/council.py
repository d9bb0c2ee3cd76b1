"""Rule 4: the class council's answers, by import or by the PP / chef in Telegram.

Both ways read the same facts (`load_facts`), apply the same rules
(`permissions.council_refusal`, `council.check_council`) and record the same way (`_record`:
replace the lines, audit before → after, queue or update the families' notifications), each
in one transaction. In Telegram the answer is built voie by voie in a draft table, so that a
family never sees half an answer, and recorded with "Enregistrer" once complete.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tso_bot.domain.calendar import SchoolCalendar
from tso_bot.domain.council import Avis, CouncilLine, CouncilProblem, check_council
from tso_bot.domain.permissions import (
    Role,
    StaffRefusal,
    council_refusal,
    council_window_denial,
    decision_window_denial,
    is_staff,
    may_record_council,
    staff_refusal,
)
from tso_bot.domain.phases import Phase
from tso_bot.domain.ranking import Ranking
from tso_bot.domain.voies import Voie, parse_voie
from tso_bot.services.context import AppContext
from tso_bot.services.journal import audit, tell_family
from tso_bot.staff import council_checks
from tso_bot.staff.csvio import ImportIssue
from tso_bot.staff.parsing import CouncilRow
from tso_bot.store import queries
from tso_bot.store.models import (
    ChoiceVersion,
    CouncilAnswerRow,
    CouncilDraftRow,
    DecisionRow,
    FamilyAnswerRow,
    OutboxMessage,
    Person,
    Pupil,
)

KIND = "council_answers"
COMMENT_LIMIT = 2000  # as in the CSV file
PHASE_LETTERS = {Phase.PROVISOIRE: "p", Phase.DEFINITIVE: "d"}
_LETTER_PHASES = {v: k for k, v in PHASE_LETTERS.items()}
# A comment typed as just this erases the comment.
ERASE = frozenset({"-", "—", "–"})


# --- Facts and ordering ---------------------------------------------------------------------


@dataclass(frozen=True)
class CouncilFacts:
    """What the rules need to know about one pupil's council answer in one phase."""

    pupil: Pupil
    phase: Phase
    requested: Ranking  # the latest validated choices of that phase
    recorded: tuple[CouncilLine, ...]
    family_answered_at: datetime | None
    released: bool

    def refusal(self, calendar: SchoolCalendar, now: datetime) -> StaffRefusal | None:
        return council_refusal(
            calendar,
            self.phase,
            now,
            requested=bool(self.requested.voies),
            family_answered=self.family_answered_at is not None,
            released=self.released,
        )


def ordered(requested: Ranking, lines: Iterable[CouncilLine]) -> tuple[CouncilLine, ...]:
    """Requested voies in rank order first, then the proposals in the voies' own order."""
    rank = {v: i for i, v in enumerate(requested.voies)}
    order = list(Voie)
    return tuple(sorted(lines, key=lambda x: (rank.get(x.voie, len(rank)), order.index(x.voie))))


def as_params(lines: Iterable[CouncilLine]) -> list[list[str | None]]:
    return [[x.voie.value, x.avis.value, x.comment] for x in lines]


async def _answer_rows(s: AsyncSession, pupil_id: str, phase: Phase) -> list[CouncilAnswerRow]:
    query = select(CouncilAnswerRow).where(
        CouncilAnswerRow.pupil_id == pupil_id, CouncilAnswerRow.phase == phase
    )
    return list(await s.scalars(query))


def _key_prefix(pupil_id: str, phase: Phase) -> str:
    return f"council:{pupil_id}:{phase}:"


async def _released(
    s: AsyncSession, calendar: SchoolCalendar, pupil_id: str, phase: Phase, now: datetime
) -> bool:
    """Recorded lines the family has seen, or may have: its answer window has opened (the
    dossier shows them from then on), or a notification already left."""
    window = calendar.window(phase.answer_step)
    if window is not None and now >= window.opens:
        return True
    sent = await s.scalar(
        select(OutboxMessage.id)
        .where(
            OutboxMessage.kind == KIND,
            OutboxMessage.key.startswith(_key_prefix(pupil_id, phase), autoescape=True),
            OutboxMessage.status != "pending",
        )
        .limit(1)
    )
    return sent is not None


async def load_facts(
    s: AsyncSession, calendar: SchoolCalendar, pupil: Pupil, phase: Phase, now: datetime
) -> CouncilFacts:
    version = await queries.latest_version(s, pupil.id, phase)
    requested = Ranking.decode(version.voies if version else "")
    rows = await _answer_rows(s, pupil.id, phase)
    recorded = ordered(
        requested, (CouncilLine(Voie(r.voie), Avis(r.avis), r.comment) for r in rows)
    )
    answered = await s.get(FamilyAnswerRow, (pupil.id, phase))
    released = bool(rows) and await _released(s, calendar, pupil.id, phase, now)
    return CouncilFacts(
        pupil, phase, requested, recorded, answered.at if answered else None, released
    )


# --- Recording (import and Telegram alike) --------------------------------------------------


async def _queue(
    s: AsyncSession,
    calendar: SchoolCalendar,
    pupil: Pupil,
    phase: Phase,
    lines: Sequence[CouncilLine],
    now: datetime,
) -> None:
    """Both guardians and the pupil hear of it when the answer window opens (at once if it
    is open). Re-recorded before then, the pending messages (same keys) get the new answer
    instead of a second message announcing another one."""
    window = calendar.window(phase.answer_step)
    not_before = max(now, window.opens) if window else now
    params: dict[str, Any] = {
        "pupil_id": pupil.id,
        "pupil": pupil.full_name,
        "classe": pupil.classe,
        "phase": str(phase),
        "lines": as_params(lines),
        "at": now.isoformat(),
    }
    await s.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.kind == KIND,
            OutboxMessage.key.startswith(_key_prefix(pupil.id, phase), autoescape=True),
            OutboxMessage.status == "pending",
        )
        .values(params=params, not_before=not_before)
    )
    await tell_family(
        s,
        key=_key_prefix(pupil.id, phase).removesuffix(":"),
        kind=KIND,
        guardians=await queries.guardians_of(s, pupil.id),
        pupil=await s.get_one(Person, pupil.person_id),
        actor=None,  # staff: every guardian is told
        params=params,
        at=now,
        not_before=not_before,
    )


async def _record(
    s: AsyncSession,
    calendar: SchoolCalendar,
    facts: CouncilFacts,
    lines: Iterable[CouncilLine],
    *,
    actor: Person | None,
    actor_name: str | None,
    now: datetime,
) -> tuple[CouncilLine, ...]:
    """Replace the pupil's lines for the phase; the caller has checked the rules."""
    pupil, phase = facts.pupil, facts.phase
    new = ordered(facts.requested, lines)
    for row in await _answer_rows(s, pupil.id, phase):
        await s.delete(row)
    await s.execute(
        delete(CouncilDraftRow).where(
            CouncilDraftRow.pupil_id == pupil.id, CouncilDraftRow.phase == phase
        )
    )
    await s.flush()  # the old lines go before the new ones (same primary keys)
    for line in new:
        s.add(
            CouncilAnswerRow(
                pupil_id=pupil.id,
                phase=phase,
                voie=line.voie.value,
                avis=line.avis.value,
                comment=line.comment,
                person_id=actor.id if actor else None,
                at=now,
            )
        )
    audit(
        s,
        at=now,
        actor=actor,
        actor_name=actor_name,
        action=f"council_{phase}",
        pupil_id=pupil.id,
        before={"lines": as_params(facts.recorded)} if facts.recorded else None,
        after={"lines": as_params(new)},
    )
    await _queue(s, calendar, pupil, phase, new, now)
    return new


# --- Import ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportOutcome:
    """Every issue (then nothing was recorded), or how many answers were recorded."""

    issues: list[ImportIssue]
    answers: int = 0
    lines: int = 0


def _group(rows: Sequence[CouncilRow]) -> dict[tuple[str, Phase], list[CouncilRow]]:
    groups: dict[tuple[str, Phase], list[CouncilRow]] = defaultdict(list)
    for row in rows:
        groups[(row.eleve_id, Phase(row.phase))].append(row)
    return groups


def _line(row: CouncilRow) -> CouncilLine:
    return CouncilLine(row.voie, Avis(row.avis), row.commentaire)


async def _check_group(
    s: AsyncSession, ctx: AppContext, key: tuple[str, Phase], rows: list[CouncilRow], now: datetime
) -> tuple[CouncilFacts | None, list[ImportIssue]]:
    eleve_id, phase = key
    pupil = await s.get(Pupil, eleve_id)
    if pupil is None:
        return None, council_checks.unknown_pupil(rows)
    facts = await load_facts(s, ctx.calendar, pupil, phase, now)
    refusal = facts.refusal(ctx.calendar, now)
    if refusal is not None:
        issues = council_checks.council_refused(
            rows, refusal, phase, ctx.calendar, facts.family_answered_at
        )
        return facts, issues
    problems = check_council(facts.requested, [_line(r) for r in rows], complete=True)
    return facts, council_checks.council_problems(rows, phase, facts.requested.voies, problems)


async def import_council(
    ctx: AppContext, rows: Sequence[CouncilRow], *, dry_run: bool = False
) -> ImportOutcome:
    """All or nothing: every line is checked against the database first; with a single
    issue, nothing is written. A dry run checks the same way and writes nothing."""
    now = ctx.clock.now()
    async with ctx.db.transaction() as s:
        issues: list[ImportIssue] = []
        ready: list[tuple[CouncilFacts, list[CouncilRow]]] = []
        for key, group in _group(rows).items():
            facts, found = await _check_group(s, ctx, key, group, now)
            issues.extend(found)
            if facts is not None and not found:
                ready.append((facts, group))
        if issues or dry_run:
            issues.sort(key=lambda issue: issue.line or 0)
            return ImportOutcome(issues, len(ready), sum(len(g) for _f, g in ready))
        for facts, group in ready:
            await _record(
                s,
                ctx.calendar,
                facts,
                (_line(r) for r in group),
                actor=None,
                actor_name="cli:council",
                now=now,
            )
    ctx.outbox_changed()
    return ImportOutcome([], len(ready), len(rows))


# --- Telegram: the entry screen, voie by voie -----------------------------------------------


@dataclass(frozen=True)
class DraftLine:
    avis: Avis | None = None  # None: not answered yet
    comment: str | None = None


@dataclass(frozen=True)
class Entry:
    """What the council entry screen shows for one pupil and phase, or why it cannot."""

    staff: Person | None
    phase: Phase
    facts: CouncilFacts | None = None
    draft: Mapping[Voie, DraftLine] = field(default_factory=dict)
    refusal: StaffRefusal | None = None
    problems: tuple[tuple[Voie | None, CouncilProblem], ...] = ()
    awaiting: Voie | None = None  # the voie whose comment the next message gives
    comment_too_long: bool = False
    saved: tuple[CouncilLine, ...] | None = None
    next_pupil: Pupil | None = None  # after saving: the next pupil of the class to enter

    @property
    def lines(self) -> list[CouncilLine]:
        """The draft's answered lines, as they would be recorded."""
        return draft_lines(self.draft)


def draft_lines(draft: Mapping[Voie, DraftLine]) -> list[CouncilLine]:
    return [CouncilLine(v, d.avis, d.comment) for v, d in draft.items() if d.avis is not None]


async def _entry(
    s: AsyncSession, ctx: AppContext, chat_id: int, pupil_id: str, phase: Phase, now: datetime
) -> Entry:
    """Who is asking, about whom, and whether they may record now: from the database only."""
    person = await queries.person_by_chat(s, chat_id)
    if person is None:
        return Entry(None, phase, refusal=StaffRefusal.NOT_LINKED)
    pupil = await s.get(Pupil, pupil_id)
    if pupil is None:
        return Entry(person, phase, refusal=StaffRefusal.NOT_LINKED)
    right = may_record_council(Role(person.role), person.classe, pupil.classe)
    if right is not None:
        return Entry(person, phase, refusal=staff_refusal(right))
    facts = await load_facts(s, ctx.calendar, pupil, phase, now)
    return Entry(person, phase, facts, refusal=facts.refusal(ctx.calendar, now))


async def _draft_rows(s: AsyncSession, facts: CouncilFacts) -> dict[Voie, CouncilDraftRow]:
    query = select(CouncilDraftRow).where(
        CouncilDraftRow.pupil_id == facts.pupil.id, CouncilDraftRow.phase == facts.phase
    )
    return {Voie(r.voie): r for r in await s.scalars(query)}


def _start(facts: CouncilFacts) -> dict[Voie, DraftLine]:
    """A new draft: the recorded answer (to correct it), else the requested voies, blank."""
    start = {v: DraftLine() for v in facts.requested.voies}
    return start | {x.voie: DraftLine(x.avis, x.comment) for x in facts.recorded}


async def _ensure_draft(
    s: AsyncSession, facts: CouncilFacts, person: Person, now: datetime
) -> dict[Voie, CouncilDraftRow]:
    """The draft's rows, written on the first change (merely looking starts nothing)."""
    rows = await _draft_rows(s, facts)
    if rows:
        return rows
    for voie, line in _start(facts).items():
        rows[voie] = _new_draft_row(facts, person, voie, line.avis, now, line.comment)
        s.add(rows[voie])
    await s.flush()
    return rows


def _as_draft(rows: Mapping[Voie, CouncilDraftRow]) -> dict[Voie, DraftLine]:
    return {v: DraftLine(Avis(r.avis) if r.avis else None, r.comment) for v, r in rows.items()}


def _sorted_draft(draft: Mapping[Voie, DraftLine], requested: Ranking) -> dict[Voie, DraftLine]:
    """In the order of `ordered`: requested voies by rank, then the proposals."""
    rank = {v: i for i, v in enumerate(requested.voies)}
    order = list(Voie)
    return dict(sorted(draft.items(), key=lambda kv: (rank.get(kv[0], 9), order.index(kv[0]))))


async def _opened(
    s: AsyncSession,
    ctx: AppContext,
    chat_id: int,
    pupil_id: str,
    phase: Phase,
    now: datetime,
    *,
    write: bool = True,
) -> tuple[Entry, dict[Voie, CouncilDraftRow]]:
    """The entry with its draft; `write=False` only reads (the draft may not exist yet)."""
    entry = await _entry(s, ctx, chat_id, pupil_id, phase, now)
    if entry.refusal is not None or entry.facts is None or entry.staff is None:
        return entry, {}
    if write:
        rows = await _ensure_draft(s, entry.facts, entry.staff, now)
    else:
        rows = await _draft_rows(s, entry.facts)
    draft = _as_draft(rows) if rows else _start(entry.facts)
    return replace(entry, draft=_sorted_draft(draft, entry.facts.requested)), rows


async def open_entry(ctx: AppContext, chat_id: int, pupil_id: str, phase: Phase) -> Entry:
    now = ctx.clock.now()
    async with ctx.db.transaction() as s:
        entry, _rows = await _opened(s, ctx, chat_id, pupil_id, phase, now, write=False)
        if entry.staff is not None and entry.refusal is None:
            entry.staff.awaiting = None  # leaving a comment prompt unanswered
        return entry


async def toggle(
    ctx: AppContext, chat_id: int, pupil_id: str, phase: Phase, voie: Voie, avis: Avis
) -> Entry:
    """Oui / Non for a requested voie, or propose / withdraw a voie the family did not
    request: pressing the chosen avis again clears it. The same rules as an import check
    each change, so a forged button cannot put a wrong line in the draft."""
    now = ctx.clock.now()
    async with ctx.db.transaction() as s:
        entry, rows = await _opened(s, ctx, chat_id, pupil_id, phase, now)
        if entry.refusal is not None or entry.facts is None or entry.staff is None:
            return entry
        current = entry.draft.get(voie, DraftLine())
        chosen = None if current.avis is avis else avis
        draft = {**entry.draft, voie: replace(current, avis=chosen)}
        problems = check_council(entry.facts.requested, draft_lines(draft), complete=False)
        if problems:
            return replace(entry, problems=tuple(problems))
        row = rows.get(voie)
        if chosen is None and voie not in entry.facts.requested.voies:
            if row is not None:
                await s.delete(row)  # a withdrawn proposal, comment and all
            draft.pop(voie)
        elif row is None:
            s.add(_new_draft_row(entry.facts, entry.staff, voie, chosen, now))
        else:
            row.avis, row.person_id, row.updated_at = chosen, entry.staff.id, now
        entry.staff.awaiting = None
        return replace(entry, draft=_sorted_draft(draft, entry.facts.requested))


def _new_draft_row(
    facts: CouncilFacts,
    person: Person,
    voie: Voie,
    avis: Avis | None,
    now: datetime,
    comment: str | None = None,
) -> CouncilDraftRow:
    return CouncilDraftRow(
        pupil_id=facts.pupil.id,
        phase=facts.phase,
        voie=voie.value,
        avis=avis.value if avis else None,
        comment=comment,
        person_id=person.id,
        updated_at=now,
    )


def awaiting_comment(pupil_id: str, phase: Phase, voie: Voie) -> str:
    return f"comment:{pupil_id}:{PHASE_LETTERS[phase]}:{voie.value}"


def parse_awaiting_comment(awaiting: str | None) -> tuple[str, Phase, Voie] | None:
    parts = (awaiting or "").split(":")
    if len(parts) != 4 or parts[0] != "comment" or not parts[1]:
        return None
    phase, voie = _LETTER_PHASES.get(parts[2]), parse_voie(parts[3])
    if phase is None or voie is None:
        return None
    return parts[1], phase, voie


async def ask_comment(
    ctx: AppContext, chat_id: int, pupil_id: str, phase: Phase, voie: Voie
) -> Entry:
    """The next free text from this chat becomes the comment on `voie` (state kept in the
    database: `Person.awaiting`)."""
    now = ctx.clock.now()
    async with ctx.db.transaction() as s:
        entry, _rows = await _opened(s, ctx, chat_id, pupil_id, phase, now)
        if entry.refusal is not None or entry.facts is None or entry.staff is None:
            return entry
        if voie not in entry.draft:  # neither requested nor proposed: a forged button
            return replace(entry, problems=((voie, CouncilProblem.NOT_REQUESTED),))
        entry.staff.awaiting = awaiting_comment(pupil_id, phase, voie)
        return replace(entry, awaiting=voie)


async def set_comment(ctx: AppContext, chat_id: int, text: str) -> Entry | None:
    """The text typed after [💬]: None when this chat was not asked for a comment."""
    now = ctx.clock.now()
    async with ctx.db.transaction() as s:
        person = await queries.person_by_chat(s, chat_id)
        target = parse_awaiting_comment(person.awaiting if person else None)
        if person is None or target is None:
            return None
        pupil_id, phase, voie = target
        person.awaiting = None  # answered, or refused: either way the prompt is over
        entry, rows = await _opened(s, ctx, chat_id, pupil_id, phase, now)
        if entry.refusal is not None or entry.facts is None or voie not in rows:
            return entry
        comment = text.strip()
        if len(comment) > COMMENT_LIMIT:
            person.awaiting = awaiting_comment(pupil_id, phase, voie)  # let them shorten it
            return replace(entry, awaiting=voie, comment_too_long=True)
        row = rows[voie]
        row.comment = None if comment in ERASE or not comment else comment
        row.person_id, row.updated_at = person.id, now
        draft = {**entry.draft, voie: replace(entry.draft[voie], comment=row.comment)}
        return replace(entry, draft=draft)


async def save(ctx: AppContext, chat_id: int, pupil_id: str, phase: Phase) -> Entry:
    """ "Enregistrer": the draft, complete, becomes the council's answer. Two presses at
    once on PostgreSQL may collide on the answer's primary key: the second runs again and
    records the same answer over the first (the same lines, the same pending messages)."""
    try:
        return await _save_once(ctx, chat_id, pupil_id, phase)
    except IntegrityError:
        return await _save_once(ctx, chat_id, pupil_id, phase)


async def _save_once(ctx: AppContext, chat_id: int, pupil_id: str, phase: Phase) -> Entry:
    now = ctx.clock.now()
    async with ctx.db.transaction() as s:
        entry, _rows = await _opened(s, ctx, chat_id, pupil_id, phase, now, write=False)
        if entry.refusal is not None or entry.facts is None or entry.staff is None:
            return entry
        problems = check_council(entry.facts.requested, entry.lines, complete=True)
        if problems:
            return replace(entry, problems=tuple(problems))
        saved = await _record(
            s, ctx.calendar, entry.facts, entry.lines, actor=entry.staff, actor_name=None, now=now
        )
        entry.staff.awaiting = None
        following = await _next_to_enter(s, entry.facts.pupil, phase)
    ctx.outbox_changed()
    return replace(entry, saved=saved, next_pupil=following)


async def _next_to_enter(s: AsyncSession, pupil: Pupil, phase: Phase) -> Pupil | None:
    """The next pupil of the class, in list order, with a request and no answer yet."""
    status = await statuses(s, [pupil.classe], phase)
    pupils = await _class_pupils(s, pupil.classe)
    after = [p for p in pupils if (p.nom, p.prenom, p.id) > (pupil.nom, pupil.prenom, pupil.id)]
    waiting = {CouncilStatus.TO_ENTER, CouncilStatus.DRAFT}
    return next((p for p in after if status.get(p.id) in waiting), None)


# --- Telegram: the staff's home and class lists ---------------------------------------------


class CouncilStatus(StrEnum):
    NO_REQUEST = "no_request"  # the family validated nothing: nothing to answer
    TO_ENTER = "to_enter"
    DRAFT = "draft"  # being entered in Telegram
    RECORDED = "recorded"
    FAMILY_ANSWERED = "family_answered"


def class_key(classe: str) -> str:
    """A short, fixed-size id for a class in button data (class names may be long or
    accented; 64 bytes is little)."""
    return hashlib.sha256(classe.encode("utf-8")).hexdigest()[:10]


def open_council_phase(calendar: SchoolCalendar, now: datetime) -> Phase | None:
    """The phase whose council answers may be recorded now (the periods never overlap)."""
    return next((p for p in Phase if council_window_denial(calendar, p, now) is None), None)


async def _class_pupils(s: AsyncSession, classe: str) -> list[Pupil]:
    query = select(Pupil).where(Pupil.classe == classe).order_by(Pupil.nom, Pupil.prenom, Pupil.id)
    return list(await s.scalars(query))


async def _pupil_ids(s: AsyncSession, column: Any, classes: Sequence[str], *where: Any) -> set[str]:
    """The pupils of these classes that have a row in `column`'s table (matching `where`)."""
    query = select(column).join(Pupil, Pupil.id == column).where(Pupil.classe.in_(classes), *where)
    return set(await s.scalars(query.distinct()))


async def statuses(
    s: AsyncSession, classes: Sequence[str], phase: Phase
) -> dict[str, CouncilStatus]:
    """Each pupil's council status in these classes, in a handful of queries (a class
    list is shown on every press)."""
    pupils = set(await s.scalars(select(Pupil.id).where(Pupil.classe.in_(classes))))
    requested = await _pupil_ids(s, ChoiceVersion.pupil_id, classes, ChoiceVersion.phase == phase)
    recorded = await _pupil_ids(
        s, CouncilAnswerRow.pupil_id, classes, CouncilAnswerRow.phase == phase
    )
    drafts = await _pupil_ids(s, CouncilDraftRow.pupil_id, classes, CouncilDraftRow.phase == phase)
    answered = await _pupil_ids(
        s, FamilyAnswerRow.pupil_id, classes, FamilyAnswerRow.phase == phase
    )
    out = {}
    for pid in pupils:
        if pid in answered:
            out[pid] = CouncilStatus.FAMILY_ANSWERED
        elif pid in recorded:
            out[pid] = CouncilStatus.RECORDED
        elif pid in drafts:
            out[pid] = CouncilStatus.DRAFT
        elif pid in requested:
            out[pid] = CouncilStatus.TO_ENTER
        else:
            out[pid] = CouncilStatus.NO_REQUEST
    return out


@dataclass(frozen=True)
class PupilLine:
    pupil: Pupil
    status: CouncilStatus | None  # None when no council may be recorded now


@dataclass(frozen=True)
class ClassLine:
    classe: str
    pupils: int
    recorded: int  # council answers recorded in the open phase

    @property
    def key(self) -> str:
        return class_key(self.classe)


@dataclass(frozen=True)
class Overview:
    """A staff member's home (their class, or the school's classes) or one class."""

    staff: Person | None
    phase: Phase | None = None  # the phase whose council may be recorded now
    classes: tuple[ClassLine, ...] = ()
    classe: str | None = None
    pupils: tuple[PupilLine, ...] = ()
    may_record: bool = False
    decisions_open: bool = False  # the chef may take decisions now
    decisions_pending: int = 0
    refusal: StaffRefusal | None = None


async def _staff(s: AsyncSession, chat_id: int) -> tuple[Person | None, StaffRefusal | None]:
    person = await queries.person_by_chat(s, chat_id)
    if person is None:
        return None, StaffRefusal.NOT_LINKED
    if not is_staff(Role(person.role)):
        return person, StaffRefusal.READ_ONLY
    return person, None


async def _class_overview(
    s: AsyncSession, ctx: AppContext, person: Person, classe: str, now: datetime
) -> Overview:
    phase = open_council_phase(ctx.calendar, now)
    status = await statuses(s, [classe], phase) if phase else {}
    pupils = tuple(PupilLine(p, status.get(p.id)) for p in await _class_pupils(s, classe))
    may = may_record_council(Role(person.role), person.classe, classe) is None
    return Overview(person, phase, classe=classe, pupils=pupils, may_record=may and bool(phase))


async def _school_overview(
    s: AsyncSession, ctx: AppContext, person: Person, now: datetime
) -> Overview:
    phase = open_council_phase(ctx.calendar, now)
    counts = await s.execute(
        select(Pupil.classe, func.count()).group_by(Pupil.classe).order_by(Pupil.classe)
    )
    sizes = {classe: n for classe, n in counts.all()}
    status = await statuses(s, list(sizes), phase) if phase else {}
    pupil_classes = {pid: c for pid, c in await s.execute(select(Pupil.id, Pupil.classe))}
    recorded: dict[str, int] = defaultdict(int)
    for pid, st in status.items():
        if st in (CouncilStatus.RECORDED, CouncilStatus.FAMILY_ANSWERED):
            recorded[pupil_classes[pid]] += 1
    classes = tuple(ClassLine(c, n, recorded[c]) for c, n in sizes.items())
    chef = Role(person.role) is Role.CHEF
    decisions_open = chef and decision_window_denial(ctx.calendar, now) is None
    pending = 0
    if decisions_open:
        decided = select(DecisionRow.pupil_id)
        pending = (
            await s.scalar(select(func.count()).select_from(Pupil).where(Pupil.id.not_in(decided)))
            or 0
        )
    return Overview(
        person,
        phase,
        classes=classes,
        may_record=chef and bool(phase),
        decisions_open=decisions_open,
        decisions_pending=pending,
    )


async def home(ctx: AppContext, chat_id: int) -> Overview:
    """`/dossier` for staff: a PP's class, or the school's classes. Also ends any pending
    free-text prompt (a comment or a motif not typed)."""
    now = ctx.clock.now()
    async with ctx.db.transaction() as s:
        person, refusal = await _staff(s, chat_id)
        if person is None or refusal is not None:
            return Overview(person, refusal=refusal)
        person.awaiting = None
        if Role(person.role) is Role.PP:
            return await _class_overview(s, ctx, person, person.classe or "", now)
        return await _school_overview(s, ctx, person, now)


async def class_list(ctx: AppContext, chat_id: int, key: str) -> Overview:
    """One class by its key: a PP only their own; the chef and the secrétariat any."""
    now = ctx.clock.now()
    async with ctx.db.transaction() as s:
        person, refusal = await _staff(s, chat_id)
        if person is None or refusal is not None:
            return Overview(person, refusal=refusal)
        classes = set(await s.scalars(select(Pupil.classe).distinct()))
        classe = next((c for c in classes if class_key(c) == key), None)
        if classe is None:
            return Overview(person, refusal=StaffRefusal.NOT_LINKED)
        if Role(person.role) is Role.PP and person.classe != classe:
            return Overview(person, refusal=StaffRefusal.OTHER_CLASS)
        person.awaiting = None
        return await _class_overview(s, ctx, person, classe, now)


async def end_prompt(ctx: AppContext, chat_id: int) -> None:
    """Any command ends a pending free-text prompt (a comment or a motif not typed), so a
    later message is not taken for it by surprise."""
    async with ctx.db.transaction() as s:
        await s.execute(
            update(Person)
            .where(Person.chat_id == chat_id, Person.awaiting.is_not(None))
            .values(awaiting=None)
        )
