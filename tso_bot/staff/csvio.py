"""Read a school's CSV file into a table of cells; report what is wrong as `ImportIssue`s.

Pure: bytes in, values out. The file comes from a spreadsheet, usually Excel, so this accepts
UTF-8 (with or without BOM) or Windows-1252, `,` or `;` separated, headers in any case and with
or without accents. Every French message a staff member may see about a file is defined in the
"Messages" section below (the file kinds in `parsing` use them too), and listed in
`ALL_MESSAGES` for the catalogue.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from tso_bot.i18n import N_, translator

# --- Messages (French msgids; translate them with `ImportIssue.render`) ----------------------

# How an issue is located.
MSG_AT_LINE_COLUMN = N_("ligne {line}, colonne {column} : {message}")
MSG_AT_LINE = N_("ligne {line} : {message}")
MSG_AT_COLUMN = N_("colonne {column} : {message}")

# The file as a whole.
MSG_EMPTY_FILE = N_("le fichier est vide")
MSG_NO_DATA = N_("le fichier ne contient que la ligne d'en-tête, aucune ligne de données")
MSG_NOT_TEXT = N_(
    "le fichier n'est pas un fichier texte CSV (encodage attendu : UTF-8 ou Windows-1252)"
)
MSG_SPREADSHEET = N_(
    "le fichier est un classeur (Excel ou autre) et non un fichier CSV : "
    "enregistrez-le au format « CSV (séparateur : point-virgule) »"
)
MSG_UTF16 = N_(
    "le fichier est encodé en UTF-16 (« Texte Unicode ») : enregistrez-le au format « CSV UTF-8 »"
)
MSG_MALFORMED = N_(
    "guillemets mal placés : une valeur entre guillemets doit l'être en entier, "
    'guillemet fermant compris, et un guillemet dans la valeur s\'écrit ""'
)
MSG_MISSING_COLUMN = N_("colonne manquante dans l'en-tête : {columns}")
MSG_MISSING_COLUMNS = N_("colonnes manquantes dans l'en-tête : {columns}")
MSG_DUPLICATE_COLUMN = N_("cette colonne apparaît plusieurs fois dans l'en-tête")
MSG_TOO_MANY_CELLS = N_(
    "{found} cellules au lieu de {expected} (un séparateur dans une valeur sans guillemets ?)"
)
MSG_TOO_FEW_CELLS = N_("{found} cellules au lieu de {expected}")

# A cell.
MSG_REQUIRED = N_("valeur obligatoire manquante")
MSG_TOO_LONG = N_("valeur trop longue ({length} caractères, au plus {limit})")
MSG_INVALID_EMAIL = N_("adresse e-mail invalide « {value} »")
MSG_EMAIL_NAME_CONFLICT = N_(
    "l'adresse « {email} » est déjà celle de {prenom} {nom} (ligne {first_line}) : "
    "une même adresse désigne une seule personne"
)

# Roster.
MSG_RL2_INCOMPLETE = N_(
    "responsable légal 2 incomplet : nom et prénom obligatoires dès qu'une colonne rl2 est remplie"
)
MSG_SAME_EMAIL_RL1_RL2 = N_("les deux responsables légaux ont la même adresse e-mail « {email} »")
MSG_BAD_ELEVE_ID = N_(
    "identifiant d'élève « {value} » invalide : lettres sans accents, chiffres, « . », « - » "
    "ou « _ » uniquement"
)
MSG_DUPLICATE_PUPIL = N_("l'élève « {eleve_id} » figure déjà à la ligne {first_line}")

# Staff.
MSG_UNKNOWN_ROLE = N_("rôle inconnu « {value} » (attendu : pp, chef ou secretariat)")
MSG_PP_WITHOUT_CLASS = N_("classe obligatoire pour un professeur principal (rôle pp)")
MSG_DUPLICATE_STAFF = N_("l'adresse « {email} » a déjà le rôle {role} à la ligne {first_line}")

# Council.
MSG_UNKNOWN_PHASE = N_("phase inconnue « {value} » (attendu : provisoire ou definitive)")
MSG_UNKNOWN_VOIE = N_("voie inconnue « {value} » (attendu : 2GT, 2PRO ou CAP)")
MSG_UNKNOWN_AVIS = N_("avis inconnu « {value} » (attendu : oui, non ou proposition)")
MSG_DUPLICATE_COUNCIL = N_(
    "l'avis de la phase {phase} pour l'élève « {eleve_id} » et la voie {voie} "
    "figure déjà à la ligne {first_line}"
)

# Decisions.
MSG_UNKNOWN_DECISION = N_("décision inconnue « {value} » (attendu : 2GT, 2PRO, CAP ou maintien)")
MSG_DUPLICATE_DECISION = N_(
    "la décision de l'élève « {eleve_id} » figure déjà à la ligne {first_line}"
)

ALL_MESSAGES: tuple[str, ...] = (
    MSG_AT_LINE_COLUMN,
    MSG_AT_LINE,
    MSG_AT_COLUMN,
    MSG_EMPTY_FILE,
    MSG_NO_DATA,
    MSG_NOT_TEXT,
    MSG_SPREADSHEET,
    MSG_UTF16,
    MSG_MALFORMED,
    MSG_MISSING_COLUMN,
    MSG_MISSING_COLUMNS,
    MSG_DUPLICATE_COLUMN,
    MSG_TOO_MANY_CELLS,
    MSG_TOO_FEW_CELLS,
    MSG_REQUIRED,
    MSG_TOO_LONG,
    MSG_INVALID_EMAIL,
    MSG_EMAIL_NAME_CONFLICT,
    MSG_RL2_INCOMPLETE,
    MSG_SAME_EMAIL_RL1_RL2,
    MSG_BAD_ELEVE_ID,
    MSG_DUPLICATE_PUPIL,
    MSG_UNKNOWN_ROLE,
    MSG_PP_WITHOUT_CLASS,
    MSG_DUPLICATE_STAFF,
    MSG_UNKNOWN_PHASE,
    MSG_UNKNOWN_VOIE,
    MSG_UNKNOWN_AVIS,
    MSG_DUPLICATE_COUNCIL,
    MSG_UNKNOWN_DECISION,
    MSG_DUPLICATE_DECISION,
)

# A value quoted back in a message is cut to this many characters.
_QUOTE_LIMIT = 60


# --- Issues ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportIssue:
    """One problem in a file: where (1-based physical line, normalised column) and what."""

    line: int | None
    column: str | None
    msgid: str
    params: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        frozen = MappingProxyType({k: str(v) for k, v in self.params.items()})
        object.__setattr__(self, "params", frozen)

    def __hash__(self) -> int:
        return hash((self.line, self.column, self.msgid, tuple(sorted(self.params.items()))))

    def render(self, locale: str) -> str:
        """The issue as plain text in `locale`, e.g. "ligne 4, colonne rl1_email : …"."""
        _ = translator(locale, html=False)
        message = _(self.msgid, **self.params)
        if self.line is not None and self.column is not None:
            return _(MSG_AT_LINE_COLUMN, line=self.line, column=self.column, message=message)
        if self.line is not None:
            return _(MSG_AT_LINE, line=self.line, message=message)
        if self.column is not None:
            return _(MSG_AT_COLUMN, column=self.column, message=message)
        return message


def render_issues(issues: Sequence[ImportIssue], locale: str) -> list[str]:
    return [issue.render(locale) for issue in issues]


def clip(value: str, limit: int = _QUOTE_LIMIT) -> str:
    """A value short enough to quote back in a message."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


