"""The school's command line: atomic imports that name every bad line, Excel files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import CALENDAR_TOML, ROSTER_CSV


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TSO_")}
    env |= {
        "TSO_DATABASE_URL": f"sqlite+aiosqlite:///{root / 'db.sqlite3'}",
        "TSO_CALENDAR": str(root / "calendar.toml"),
        "TSO_BOT_USERNAME": "school_bot",
    }
    return subprocess.run(
        [sys.executable, "-m", "tso_bot.cli", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "calendar.toml").write_text(CALENDAR_TOML, encoding="utf-8")
    return tmp_path


def test_a_bad_roster_names_every_bad_line_and_imports_nothing(root: Path) -> None:
    (root / "bad.csv").write_text(
        "classe,eleve_id,eleve_nom,eleve_prenom,rl1_nom,rl1_prenom,rl1_email,rl2_nom,rl2_prenom\n"
        "3eA,E001,Martin,Zoé,Martin,Anne,anne@example.org,,\n"
        "3eA,E001,Martin,Théo,Martin,Anne,anne@example.org,,\n"
        "3eB,E003,Petit,Tom,Petit,Léa,lea.petit@,,\n",
        encoding="utf-8",
    )
    result = cli(root, "roster", "import", "bad.csv")
    assert result.returncode != 0
    err = result.stderr
    assert "rl2_email" in err  # the missing column
    assert "ligne 3, colonne eleve_id" in err and "E001" in err  # duplicate
    assert "ligne 4, colonne rl1_email" in err and "lea.petit@" in err  # invalid e-mail
    assert "rien n'a été importé" in err.splitlines()[-1]
    assert cli(root, "export", "out.csv").returncode == 0
    lines = (root / "out.csv").read_text("utf-8-sig").splitlines()
    assert len(lines) == 1  # the header only: nothing was imported


def test_a_roster_saved_from_excel_keeps_its_accents(root: Path) -> None:
    excel = (
        "Classe;Élève_ID;ÉLÈVE_NOM;Élève_Prénom;RL1_Nom;RL1_Prénom;RL1_Email;RL2_Nom;RL2_Prénom;"
        "RL2_Email\r\n"
        "3e A;E010;Lefèvre;Zoé;Lefèvre;Hélène;helene@example.org;Lefèvre;François;\r\n"
        "3e A;E011;Nguyễn;Léa;Garçon;Noëlle;noelle@example.org;;;\r\n"
    )
    # Windows-1252 cannot hold "ễ": Excel would have written "?"; keep to what it can hold.
    (root / "excel.csv").write_bytes(excel.replace("ễ", "e").encode("cp1252"))
    ok = cli(root, "roster", "import", "excel.csv", "--dry-run")
    assert ok.returncode == 0, ok.stderr
    assert "2 ligne(s) valide(s)" in ok.stdout
    assert cli(root, "roster", "import", "excel.csv").returncode == 0
    assert cli(root, "export", "out.csv").returncode == 0
    text = (root / "out.csv").read_text("utf-8-sig")
    assert "Lefèvre;Zoé" in text and "Nguyen;Léa" in text
    assert cli(root, "invites", "invites.csv").returncode == 0
    invites = (root / "invites.csv").read_text("utf-8-sig")
    assert "Hélène" in invites and "François" in invites and "Noëlle" in invites


def test_imports_are_repeatable_and_siblings_are_one_person(root: Path) -> None:
    sibling = ROSTER_CSV + "3eB,E003,Martin,Léo,Martin,Anne,ANNE.MARTIN@example.org,,,\r\n".encode()
    (root / "roster.csv").write_bytes(sibling)
    assert cli(root, "roster", "import", "roster.csv").returncode == 0
    assert cli(root, "roster", "import", "roster.csv").returncode == 0  # idempotent
    assert cli(root, "invites", "invites.csv").returncode == 0
    rows = (root / "invites.csv").read_text("utf-8-sig").splitlines()[1:]
    anne = [r for r in rows if "anne.martin@example.org" in r]
    assert len(anne) == 1 and "E001 E003" in anne[0]  # one guardian, two children
    assert len(rows) == 3 + 3  # Anne, Paul, Léa + the three pupils


def test_errors_are_one_line_and_non_zero(root: Path) -> None:
    result = cli(root, "roster", "import", "missing.csv")
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0 and "missing.csv" in result.stderr
    (root / "calendar.toml").write_text("[windows]\nintentions = { opens = 1 }\n")
    result = cli(root, "export", "out.csv")
    assert result.returncode != 0 and "calendar.toml" in result.stderr


def test_command_line_errors_speak_the_staffs_language(root: Path) -> None:
    french = cli(root, "remind", "--at", "mardi")
    assert french.returncode == 1
    assert (
        french.stderr.strip() == "tso-bot: seul --dry-run est possible : les rappels sont "
        "envoyés par tso-bot worker (ou tso-bot run)"
    )
    english = subprocess.run(
        [sys.executable, "-m", "tso_bot.cli", "roster", "import", "missing.csv"],
        cwd=root,
        env={**os.environ, "TSO_DEFAULT_LOCALE": "en"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert english.returncode == 1
    assert english.stderr.startswith("tso-bot: missing.csv: cannot read (")
