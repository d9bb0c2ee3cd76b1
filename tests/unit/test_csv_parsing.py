"""Reading the CSV files a school imports: roster, staff, council answers, decisions."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tso_bot.domain.voies import Voie
from tso_bot.staff import csvio
from tso_bot.staff.csvio import ImportIssue, normalize_header, read_table
from tso_bot.staff.parsing import (
    ALL_MESSAGES,
    CouncilRow,
    DecisionRow,
    GuardianRow,
    ParseResult,
    RosterRow,
    StaffRow,
    is_valid_email,
    parse_council,
    parse_decisions,
    parse_roster,
    parse_staff,
)

ROSTER_HEADER = (
    "classe;eleve_id;eleve_nom;eleve_prenom;rl1_nom;rl1_prenom;rl1_email;rl2_nom;rl2_prenom;"
    "rl2_email"
)


def roster(*lines: str, header: str = ROSTER_HEADER, encoding: str = "utf-8") -> bytes:
    return "\r\n".join((header, *lines, "")).encode(encoding)


def located(issues: list[ImportIssue]) -> list[tuple[int | None, str | None, str]]:
    return [(issue.line, issue.column, issue.msgid) for issue in issues]


# --- Roster ---------------------------------------------------------------------------------


def test_valid_roster() -> None:
    result = parse_roster(
        roster(
            "3A;E1;Martin;Léa;Martin;Paul;Paul.Martin@Exemple.fr;Durand;Anne;anne@exemple.fr",
            "3B;E2;Petit;Noé;Petit;Luc;;;;",
        )
    )
    assert result.ok
    assert result.issues == []
    assert result.rows == [
        RosterRow(
            2,
            "3A",
            "E1",
            "Martin",
            "Léa",
            (
                GuardianRow(1, "Martin", "Paul", "paul.martin@exemple.fr"),
                GuardianRow(2, "Durand", "Anne", "anne@exemple.fr"),
            ),
        ),
        RosterRow(3, "3B", "E2", "Petit", "Noé", (GuardianRow(1, "Petit", "Luc", None),)),
    ]


def test_missing_column_is_one_issue_naming_it() -> None:
    header = ROSTER_HEADER.removesuffix(";rl2_email")
    result = parse_roster(roster("3A;E1;Martin;Léa;Martin;Paul;p@exemple.fr;;", header=header))
    assert result.rows == []
    assert located(result.issues) == [(None, None, csvio.MSG_MISSING_COLUMN)]
    assert result.issues[0].render("fr") == "colonne manquante dans l'en-tête : rl2_email"


def test_missing_columns_are_all_named() -> None:
    result = parse_roster(roster("3A;E1;Martin", header="classe;eleve_id;eleve_nom"))
    assert len(result.issues) == 1
    assert result.issues[0].msgid == csvio.MSG_MISSING_COLUMNS
    assert result.issues[0].params["columns"] == (
        "eleve_prenom, rl1_nom, rl1_prenom, rl1_email, rl2_nom, rl2_prenom, rl2_email"
    )


def test_duplicate_pupil_is_reported_on_later_lines_naming_the_first() -> None:
    result = parse_roster(
        roster(
            "3A;E1;Martin;Léa;Martin;Paul;;;;",
            "3A;E2;Petit;Noé;Petit;Luc;;;;",
            "3A;E1;Martin;Léo;Martin;Paul;;;;",
            "3B;E1;Autre;Élève;Autre;Parent;;;;",
        )
    )
    assert result.rows == []
    assert located(result.issues) == [
        (4, "eleve_id", csvio.MSG_DUPLICATE_PUPIL),
        (5, "eleve_id", csvio.MSG_DUPLICATE_PUPIL),
    ]
    assert (
        result.issues[0].render("fr")
        == "ligne 4, colonne eleve_id : l'élève « E1 » figure déjà à la ligne 2"
    )


def test_invalid_email() -> None:
    result = parse_roster(
        roster(
            "3A;E1;Martin;Léa;Martin;Paul;;;;",
            "3A;E2;Petit;Noé;Petit;Luc;luc@exemple.fr;;;",
            "3A;E3;Roux;Zoé;Roux;Marc;x@;;;",
        )
    )
    assert result.rows == []
    assert located(result.issues) == [(4, "rl1_email", csvio.MSG_INVALID_EMAIL)]
    assert result.issues[0].render("fr") == (
        "ligne 4, colonne rl1_email : adresse e-mail invalide « x@ »"
    )


def test_every_bad_line_and_column_is_reported_and_nothing_is_importable() -> None:
    header = ROSTER_HEADER.removesuffix(";rl2_email")
    result = parse_roster(
        roster(
            "3A;E1;Martin;Léa;Martin;Paul;paul@;;",
            "3A;E2;Petit;Noé;Petit;Luc;luc@exemple.fr;;",
            "3A;E1;Martin;Léo;Martin;Paul;;;",
            "3A;E4;Roux;Zoé;Roux;;marc@exemple;;",
            header=header,
        )
    )
    assert not result.ok
    assert result.rows == []
    assert located(result.issues) == [
        (None, None, csvio.MSG_MISSING_COLUMN),
        (2, "rl1_email", csvio.MSG_INVALID_EMAIL),
        (4, "eleve_id", csvio.MSG_DUPLICATE_PUPIL),
        (5, "rl1_prenom", csvio.MSG_REQUIRED),
        (5, "rl1_email", csvio.MSG_INVALID_EMAIL),
    ]


def test_required_cells() -> None:
    result = parse_roster(roster(";;;;;;;;;x@exemple.fr"))
    assert located(result.issues) == [
        (2, column, csvio.MSG_REQUIRED)
        for column in ("classe", "eleve_id", "eleve_nom", "eleve_prenom", "rl1_nom", "rl1_prenom")
    ] + [
        (2, "rl2_nom", csvio.MSG_RL2_INCOMPLETE),
        (2, "rl2_prenom", csvio.MSG_RL2_INCOMPLETE),
    ]


def test_excel_cp1252_semicolon_file_keeps_accents() -> None:
    header = (
        "Classe;Elève_ID; Élève_Nom ;ÉLÈVE-PRÉNOM;RL1_Nom;RL1_Prénom;RL1 Email;"
        "RL2_Nom;RL2_Prénom;RL2_Email;;;"
    )
    data = roster(
        "3e A;E1;Bézier;Zoé;Bézier;Hélène;helene@exemple.fr;Bézier;François;;;;",
        "3e A;E2;Lœvy;Léa;Lœvy;Gaëlle;;;;;;;",
        header=header,
        encoding="cp1252",
    )
    table = read_table(data)
    assert (table.encoding, table.delimiter) == ("cp1252", ";")
    result = parse_roster(data)
    assert result.issues == []
    first, second = result.rows
    assert (first.classe, first.eleve_nom, first.eleve_prenom) == ("3e A", "Bézier", "Zoé")
    assert first.guardians == (
        GuardianRow(1, "Bézier", "Hélène", "helene@exemple.fr"),
        GuardianRow(2, "Bézier", "François", None),
    )
    assert (second.eleve_nom, second.eleve_prenom) == ("Lœvy", "Léa")
    assert second.guardians == (GuardianRow(1, "Lœvy", "Gaëlle", None),)


def test_utf8_with_bom_and_commas() -> None:
    header = ROSTER_HEADER.replace(";", ",")
    data = b"\xef\xbb\xbf" + roster("3A,E1,Martin,Léa,Martin,Hélène,,,,", header=header)
    table = read_table(data)
    assert (table.encoding, table.delimiter) == ("utf-8-sig", ",")
    assert table.columns[0] == "classe"
    result = parse_roster(data)
    assert result.issues == []
    assert result.rows[0].guardians == (GuardianRow(1, "Martin", "Hélène", None),)


def test_siblings_share_a_guardian_whatever_the_case_of_the_address() -> None:
    result = parse_roster(
        roster(
            "3A;E1;Martin;Léa;Martin;Paul;Paul.Martin@exemple.fr;;;",
            "5B;E2;Martin;Tom;MARTIN;paul;paul.martin@EXEMPLE.FR;;;",
            "4C;E3;Martin;Eva;Roux;Anne;anne@exemple.fr;Martin;Paul;PAUL.MARTIN@exemple.fr",
        )
    )
    assert result.issues == []
    emails = [guardian.email for row in result.rows for guardian in row.guardians]
    assert emails == ["paul.martin@exemple.fr"] * 2 + ["anne@exemple.fr", "paul.martin@exemple.fr"]


def test_names_match_without_accents_or_case() -> None:
    result = parse_roster(
        roster(
            "3A;E1;Lefèvre;Léa;Lefèvre;Hélène;h@exemple.fr;;;",
            "3A;E2;Lefèvre;Tom;LEFEVRE;helene;h@exemple.fr;;;",
        )
    )
    assert result.issues == []


def test_same_address_with_another_name_is_an_error() -> None:
    result = parse_roster(
        roster(
            "3A;E1;Martin;Léa;Martin;Paul;p@exemple.fr;;;",
            "3A;E2;Petit;Noé;Petit;Luc;p@exemple.fr;;;",
        )
    )
    assert located(result.issues) == [(3, "rl1_email", csvio.MSG_EMAIL_NAME_CONFLICT)]
    assert "Paul Martin (ligne 2)" in result.issues[0].render("fr")


def test_both_guardians_with_the_same_address_is_an_error() -> None:
    result = parse_roster(
        roster("3A;E1;Martin;Léa;Martin;Paul;p@exemple.fr;Martin;Anne;P@exemple.fr")
    )
    assert located(result.issues) == [(2, "rl2_email", csvio.MSG_SAME_EMAIL_RL1_RL2)]


def test_partial_second_guardian_is_an_error() -> None:
    result = parse_roster(
        roster(
            "3A;E1;Martin;Léa;Martin;Paul;;;;anne@exemple.fr",
            "3A;E2;Petit;Noé;Petit;Luc;;Petit;;",
        )
    )
    assert located(result.issues) == [
        (2, "rl2_nom", csvio.MSG_RL2_INCOMPLETE),
        (2, "rl2_prenom", csvio.MSG_RL2_INCOMPLETE),
        (3, "rl2_prenom", csvio.MSG_RL2_INCOMPLETE),
    ]


def test_too_long_values() -> None:
    result = parse_roster(roster(f"{'3' * 33};E1;Martin;Léa;Martin;Paul;;;;"))
    assert located(result.issues) == [(2, "classe", csvio.MSG_TOO_LONG)]
    assert result.issues[0].params == {"length": "33", "limit": "32"}


# --- Reading --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "msgid"),
    [
        (b"", csvio.MSG_EMPTY_FILE),
        (b"\r\n  \r\n", csvio.MSG_EMPTY_FILE),
        (b";;;\r\n;;;\r\n", csvio.MSG_EMPTY_FILE),
        (b"\x00\x01\x02binary\xff\xfe\x00junk", csvio.MSG_NOT_TEXT),
        (bytes(range(256)), csvio.MSG_NOT_TEXT),
        (b"classe;\x81\x8d", csvio.MSG_NOT_TEXT),
        (b"PK\x03\x04\x14\x00\x06\x00", csvio.MSG_SPREADSHEET),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", csvio.MSG_SPREADSHEET),
        ("classe;eleve_id".encode("utf-16"), csvio.MSG_UTF16),
    ],
)
def test_unusable_files_are_one_issue(data: bytes, msgid: str) -> None:
    for parse in (parse_roster, parse_staff, parse_council, parse_decisions):
        result = parse(data)
        assert result.rows == []
        assert located(result.issues) == [(None, None, msgid)]


@pytest.mark.parametrize(
    ("parse", "header"),
    [
        (parse_roster, ROSTER_HEADER),
        (parse_staff, "role;classe;nom;prenom;email"),
        (parse_council, "eleve_id,phase,voie,avis,commentaire"),
        (parse_decisions, "eleve_id,decision,motif"),
    ],
)
@pytest.mark.parametrize("tail", ["", "\r\n", "\r\n;;;;;;;;;\r\n\r\n  ;;;\n"])
def test_header_only_file(
    parse: Callable[[bytes], ParseResult[Any]], header: str, tail: str
) -> None:
    delimiter = ";" if ";" in header else ","
    result = parse((header + tail.replace(";", delimiter)).encode())
    assert result.rows == []
    assert located(result.issues) == [(None, None, csvio.MSG_NO_DATA)]


def test_header_names_are_normalised() -> None:
    assert normalize_header("  Élève-Nom ") == "eleve_nom"
    assert normalize_header("\ufeffRL1  e-mail") == "rl1_e_mail"
    assert normalize_header("Prénom") == "prenom"


def test_quoted_cells_with_delimiters_and_newlines_keep_physical_line_numbers() -> None:
    data = roster(
        '3A;E1;"Martin; dit ""Le Grand""";Léa;Martin;Paul;;;;',
        "",
        '3A;E2;Petit;"Noé\r\nJules";Petit;Luc;;;;',
        "3A;E3;Roux;Zoé;Roux;Marc;x@;;;",
    )
    result = parse_roster(data)
    assert located(result.issues) == [(6, "rl1_email", csvio.MSG_INVALID_EMAIL)]
    rows = read_table(data).rows
    assert [row.line for row in rows] == [2, 4, 6]
    assert rows[0].get("eleve_nom") == 'Martin; dit "Le Grand"'
    assert rows[1].get("eleve_prenom") == "Noé\r\nJules"


