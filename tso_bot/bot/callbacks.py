"""Inline-button data: short (≤ 64 bytes), carrying ids and intents, never rights.

Every field is parsed defensively: a forged or outdated button decodes to None and the bot
answers politely. Rights are checked again by the use case from the database.
"""

from __future__ import annotations

from dataclasses import dataclass

from tso_bot.domain.phases import Phase
from tso_bot.domain.voies import Voie, parse_voie

MAX_BYTES = 64
_PHASE_CODES = {"p": Phase.PROVISOIRE, "d": Phase.DEFINITIVE}
_PHASE_LETTERS = {v: k for k, v in _PHASE_CODES.items()}
EDIT_OPS = ("open", "add", "rm", "up", "ok", "x")


@dataclass(frozen=True)
class EditAction:
    """`e:<phase>:<op>:<pupil>[:<voie>]` — the ranking editor."""

    phase: Phase
    op: str
    pupil_id: str
    voie: Voie | None = None

    def encode(self) -> str:
        parts = ["e", _PHASE_LETTERS[self.phase], self.op, self.pupil_id]
        if self.voie is not None:
            parts.append(self.voie.value)
        return _checked(":".join(parts))


@dataclass(frozen=True)
class DossierAction:
    """`d:<op>[:<pupil>]` — home, child picker, select a child, disagree (ask/confirm)."""

    op: str
    pupil_id: str | None = None

    def encode(self) -> str:
        return _checked(":".join(x for x in ("d", self.op, self.pupil_id) if x is not None))


DOSSIER_OPS = ("home", "pick", "sel", "dis", "dis!")


def _checked(data: str) -> str:
    if len(data.encode("utf-8")) > MAX_BYTES:
        raise ValueError(f"callback data too long: {data!r}")
    return data


def parse_edit(data: str) -> EditAction | None:
    parts = data.split(":")
    if len(parts) not in (4, 5) or parts[0] != "e":
        return None
    phase = _PHASE_CODES.get(parts[1])
    if phase is None or parts[2] not in EDIT_OPS or not parts[3]:
        return None
    voie = None
    if parts[2] in ("add", "rm", "up"):
        if len(parts) != 5 or (voie := parse_voie(parts[4])) is None:
            return None
    elif len(parts) != 4:
        return None
    return EditAction(phase, parts[2], parts[3], voie)


def parse_dossier(data: str) -> DossierAction | None:
    parts = data.split(":")
    if len(parts) not in (2, 3) or parts[0] != "d" or parts[1] not in DOSSIER_OPS:
        return None
    needs_pupil = parts[1] != "pick"
    if needs_pupil != (len(parts) == 3) or (needs_pupil and not parts[2]):
        return None
    return DossierAction(parts[1], parts[2] if needs_pupil else None)


ANSWER_OPS = ("open", "pick", "ok")
REFUSE_ALL = "none"


@dataclass(frozen=True)
class AnswerAction:
    """`a:<phase>:<op>:<pupil>[:<voie>|none]` — acknowledgement or response to the council.

    `voie` None with op pick/ok means "refuse them all".
    """

    phase: Phase
    op: str
    pupil_id: str
    voie: Voie | None = None

    def encode(self) -> str:
        parts = ["a", _PHASE_LETTERS[self.phase], self.op, self.pupil_id]
        if self.op != "open":
            parts.append(self.voie.value if self.voie else REFUSE_ALL)
        return _checked(":".join(parts))


def parse_answer(data: str) -> AnswerAction | None:
    parts = data.split(":")
    if len(parts) not in (4, 5) or parts[0] != "a" or not parts[3]:
        return None
    phase = _PHASE_CODES.get(parts[1])
    op = parts[2]
    if phase is None or op not in ANSWER_OPS or (op == "open") != (len(parts) == 4):
        return None
    if op == "open":
        return AnswerAction(phase, op, parts[3])
    voie = None if parts[4] == REFUSE_ALL else parse_voie(parts[4])
    if voie is None and parts[4] != REFUSE_ALL:
        return None
    return AnswerAction(phase, op, parts[3], voie)


APPEAL_OPS = ("ask", "ok")


@dataclass(frozen=True)
class AppealAction:
    """`r:<op>:<pupil>:<kind>` — *je fais appel* / *je demande le maintien*."""

    op: str
    pupil_id: str
    kind: str

    def encode(self) -> str:
        return _checked(":".join(("r", self.op, self.pupil_id, self.kind)))


def parse_appeal(data: str) -> AppealAction | None:
    parts = data.split(":")
    if len(parts) != 4 or parts[0] != "r" or parts[1] not in APPEAL_OPS or not parts[2]:
        return None
    if parts[3] not in ("appel", "maintien"):
        return None
    return AppealAction(parts[1], parts[2], parts[3])
