"""What is wrong with a council or decisions file once read against the database.

`parsing` checks the syntax; the services load the facts (the pupil, what the family
requested, the windows, what is already recorded) and these pure builders turn a refusal or
a problem into `ImportIssue`s that name each bad line and column. Every French message of
these two imports is defined here (and listed in `ALL_MESSAGES`).

Dates in messages are written `2024-03-11 23:59` (school time): unambiguous in any language,
and the same as the calendar file the staff wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tso_bot.domain.calendar import SchoolCalendar, Step
from tso_bot.domain.council import CouncilProblem
from tso_bot.domain.decision import MAINTIEN
from tso_bot.domain.permissions import StaffRefusal
from tso_bot.domain.phases import Phase
from tso_bot.domain.voies import Voie
from tso_bot.i18n import N_
from tso_bot.staff.csvio import ImportIssue
from tso_bot.staff.parsing import CouncilRow, DecisionRow

# --- Messages (French msgids) ---------------------------------------------------------------

MSG_UNKNOWN_PUPIL = N_("élève inconnu « {eleve_id} » : il ne figure pas dans la liste des élèves")
MSG_NO_REQUEST = N_(
    "la famille de l'élève « {eleve_id} » n'a validé aucune voie en phase {phase} : "
    "il n'y a rien à quoi répondre"
)
MSG_NOT_REQUESTED = N_(
    "avis « {avis} » pour la voie {voie}, que la famille n'a pas demandée en phase {phase} "
    "(demande : {requested}) : pour la proposer, écrivez « proposition »"
)
MSG_PROPOSED_REQUESTED = N_(
    "« proposition » pour la voie {voie}, que la famille a demandée : répondez « oui » ou « non »"
)
MSG_ANSWERED_TWICE = N_("la voie {voie} a déjà un avis pour cet élève en phase {phase}")
MSG_MISSING = N_(
    "la voie {voie}, demandée par la famille de l'élève « {eleve_id} » (rang {rank}), "
    "n'a pas d'avis en phase {phase} (ligne(s) de cet élève : {lines})"
)
MSG_COUNCIL_NOT_YET = N_(
    "trop tôt : l'avis du conseil de la phase {phase} s'enregistre après la fermeture de la "
    "saisie des familles, le {closes}"
)
MSG_COUNCIL_CLOSED = N_(
    "trop tard : la réponse des familles à la phase {phase} était ouverte du {opens} au "
    "{closes} ; l'avis ne peut plus être enregistré"
)
MSG_NOT_DATED = N_("les dates de la phase {phase} ne sont pas fixées dans le calendrier")
MSG_FAMILY_ANSWERED = N_(
    "la famille a déjà répondu à l'avis du conseil de la phase {phase}, le {at} : "
    "l'avis ne peut plus changer"
)
MSG_RELEASED = N_(
    "l'avis du conseil de la phase {phase} a déjà été communiqué à la famille : "
    "il ne peut plus changer"
)
MSG_DECISION_NOT_YET = N_(
    "trop tôt : la décision s'enregistre après la fermeture des choix définitifs, le {closes}"
)
MSG_DECISION_NOT_DATED = N_("les dates des choix définitifs ne sont pas fixées dans le calendrier")
MSG_MOTIF_REQUIRED = N_(
    "la décision « {decision} » diffère de la demande de la famille ({request}) : "
    "le motif est obligatoire"
)
MSG_ALREADY_DECIDED = N_(
    "la décision de l'élève « {eleve_id} » est déjà enregistrée ({decision}, le {at}) : "
    "elle ne peut plus changer"
)

ALL_MESSAGES: tuple[str, ...] = (
    MSG_UNKNOWN_PUPIL,
    MSG_NO_REQUEST,
    MSG_NOT_REQUESTED,
    MSG_PROPOSED_REQUESTED,
    MSG_ANSWERED_TWICE,
    MSG_MISSING,
    MSG_COUNCIL_NOT_YET,
    MSG_COUNCIL_CLOSED,
    MSG_NOT_DATED,
    MSG_FAMILY_ANSWERED,
    MSG_RELEASED,
    MSG_DECISION_NOT_YET,
    MSG_DECISION_NOT_DATED,
    MSG_MOTIF_REQUIRED,
    MSG_ALREADY_DECIDED,
)


def stamp(calendar: SchoolCalendar, moment: datetime) -> str:
    """A moment in school time, as the calendar file writes it."""
    return calendar.local(moment).strftime("%Y-%m-%d %H:%M")


# --- Council --------------------------------------------------------------------------------


def unknown_pupil(rows: Sequence[CouncilRow] | Sequence[DecisionRow]) -> list[ImportIssue]:
    return [
        ImportIssue(r.line, "eleve_id", MSG_UNKNOWN_PUPIL, {"eleve_id": r.eleve_id}) for r in rows
    ]


def council_refused(
    rows: Sequence[CouncilRow],
    refusal: StaffRefusal,
    phase: Phase,
    calendar: SchoolCalendar,
    family_answered_at: datetime | None = None,
) -> list[ImportIssue]:
    """The same refusal on every line of one pupil's answer for one phase."""
    column, msgid, params = _council_refusal_message(
        refusal, phase, calendar, rows[0].eleve_id, family_answered_at
    )
    return [ImportIssue(r.line, column, msgid, params) for r in rows]