def test_delimiter_is_decided_on_the_header_outside_quotes() -> None:
    assert csvio.detect_delimiter('"a,b,c";d;e\r\n1,2,3,4') == ";"
    assert csvio.detect_delimiter("\r\n\r\na,b;c,d\r\n;;;;;;") == ","
    assert csvio.detect_delimiter("classe") == ","


def test_excel_trailing_empty_columns_are_fine() -> None:
    data = roster("3A;E1;Martin;Léa;Martin;Paul;;;;;;;", "3A;E2;Petit;Noé;Petit;Luc;;;;")
    assert parse_roster(data).issues == []
    data = roster("3A;E1;Martin;Léa;Martin;Paul;;;;", header=ROSTER_HEADER + ";;;")
    assert parse_roster(data).issues == []


def test_lines_with_more_or_fewer_cells_than_the_header() -> None:
    result = parse_roster(
        roster(
            "3A;E1;Martin;Léa;Martin;Paul;;;;",
            "3A;E2;Petit;Noé;Petit;Luc;luc@exemple.fr;;;;oops",
            "3A;E3;Roux;Zoé;Roux;Marc",
        )
    )
    assert result.rows == []
    assert located(result.issues) == [
        (3, None, csvio.MSG_TOO_MANY_CELLS),
        (4, None, csvio.MSG_TOO_FEW_CELLS),
    ]
    assert result.issues[1].render("fr") == "ligne 4 : 6 cellules au lieu de 10"


