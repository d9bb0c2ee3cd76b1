"""The four files a school imports: roster, staff, council answers, decisions.

Syntax only (pure, no database): every bad line and column is reported, and a result with
issues carries no rows, so that an import is all or nothing. Checks that need the database
(unknown pupil, voie not requested, window passed) belong to the services.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, Literal, NamedTuple, TypeVar

from tso_bot.domain.voies import Voie
from tso_bot.staff.csvio import (
    ALL_MESSAGES,
    MSG_BAD_ELEVE_ID,
    MSG_DUPLICATE_COUNCIL,
    MSG_DUPLICATE_DECISION,
    MSG_DUPLICATE_PUPIL,
    MSG_DUPLICATE_STAFF,
    MSG_EMAIL_NAME_CONFLICT,
    MSG_INVALID_EMAIL,
    MSG_PP_WITHOUT_CLASS,
    MSG_REQUIRED,
    MSG_RL2_INCOMPLETE,
    MSG_SAME_EMAIL_RL1_RL2,
    MSG_TOO_LONG,
    MSG_UNKNOWN_AVIS,
    MSG_UNKNOWN_DECISION,
    MSG_UNKNOWN_PHASE,
    MSG_UNKNOWN_ROLE,
    MSG_UNKNOWN_VOIE,
    ImportIssue,
    Row,
    Table,
    clip,
    fold,
    read_table,
)

__all__ = [
    "ALL_MESSAGES",
    "COUNCIL_COLUMNS",
    "DECISION_COLUMNS",
    "MAINTIEN",
    "ROSTER_COLUMNS",
    "STAFF_COLUMNS",
    "VOIE_CODES",
    "Avis",
    "CouncilRow",
    "DecisionRow",
    "GuardianRow",
    "ImportIssue",
    "ParseResult",
    "Phase",
    "Role",
    "RosterRow",
    "StaffRow",
    "is_valid_email",
    "parse_council",
    "parse_decisions",
    "parse_roster",
    "parse_staff",
]

T = TypeVar("T")
V = TypeVar("V")

VOIE_CODES: tuple[str, ...] = tuple(voie.value for voie in Voie)
MAINTIEN: Literal["maintien"] = "maintien"

Role = Literal["pp", "chef", "secretariat"]
Phase = Literal["provisoire", "definitive"]
Avis = Literal["oui", "non", "proposition"]

ROSTER_COLUMNS = (
    "classe",
    "eleve_id",
    "eleve_nom",
    "eleve_prenom",
    "rl1_nom",
    "rl1_prenom",
    "rl1_email",
    "rl2_nom",
    "rl2_prenom",
    "rl2_email",
)
STAFF_COLUMNS = ("role", "classe", "nom", "prenom", "email")
COUNCIL_COLUMNS = ("eleve_id", "phase", "voie", "avis")  # `commentaire` is optional
DECISION_COLUMNS = ("eleve_id", "decision")  # `motif` is optional

# Longest value per column (the store's column sizes); others get `_DEFAULT_LIMIT`.
# eleve_id is kept short because it travels in inline-button data (64 bytes at most).
_LIMITS: Mapping[str, int] = {"classe": 32, "eleve_id": 40, "commentaire": 2000, "motif": 2000}
_DEFAULT_LIMIT = 200
# School ids (INE, SIECLE numbers) are ASCII; keeping them so bounds their size in bytes.
_ELEVE_ID = re.compile(r"[A-Za-z0-9._-]+")
_EMAIL_LIMIT = 254

_ROLES: Mapping[str, Role] = {"pp": "pp", "chef": "chef", "secretariat": "secretariat"}
_PHASES: Mapping[str, Phase] = {
    "provisoire": "provisoire",
    "definitive": "definitive",
    "definitif": "definitive",
}
_AVIS: Mapping[str, Avis] = {"oui": "oui", "non": "non", "proposition": "proposition"}
_VOIES: Mapping[str, Voie] = {voie.value.casefold(): voie for voie in Voie}
_DECISIONS: Mapping[str, Voie | Literal["maintien"]] = {**_VOIES, MAINTIEN: MAINTIEN}


# --- Results --------------------------------------------------------------------------------


class ParseResult(NamedTuple, Generic[T]):
    """The rows of a file, or (when `issues` is non-empty) no rows and what is wrong."""

    rows: list[T]
    issues: list[ImportIssue]

    @property
    def ok(self) -> bool:
        return not self.issues


@dataclass(frozen=True)
class GuardianRow:
    rank: Literal[1, 2]
    nom: str
    prenom: str
    email: str | None  # lower case


@dataclass(frozen=True)
class RosterRow:
    line: int
    classe: str
    eleve_id: str
    eleve_nom: str
    eleve_prenom: str
    guardians: tuple[GuardianRow, ...]  # RL1, then RL2 when given


@dataclass(frozen=True)
class StaffRow:
    line: int
    role: Role
    classe: str | None
    nom: str
    prenom: str
    email: str  # lower case


@dataclass(frozen=True)
class CouncilRow:
    line: int
    eleve_id: str
    phase: Phase
    voie: Voie
    avis: Avis
    commentaire: str | None


@dataclass(frozen=True)
class DecisionRow:
    line: int
    eleve_id: str
    decision: Voie | Literal["maintien"]
    motif: str | None


# --- Cells ----------------------------------------------------------------------------------

_EMAIL_FORBIDDEN = re.compile(r"[\s<>()\[\],;:\"\\]")


def is_valid_email(address: str) -> bool:
    """A pragmatic check: one @, a local part, a dotted domain, no spaces, at most 254 chars."""
    if len(address) > _EMAIL_LIMIT or _EMAIL_FORBIDDEN.search(address):
        return False
    local, at, domain = address.partition("@")
    if not at or not local or "@" in domain:
        return False
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return False
    labels = domain.split(".")
    if len(labels) < 2 or len(labels[-1]) < 2:
        return False
    return all(label and not label.startswith("-") and not label.endswith("-") for label in labels)


class _Cells:
    """Read one row's cells, recording each problem with its line and column."""

    def __init__(self, row: Row, issues: list[ImportIssue], missing: tuple[str, ...]) -> None:
        self.row = row
        self.line = row.line
        self._issues = issues
        self._missing = missing
        self.failed = False

    def issue(self, column: str | None, msgid: str, **params: str) -> None:
        """Record a problem; one in a column missing from the header was reported already."""
        if column not in self._missing:
            quoted = {name: clip(value) for name, value in params.items()}
            self._issues.append(ImportIssue(self.line, column, msgid, quoted))
        self.failed = True

    def optional(self, column: str) -> str | None:
        value = self.row.get(column)
        limit = _LIMITS.get(column, _DEFAULT_LIMIT)
        if len(value) > limit:
            self.issue(column, MSG_TOO_LONG, length=str(len(value)), limit=str(limit))
        return value or None

    def required(self, column: str) -> str:
        value = self.optional(column)
        if value is None:
            self.issue(column, MSG_REQUIRED)
            return ""
        return value

    def email(self, column: str, *, required: bool = False) -> str | None:
        value = self.row.get(column)
        if not value:
            if required:
                self.issue(column, MSG_REQUIRED)
            return None
        if not is_valid_email(value):
            self.issue(column, MSG_INVALID_EMAIL, value=value)
            return None
        return value.lower()

    def choice(self, column: str, choices: Mapping[str, V], msgid: str) -> V | None:
        value = self.row.get(column)
        if not value:
            self.issue(column, MSG_REQUIRED)
            return None
        found = choices.get(fold(value).replace(" ", ""))
        if found is None:
            self.issue(column, msgid, value=value)
        return found