# --- Text helpers ---------------------------------------------------------------------------

_SEPARATORS = re.compile(r"[\s\-]+")


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def normalize_header(name: str) -> str:
    """`" Élève-Nom "` → `"eleve_nom"`: stripped, lower case, no accents, `_` for spaces."""
    cleaned = strip_accents(name.replace("\ufeff", "").strip().lower())
    return _SEPARATORS.sub("_", cleaned)


def fold(text: str) -> str:
    """A value to compare loosely: no case, no accents, hyphens and runs of spaces as one space."""
    return _SEPARATORS.sub(" ", strip_accents(text.casefold())).strip()


# --- Table ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """A data row: its physical line (the header is line 1) and its stripped cells by column."""

    line: int
    cells: Mapping[str, str]

    def get(self, column: str) -> str:
        return self.cells.get(column, "")


@dataclass(frozen=True)
class Table:
    """A file read as a table. When `issues` is non-empty, `rows` may be incomplete.

    Rows are read even when required columns are `missing` (their cells read as empty), so
    that a caller can still report the other problems of the file in one go.
    """

    columns: tuple[str, ...] = ()
    rows: tuple[Row, ...] = ()
    issues: tuple[ImportIssue, ...] = ()
    encoding: str | None = None
    delimiter: str | None = None
    missing: tuple[str, ...] = ()