def test_unknown_columns_are_ignored_and_duplicate_columns_reported() -> None:
    data = roster("3A;E1;Martin;Léa;Martin;Paul;;;;;note", header=ROSTER_HEADER + ";remarque")
    assert parse_roster(data).issues == []
    data = roster("3A;E1;Martin;Léa;Martin;Paul;;;;;3B", header=ROSTER_HEADER + ";Classe")
    assert located(parse_roster(data).issues) == [(1, "classe", csvio.MSG_DUPLICATE_COLUMN)]


def test_unclosed_quote_is_named() -> None:
    data = roster('3A;E1;"Martin;Léa;Martin;Paul;;;;', "3A;E2;Petit;Noé;Petit;Luc;;;;")
    result = parse_roster(data)
    assert result.rows == []
    assert located(result.issues) == [(2, None, csvio.MSG_MALFORMED)]


def test_misplaced_quotes_are_named_and_reading_goes_on() -> None:
    data = roster(
        '3A;E1;"Mar"tin;Léa;Martin;Paul;;;;',
        '3A;E2;Petit "Le Grand";Noé;Petit;Luc;;;;',
        "3A;E3;Roux;Zoé;Roux;Marc;x@;;;",
    )
    result = parse_roster(data)
    assert located(result.issues) == [
        (2, None, csvio.MSG_MALFORMED),
        (4, "rl1_email", csvio.MSG_INVALID_EMAIL),
    ]
    assert read_table(data).rows[0].get("eleve_nom") == 'Petit "Le Grand"'