def _council_refusal_message(
    refusal: StaffRefusal,
    phase: Phase,
    calendar: SchoolCalendar,
    eleve_id: str,
    family_answered_at: datetime | None,
) -> tuple[str, str, dict[str, str]]:
    entry, answer = calendar.window(phase.entry_step), calendar.window(phase.answer_step)
    params = {"phase": str(phase), "eleve_id": eleve_id}
    if refusal in (StaffRefusal.NOT_YET, StaffRefusal.CLOSED) and (entry is None or answer is None):
        return "phase", MSG_NOT_DATED, params
    if refusal is StaffRefusal.NOT_YET and entry is not None:
        return "phase", MSG_COUNCIL_NOT_YET, {**params, "closes": stamp(calendar, entry.closes)}
    if refusal is StaffRefusal.CLOSED and answer is not None:
        dates = {"opens": stamp(calendar, answer.opens), "closes": stamp(calendar, answer.closes)}
        return "phase", MSG_COUNCIL_CLOSED, {**params, **dates}
    if refusal is StaffRefusal.FAMILY_ANSWERED:
        at = stamp(calendar, family_answered_at) if family_answered_at else "?"
        return "eleve_id", MSG_FAMILY_ANSWERED, {**params, "at": at}
    if refusal is StaffRefusal.NO_REQUEST:
        return "eleve_id", MSG_NO_REQUEST, params
    return "eleve_id", MSG_RELEASED, params


def council_problems(
    rows: Sequence[CouncilRow],
    phase: Phase,
    requested: Sequence[Voie],
    problems: Sequence[tuple[Voie | None, CouncilProblem]],
) -> list[ImportIssue]:
    """`check_council`'s problems, each on the line (and column) that causes it; a requested
    voie left unanswered is reported on the pupil's first line, with all their lines."""
    by_voie = {r.voie: r for r in rows}
    requested_text = ">".join(v.value for v in requested) or "—"
    issues: list[ImportIssue] = []
    for voie, problem in problems:
        params = {"phase": str(phase), "eleve_id": rows[0].eleve_id}
        if voie is not None:
            params["voie"] = voie.value
        if problem is CouncilProblem.MISSING and voie is not None:
            params["rank"] = str(requested.index(voie) + 1)
            params["lines"] = ", ".join(str(r.line) for r in rows)
            issues.append(ImportIssue(rows[0].line, "voie", MSG_MISSING, params))
            continue
        row = by_voie.get(voie) if voie is not None else None
        line = row.line if row else rows[0].line
        if problem is CouncilProblem.NOT_REQUESTED and row is not None:
            params |= {"avis": row.avis, "requested": requested_text}
            issues.append(ImportIssue(line, "avis", MSG_NOT_REQUESTED, params))
        elif problem is CouncilProblem.PROPOSED_REQUESTED:
            issues.append(ImportIssue(line, "avis", MSG_PROPOSED_REQUESTED, params))
        elif problem is CouncilProblem.DUPLICATE:
            issues.append(ImportIssue(line, "voie", MSG_ANSWERED_TWICE, params))
        else:  # NO_REQUEST: one per line, like a refusal
            issues.extend(ImportIssue(r.line, "eleve_id", MSG_NO_REQUEST, params) for r in rows)
    return issues


# --- Decisions ------------------------------------------------------------------------------


def decision_refused(
    row: DecisionRow,
    refusal: StaffRefusal,
    calendar: SchoolCalendar,
    existing: tuple[str, datetime] | None = None,
) -> ImportIssue:
    """`existing`: the decision already on record (code, when), for ALREADY_DECIDED."""
    if refusal is StaffRefusal.ALREADY_DECIDED and existing is not None:
        params = {
            "eleve_id": row.eleve_id,
            "decision": existing[0],
            "at": stamp(calendar, existing[1]),
        }
        return ImportIssue(row.line, "eleve_id", MSG_ALREADY_DECIDED, params)
    window = calendar.window(Step.CHOICES)
    if window is None:
        return ImportIssue(row.line, "decision", MSG_DECISION_NOT_DATED)
    params = {"closes": stamp(calendar, window.closes)}
    return ImportIssue(row.line, "decision", MSG_DECISION_NOT_YET, params)


def motif_required(row: DecisionRow, request: Voie | None) -> ImportIssue:
    decision = row.decision.value if isinstance(row.decision, Voie) else MAINTIEN
    params = {"decision": decision, "request": request.value if request else "—"}
    return ImportIssue(row.line, "motif", MSG_MOTIF_REQUIRED, params)