def read_table(data: bytes, *, required: Sequence[str] = ()) -> Table:
    """Decode, split and normalise a CSV file; `required` columns must be in its header."""
    text, encoding, problem = decode(data)
    if problem is not None:
        return Table(issues=(ImportIssue(None, None, problem),), encoding=encoding)
    if not text.strip():
        return Table(issues=(ImportIssue(None, None, MSG_EMPTY_FILE),), encoding=encoding)
    delimiter = detect_delimiter(text)
    records, malformed = _split(text, delimiter)
    records = [(line, cells) for line, cells in records if any(cell.strip() for cell in cells)]
    if not records:
        issues = malformed or [ImportIssue(None, None, MSG_EMPTY_FILE)]
        return Table(issues=tuple(issues), encoding=encoding, delimiter=delimiter)
    (header_line, header), body = records[0], records[1:]
    columns = [normalize_header(cell) for cell in header]
    issues = _header_issues(header_line, columns, required) + malformed
    rows: list[Row] = []
    for line, cells in body:
        row, issue = _make_row(line, columns, cells)
        if issue is not None:
            issues.append(issue)
        elif row is not None:
            rows.append(row)
    if not rows and not issues:
        issues.append(ImportIssue(None, None, MSG_NO_DATA))
    issues.sort(key=lambda issue: issue.line or 0)
    named = tuple(name for name in columns if name)
    missing = tuple(name for name in required if name not in named)
    return Table(named, tuple(rows), tuple(issues), encoding, delimiter, missing)


def decode(data: bytes) -> tuple[str, str | None, str | None]:
    """The text, its encoding, and a msgid when the bytes are not a text file we accept."""
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        return "", None, MSG_SPREADSHEET
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "", None, MSG_UTF16
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        text = text.rstrip("\x1a")  # an old DOS end-of-file mark
        if _has_control_characters(text):
            return "", None, MSG_NOT_TEXT
        return text, _encoding_name(data, encoding), None
    return "", None, MSG_NOT_TEXT


def _encoding_name(data: bytes, encoding: str) -> str:
    if encoding == "utf-8-sig" and not data.startswith(b"\xef\xbb\xbf"):
        return "utf-8"
    return encoding


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _has_control_characters(text: str) -> bool:
    return _CONTROL.search(text) is not None


def detect_delimiter(text: str) -> str:
    """`;` or `,`, whichever the header line (first non-blank line) holds more of, unquoted."""
    counts = {";": 0, ",": 0}
    in_quotes = False
    seen_text = False
    for char in text:
        if char == '"':
            in_quotes = not in_quotes
        elif in_quotes:
            continue
        elif char in counts:
            counts[char] += 1
        elif char in "\r\n":
            if seen_text:
                break
            continue
        if not char.isspace():
            seen_text = True
    return ";" if counts[";"] > counts[","] else ","


def _split(text: str, delimiter: str) -> tuple[list[tuple[int, list[str]]], list[ImportIssue]]:
    """Records with the physical line each starts on, and an issue for each unreadable one."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    records: list[tuple[int, list[str]]] = []
    issues: list[ImportIssue] = []
    start = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return records, issues
        except csv.Error:  # the reader starts afresh on the next physical line
            issues.append(ImportIssue(start, None, MSG_MALFORMED))
        else:
            records.append((start, cells))
        start = reader.line_num + 1


def _header_issues(line: int, columns: list[str], required: Sequence[str]) -> list[ImportIssue]:
    issues: list[ImportIssue] = []
    seen: set[str] = set()
    for name in columns:
        if name and name in seen:
            issues.append(ImportIssue(line, name, MSG_DUPLICATE_COLUMN))
        seen.add(name)  # the first of duplicate columns is the one read
    missing = [name for name in required if name not in seen]
    if missing:
        msgid = MSG_MISSING_COLUMN if len(missing) == 1 else MSG_MISSING_COLUMNS
        issues.append(ImportIssue(None, None, msgid, {"columns": ", ".join(missing)}))
    return issues


def _make_row(
    line: int, columns: list[str], cells: list[str]
) -> tuple[Row | None, ImportIssue | None]:
    """A row, or the issue with its number of cells (Excel's trailing empty ones are fine)."""
    width = max((index + 1 for index, name in enumerate(columns) if name), default=0)
    found = len(cells)
    if found < width:
        return None, _count_issue(MSG_TOO_FEW_CELLS, line, found, width)
    if any(cell.strip() for cell in cells[len(columns) :]):
        last = max(index + 1 for index, cell in enumerate(cells) if cell.strip())
        return None, _count_issue(MSG_TOO_MANY_CELLS, line, last, len(columns))
    values: dict[str, str] = {}
    for index, name in enumerate(columns):
        if name:
            values.setdefault(name, cells[index].strip())
    return Row(line, MappingProxyType(values)), None


def _count_issue(msgid: str, line: int, found: int, expected: int) -> ImportIssue:
    return ImportIssue(line, None, msgid, {"found": str(found), "expected": str(expected)})