# --- Issues and messages --------------------------------------------------------------------


def test_render_in_the_staff_members_language() -> None:
    issue = ImportIssue(4, "rl1_email", csvio.MSG_INVALID_EMAIL, {"value": "x@"})
    assert issue.render("fr") == "ligne 4, colonne rl1_email : adresse e-mail invalide « x@ »"
    assert issue.render("en") == "line 4, column rl1_email: invalid e-mail address “x@”"
    assert issue.render("de") == issue.render("fr")  # unknown languages fall back to French
    assert ImportIssue(None, "classe", csvio.MSG_REQUIRED).render("fr") == (
        "colonne classe : valeur obligatoire manquante"
    )
    assert ImportIssue(None, None, csvio.MSG_EMPTY_FILE).render("fr") == "le fichier est vide"


def test_render_is_plain_text() -> None:
    issue = ImportIssue(2, "rl1_email", csvio.MSG_INVALID_EMAIL, {"value": "<b>@{x}"})
    assert issue.render("fr").endswith("« <b>@{x} »")


def test_issues_are_values() -> None:
    one = ImportIssue(
        2, "eleve_id", csvio.MSG_DUPLICATE_PUPIL, {"eleve_id": "E1", "first_line": "1"}
    )
    two = ImportIssue(
        2, "eleve_id", csvio.MSG_DUPLICATE_PUPIL, {"first_line": "1", "eleve_id": "E1"}
    )
    assert one == two
    assert len({one, two}) == 1