class _FirstSeen(Generic[V]):
    """Remember the first line of each key; report later lines with `msgid`."""

    def __init__(self) -> None:
        self._lines: dict[V, int] = {}

    def check(self, key: V, cells: _Cells, column: str, msgid: str, **params: str) -> None:
        first = self._lines.setdefault(key, cells.line)
        if first != cells.line:
            cells.issue(column, msgid, first_line=str(first), **params)


@dataclass(frozen=True)
class _Holder:
    """Whom an e-mail address belongs to, as first seen."""

    line: int
    nom: str
    prenom: str


class _People:
    """One e-mail address, one person: the same address must always come with the same name."""

    def __init__(self) -> None:
        self._by_email: dict[str, _Holder] = {}

    def check(self, cells: _Cells, column: str, email: str, nom: str, prenom: str) -> None:
        holder = self._by_email.setdefault(email, _Holder(cells.line, nom, prenom))
        if (fold(holder.nom), fold(holder.prenom)) != (fold(nom), fold(prenom)):
            cells.issue(
                column,
                MSG_EMAIL_NAME_CONFLICT,
                email=email,
                nom=holder.nom,
                prenom=holder.prenom,
                first_line=str(holder.line),
            )


def _parse(
    data: bytes,
    required_columns: tuple[str, ...],
    parse_row: Callable[[_Cells], T | None],
) -> ParseResult[T]:
    table: Table = read_table(data, required=required_columns)
    issues = list(table.issues)
    rows: list[T] = []
    for row in table.rows:
        cells = _Cells(row, issues, table.missing)
        parsed = parse_row(cells)
        if parsed is not None and not cells.failed:
            rows.append(parsed)
    issues.sort(key=lambda issue: issue.line or 0)
    return ParseResult([] if issues else rows, issues)


# --- Roster ---------------------------------------------------------------------------------


