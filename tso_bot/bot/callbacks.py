"""Inline-button data: short (≤ 64 bytes), carrying ids and intents, never rights.

Every field is parsed defensively: a forged or outdated button decodes to None and the bot
answers politely. Rights are checked again by the use case from the database.
"""

from __future__ import annotations

import re
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


# --- Staff: the council's answers (`c:`) and the chef's decisions (`k:`) ---------------------

COUNCIL_PUPIL_OPS = ("o", "s")  # open the entry screen, save ("Enregistrer")
COUNCIL_VOIE_OPS = ("y", "n", "p", "m")  # oui, non, propose / withdraw, comment
_CLASS_KEY = re.compile(r"[0-9a-f]{10}")  # see services.council.class_key


@dataclass(frozen=True)
class CouncilAction:
    """`c:h` the staff's home · `c:l:<class key>` a class ·
    `c:<o|s>:<phase>:<pupil>` · `c:<y|n|p|m>:<phase>:<pupil>:<voie>` the entry screen."""

    op: str
    phase: Phase | None = None
    pupil_id: str | None = None
    voie: Voie | None = None
    class_key: str | None = None

    def encode(self) -> str:
        if self.op == "l":
            return _checked(f"c:l:{self.class_key}")
        if self.phase is None or self.pupil_id is None:
            return _checked(f"c:{self.op}")
        parts = ["c", self.op, _PHASE_LETTERS[self.phase], self.pupil_id]
        if self.voie is not None:
            parts.append(self.voie.value)
        return _checked(":".join(parts))


def parse_council(data: str) -> CouncilAction | None:
    parts = data.split(":")
    if len(parts) < 2 or parts[0] != "c":
        return None
    op = parts[1]
    if op == "h":
        return CouncilAction("h") if len(parts) == 2 else None
    if op == "l":
        ok = len(parts) == 3 and _CLASS_KEY.fullmatch(parts[2])
        return CouncilAction("l", class_key=parts[2]) if ok else None
    wanted = 4 if op in COUNCIL_PUPIL_OPS else 5 if op in COUNCIL_VOIE_OPS else 0
    if len(parts) != wanted or not parts[3]:
        return None
    phase = _PHASE_CODES.get(parts[2])
    voie = parse_voie(parts[4]) if wanted == 5 else None
    if phase is None or (wanted == 5 and voie is None):
        return None
    return CouncilAction(op, phase, parts[3], voie)


DECISION_PUPIL_OPS = ("o", "m", "s")  # open, (re)type the motif, save
DECISION_MAINTIEN = "maintien"


@dataclass(frozen=True)
class DecisionAction:
    """`k:t:<page>` the decisions to take · `k:<o|m|s>:<pupil>` ·
    `k:v:<pupil>:<voie|maintien>` choose."""

    op: str
    pupil_id: str | None = None
    code: str | None = None
    page: int = 0

    def encode(self) -> str:
        if self.op == "t":
            return _checked(f"k:t:{self.page}")
        parts = ["k", self.op, self.pupil_id or ""]
        if self.code is not None:
            parts.append(self.code)
        return _checked(":".join(parts))


def parse_decision(data: str) -> DecisionAction | None:
    parts = data.split(":")
    if len(parts) < 3 or parts[0] != "k" or not parts[2]:
        return None
    op = parts[1]
    if op == "t":
        ok = len(parts) == 3 and parts[2].isascii() and parts[2].isdigit() and len(parts[2]) < 5
        return DecisionAction("t", page=int(parts[2])) if ok else None
    if op in DECISION_PUPIL_OPS:
        return DecisionAction(op, parts[2]) if len(parts) == 3 else None
    if op != "v" or len(parts) != 4:
        return None
    voie = parse_voie(parts[3])
    code = voie.value if voie else parts[3] if parts[3] == DECISION_MAINTIEN else None
    return DecisionAction("v", parts[2], code) if code else None