def test_long_values_are_cut_in_messages() -> None:
    result = parse_roster(roster(f"3A;E1;Martin;Léa;Martin;Paul;{'x' * 300};;;"))
    assert len(result.issues[0].params["value"]) == 60
    assert result.issues[0].params["value"].endswith("…")


def test_all_messages_are_listed_once() -> None:
    defined = {value for name, value in vars(csvio).items() if name.startswith("MSG_")}
    assert set(ALL_MESSAGES) == defined
    assert len(ALL_MESSAGES) == len(defined)


@pytest.mark.parametrize(
    ("address", "valid"),
    [
        ("paul.martin@exemple.fr", True),
        ("P+tag@sous.exemple.co.uk", True),
        ("x@", False),
        ("@exemple.fr", False),
        ("paul@exemple", False),
        ("paul martin@exemple.fr", False),
        ("a@b@exemple.fr", False),
        ("a@exemple..fr", False),
        ("a@.exemple.fr", False),
        (".a@exemple.fr", False),
        ("a@exemple.f", False),
        ("a@exemple.fr;b@exemple.fr", False),
        ("<a@exemple.fr>", False),
        ("a" * 250 + "@x.fr", False),
    ],
)
def test_email_syntax(address: str, valid: bool) -> None:
    assert is_valid_email(address) is valid


# --- Staff ----------------------------------------------------------------------------------


