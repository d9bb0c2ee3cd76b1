"""Rules 4 and 5: the class council's answer, and the family's acknowledgement or response.

The council answers each requested voie `oui` or `non` (with an optional comment) and may
propose voies the family did not request. The family then, once, accepts one voie that got
`oui` or one that was proposed, or refuses them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from tso_bot.domain.ranking import Ranking
from tso_bot.domain.voies import Voie


class Avis(StrEnum):
    OUI = "oui"
    NON = "non"
    PROPOSITION = "proposition"


class CouncilProblem(StrEnum):
    """Why a set of council lines cannot be recorded (stable codes, translated by callers)."""

    NO_REQUEST = "no_request"  # the family requested nothing in that phase
    NOT_REQUESTED = "not_requested"  # oui/non for a voie the family did not request
    PROPOSED_REQUESTED = "proposed_requested"  # proposition for a voie that was requested
    DUPLICATE = "duplicate"  # the same voie answered twice
    MISSING = "missing"  # a requested voie left without an answer


@dataclass(frozen=True)
class CouncilLine:
    voie: Voie
    avis: Avis
    comment: str | None = None


@dataclass(frozen=True)
class CouncilAnswer:
    """The council's answer for one pupil in one phase."""

    lines: tuple[CouncilLine, ...]

    def line(self, voie: Voie) -> CouncilLine | None:
        return next((x for x in self.lines if x.voie == voie), None)

    def options(self) -> tuple[Voie, ...]:
        """What the family may accept: voies answered `oui`, then the proposed ones."""
        yes = tuple(x.voie for x in self.lines if x.avis is Avis.OUI)
        proposed = tuple(x.voie for x in self.lines if x.avis is Avis.PROPOSITION)
        return yes + proposed


def check_council(
    requested: Ranking, lines: Iterable[CouncilLine], *, complete: bool = True
) -> list[tuple[Voie | None, CouncilProblem]]:
    """Every problem with these lines against what the family requested.

    `complete` also asks that every requested voie be answered (an import gives the whole
    answer at once; the PP in Telegram answers voie by voie).
    """
    problems: list[tuple[Voie | None, CouncilProblem]] = []
    if not requested.voies:
        return [(None, CouncilProblem.NO_REQUEST)]
    seen: set[Voie] = set()
    for line in lines:
        if line.voie in seen:
            problems.append((line.voie, CouncilProblem.DUPLICATE))
        seen.add(line.voie)
        is_requested = line.voie in requested.voies
        if line.avis is Avis.PROPOSITION and is_requested:
            problems.append((line.voie, CouncilProblem.PROPOSED_REQUESTED))
        if line.avis is not Avis.PROPOSITION and not is_requested:
            problems.append((line.voie, CouncilProblem.NOT_REQUESTED))
    if complete:
        problems.extend((v, CouncilProblem.MISSING) for v in requested.voies if v not in seen)
    return problems


class AnswerProblem(StrEnum):
    NO_COUNCIL_ANSWER = "no_council_answer"
    NOT_AN_OPTION = "not_an_option"
    ALREADY_ANSWERED = "already_answered"


@dataclass(frozen=True)
class FamilyAnswer:
    """An acknowledgement (provisoire) or response (définitive): a voie, or None to refuse
    every option (the family disagrees)."""

    accepted: Voie | None

    @property
    def refuses_all(self) -> bool:
        return self.accepted is None


def check_family_answer(
    council: CouncilAnswer | None, answer: FamilyAnswer, already: FamilyAnswer | None
) -> AnswerProblem | None:
    if already is not None:
        return AnswerProblem.ALREADY_ANSWERED
    if council is None or not council.lines:
        return AnswerProblem.NO_COUNCIL_ANSWER
    if answer.accepted is not None and answer.accepted not in council.options():
        return AnswerProblem.NOT_AN_OPTION
    return None


def council_from_rows(rows: Mapping[Voie, tuple[Avis, str | None]]) -> CouncilAnswer:
    return CouncilAnswer(tuple(CouncilLine(v, a, c) for v, (a, c) in rows.items()))