def parse_roster(data: bytes) -> ParseResult[RosterRow]:
    pupils: _FirstSeen[str] = _FirstSeen()
    people = _People()

    def parse_row(cells: _Cells) -> RosterRow | None:
        classe = cells.required("classe")
        eleve_id = cells.required("eleve_id")
        eleve_nom = cells.required("eleve_nom")
        eleve_prenom = cells.required("eleve_prenom")
        if eleve_id and not _ELEVE_ID.fullmatch(eleve_id):
            cells.issue("eleve_id", MSG_BAD_ELEVE_ID, value=clip(eleve_id))
        elif eleve_id:
            pupils.check(eleve_id, cells, "eleve_id", MSG_DUPLICATE_PUPIL, eleve_id=eleve_id)
        rl1 = _guardian(cells, 1, people)
        rl2 = _guardian(cells, 2, people)
        if rl1 is None:
            return None
        guardians = (rl1,) if rl2 is None else (rl1, rl2)
        return RosterRow(cells.line, classe, eleve_id, eleve_nom, eleve_prenom, guardians)

    return _parse(data, ROSTER_COLUMNS, parse_row)


def _guardian(cells: _Cells, rank: Literal[1, 2], people: _People) -> GuardianRow | None:
    """RL1 (names required) or RL2 (absent, or names required once any of its cells is set)."""
    prefix = f"rl{rank}_"
    if rank == 2 and not any(cells.row.get(prefix + name) for name in ("nom", "prenom", "email")):
        return None
    missing_msgid = MSG_REQUIRED if rank == 1 else MSG_RL2_INCOMPLETE
    nom = cells.optional(prefix + "nom")
    prenom = cells.optional(prefix + "prenom")
    for column, value in ((prefix + "nom", nom), (prefix + "prenom", prenom)):
        if value is None:
            cells.issue(column, missing_msgid)
    email = cells.email(prefix + "email")
    if rank == 2 and email is not None and email == cells.row.get("rl1_email").lower():
        cells.issue(prefix + "email", MSG_SAME_EMAIL_RL1_RL2, email=email)
    elif email is not None and nom is not None and prenom is not None:
        people.check(cells, prefix + "email", email, nom, prenom)
    if nom is None or prenom is None:
        return None
    return GuardianRow(rank, nom, prenom, email)


# --- Staff ----------------------------------------------------------------------------------


def parse_staff(data: bytes) -> ParseResult[StaffRow]:
    seen: _FirstSeen[tuple[str, Role]] = _FirstSeen()
    people = _People()

    def parse_row(cells: _Cells) -> StaffRow | None:
        role = cells.choice("role", _ROLES, MSG_UNKNOWN_ROLE)
        classe = cells.optional("classe")
        nom = cells.required("nom")
        prenom = cells.required("prenom")
        email = cells.email("email", required=True)
        if role == "pp" and classe is None:
            cells.issue("classe", MSG_PP_WITHOUT_CLASS)
        if email is not None:
            if nom and prenom:
                people.check(cells, "email", email, nom, prenom)
            if role is not None:
                seen.check(
                    (email, role), cells, "email", MSG_DUPLICATE_STAFF, email=email, role=role
                )
        if role is None or email is None:
            return None
        return StaffRow(cells.line, role, classe, nom, prenom, email)

    return _parse(data, STAFF_COLUMNS, parse_row)


# --- Council --------------------------------------------------------------------------------


def parse_council(data: bytes) -> ParseResult[CouncilRow]:
    seen: _FirstSeen[tuple[str, Phase, Voie]] = _FirstSeen()

    def parse_row(cells: _Cells) -> CouncilRow | None:
        eleve_id = cells.required("eleve_id")
        phase = cells.choice("phase", _PHASES, MSG_UNKNOWN_PHASE)
        voie = cells.choice("voie", _VOIES, MSG_UNKNOWN_VOIE)
        avis = cells.choice("avis", _AVIS, MSG_UNKNOWN_AVIS)
        commentaire = cells.optional("commentaire")
        if not eleve_id or phase is None or voie is None or avis is None:
            return None
        params = {"eleve_id": eleve_id, "phase": phase, "voie": voie.value}
        seen.check((eleve_id, phase, voie), cells, "voie", MSG_DUPLICATE_COUNCIL, **params)
        return CouncilRow(cells.line, eleve_id, phase, voie, avis, commentaire)

    return _parse(data, COUNCIL_COLUMNS, parse_row)


# --- Decisions ------------------------------------------------------------------------------


def parse_decisions(data: bytes) -> ParseResult[DecisionRow]:
    seen: _FirstSeen[str] = _FirstSeen()

    def parse_row(cells: _Cells) -> DecisionRow | None:
        eleve_id = cells.required("eleve_id")
        decision = cells.choice("decision", _DECISIONS, MSG_UNKNOWN_DECISION)
        motif = cells.optional("motif")
        if eleve_id:
            seen.check(eleve_id, cells, "eleve_id", MSG_DUPLICATE_DECISION, eleve_id=eleve_id)
        if not eleve_id or decision is None:
            return None
        return DecisionRow(cells.line, eleve_id, decision, motif)

    return _parse(data, DECISION_COLUMNS, parse_row)