def test_valid_staff() -> None:
    data = (
        "Rôle;Classe;Nom;Prénom;Email\r\n"
        "PP;3A;Martin;Jeanne;J.Martin@college.fr\r\n"
        "chef;;Roux;Marc;chef@college.fr\r\n"
        "Secrétariat;;Petit;Anne;secretariat@college.fr\r\n"
        "secretariat;;MARTIN;jeanne;j.martin@college.fr\r\n"
    )
    result = parse_staff(data.encode("cp1252"))
    assert result.issues == []
    assert result.rows[:2] == [
        StaffRow(2, "pp", "3A", "Martin", "Jeanne", "j.martin@college.fr"),
        StaffRow(3, "chef", None, "Roux", "Marc", "chef@college.fr"),
    ]
    assert result.rows[2].role == "secretariat"


def test_staff_errors() -> None:
    data = "\r\n".join(
        [
            "role,classe,nom,prenom,email",
            "pp,,Martin,Jeanne,jeanne@college.fr",
            "proviseur,,Roux,Marc,marc@college.fr",
            "chef,,Petit,Anne,",
            "secretariat,,Blanc,Léo,leo@college",
            "chef,,Roux,Marc,MARC@college.fr",
            "secretariat,,Roux,Marc,marc@college.fr",
            "chef,,Roux,Marc,marc@college.fr",
        ]
    ).encode()
    result = parse_staff(data)
    assert result.rows == []
    assert located(result.issues) == [
        (2, "classe", csvio.MSG_PP_WITHOUT_CLASS),
        (3, "role", csvio.MSG_UNKNOWN_ROLE),
        (4, "email", csvio.MSG_REQUIRED),
        (5, "email", csvio.MSG_INVALID_EMAIL),
        (8, "email", csvio.MSG_DUPLICATE_STAFF),
    ]
    assert result.issues[-1].render("fr") == (
        "ligne 8, colonne email : l'adresse « marc@college.fr » a déjà le rôle chef à la ligne 6"
    )


# --- Council --------------------------------------------------------------------------------


def test_valid_council() -> None:
    data = (
        "eleve_id;phase;voie;avis;commentaire\r\n"
        "E1;provisoire;2GT;oui;\r\n"
        "E1;Définitive;2pro;Non;Résultats à consolider\r\n"
        "E1;definitive;2GT;proposition;\r\n"
        "E2;PROVISOIRE;cap;OUI;\r\n"
    ).encode("cp1252")
    result = parse_council(data)
    assert result.issues == []
    assert result.rows == [
        CouncilRow(2, "E1", "provisoire", Voie.SECONDE_GT, "oui", None),
        CouncilRow(3, "E1", "definitive", Voie.SECONDE_PRO, "non", "Résultats à consolider"),
        CouncilRow(4, "E1", "definitive", Voie.SECONDE_GT, "proposition", None),
        CouncilRow(5, "E2", "provisoire", Voie.CAP, "oui", None),
    ]


def test_council_without_comment_column() -> None:
    result = parse_council(b"eleve_id,phase,voie,avis\nE1,provisoire,CAP,non\n")
    assert result.rows == [CouncilRow(2, "E1", "provisoire", Voie.CAP, "non", None)]


def test_council_errors() -> None:
    data = (
        "eleve_id;phase;voie;avis;commentaire\r\n"
        "E1;provisoire;2GT;oui;\r\n"
        "E1;finale;2GT;peut-être;\r\n"
        ";provisoire;BTS;;\r\n"
        "E1;Provisoire;2gt;non;\r\n"
    ).encode()
    result = parse_council(data)
    assert result.rows == []
    assert located(result.issues) == [
        (3, "phase", csvio.MSG_UNKNOWN_PHASE),
        (3, "avis", csvio.MSG_UNKNOWN_AVIS),
        (4, "eleve_id", csvio.MSG_REQUIRED),
        (4, "voie", csvio.MSG_UNKNOWN_VOIE),
        (4, "avis", csvio.MSG_REQUIRED),
        (5, "voie", csvio.MSG_DUPLICATE_COUNCIL),
    ]
    assert result.issues[0].render("fr") == (
        "ligne 3, colonne phase : phase inconnue « finale » (attendu : provisoire ou definitive)"
    )


# --- Decisions ------------------------------------------------------------------------------


def test_decisions() -> None:
    data = b"eleve_id;decision;motif\r\nE1;2GT;\r\nE2;Maintien;Absences\r\nE3;cap;\r\n"
    result = parse_decisions(data)
    assert result.issues == []
    assert result.rows == [
        DecisionRow(2, "E1", Voie.SECONDE_GT, None),
        DecisionRow(3, "E2", "maintien", "Absences"),
        DecisionRow(4, "E3", Voie.CAP, None),
    ]


def test_decision_errors() -> None:
    data = b"eleve_id;decision;motif\r\nE1;2GT;\r\nE1;CAP;\r\nE2;redoublement;\r\nE3;;\r\n"
    result = parse_decisions(data)
    assert result.rows == []
    assert located(result.issues) == [
        (3, "eleve_id", csvio.MSG_DUPLICATE_DECISION),
        (4, "decision", csvio.MSG_UNKNOWN_DECISION),
        (5, "decision", csvio.MSG_REQUIRED),
    ]


# --- Property: whatever a csv writer produces reads back ------------------------------------

# Letters a cp1252 file can hold, chosen so that cp1252 bytes are never also valid UTF-8.
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZéèêëàâäîïôöùûüçÉÈÊÀÂÇÔÎ"
_name = st.text(alphabet=_LETTERS + " -'\",;\n", min_size=1, max_size=20).filter(
    lambda text: text == text.strip() and text.strip() != ""
)
_code = st.text(alphabet="0123456789ABCDEFabc", min_size=1, max_size=8)


@st.composite
def _guardian(draw: st.DrawFn, rank: Literal[1, 2], index: int) -> GuardianRow:
    local = draw(st.text(alphabet="abcXYZ", min_size=1, max_size=6))
    email = draw(st.sampled_from([None, f"{local}.{index}.{rank}@Exemple.fr"]))
    return GuardianRow(rank, draw(_name), draw(_name), email)


@st.composite
def _rosters(draw: st.DrawFn) -> list[RosterRow]:
    count = draw(st.integers(min_value=1, max_value=6))
    rows = []
    for index in range(count):
        guardians: tuple[GuardianRow, ...] = (draw(_guardian(1, index)),)
        if draw(st.booleans()):
            guardians += (draw(_guardian(2, index)),)
        eleve_id = f"{draw(_code)}-{index}"
        rows.append(RosterRow(0, draw(_code), eleve_id, draw(_name), draw(_name), guardians))
    return rows


def _write(rows: list[RosterRow], delimiter: str, upper: bool) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    header = ROSTER_HEADER.split(";")
    writer.writerow([name.upper() for name in header] if upper else header)
    for row in rows:
        cells = [row.classe, row.eleve_id, row.eleve_nom, row.eleve_prenom]
        for guardian in (*row.guardians, None)[:2]:
            if guardian is None:
                cells += ["", "", ""]
            else:
                cells += [guardian.nom, guardian.prenom, guardian.email or ""]
        writer.writerow(cells)
    return buffer.getvalue()


@settings(max_examples=150, deadline=None)
@given(
    rows=_rosters(),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]),
    delimiter=st.sampled_from([",", ";"]),
    upper=st.booleans(),
)
def test_any_written_roster_reads_back(
    rows: list[RosterRow], encoding: str, delimiter: str, upper: bool
) -> None:
    result = parse_roster(_write(rows, delimiter, upper).encode(encoding))
    assert result.issues == []
    expected = []
    line = 2
    for row in rows:
        guardians = tuple(
            GuardianRow(g.rank, g.nom, g.prenom, g.email.lower() if g.email else None)
            for g in row.guardians
        )
        expected.append(
            RosterRow(line, row.classe, row.eleve_id, row.eleve_nom, row.eleve_prenom, guardians)
        )
        fields = [row.eleve_nom, row.eleve_prenom] + [
            name for g in row.guardians for name in (g.nom, g.prenom)
        ]
        line += 1 + sum(field.count("\n") for field in fields)
    assert result.rows == expected
