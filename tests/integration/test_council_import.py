"""Rule 4 on a real database: the council's answers by import and by the PP in Telegram.

Atomic imports that name every bad line; the windows; replacement before release and refusal
after; the families' notifications queued for the answer window; the staff's rights.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from tests.support import PARIS, paris
from tso_bot.clock import SimulatedClock, SystemClock
from tso_bot.domain.council import Avis, CouncilProblem
from tso_bot.domain.permissions import StaffRefusal
from tso_bot.domain.phases import Phase
from tso_bot.domain.voies import Voie
from tso_bot.services import council, invites, linking, roster
from tso_bot.services.context import AppContext
from tso_bot.staff.parsing import parse_council, parse_staff
from tso_bot.store.db import Database
from tso_bot.store.models import (
    AuditEntry,
    ChoiceVersion,
    CouncilAnswerRow,
    EnteringGuardian,
    FamilyAnswerRow,
    OutboxMessage,
    Person,
)

P = Phase.PROVISOIRE
HEADER = "eleve_id,phase,voie,avis,commentaire\n"
AFTER_INTENTIONS = paris(2024, 3, 12, 9, 0)
ACK_OPENS = paris(2024, 4, 1)
SECRETARIAT_CSV = (
    "role,classe,nom,prenom,email\r\nsecretariat,,Roux,Inès,secretariat@example.org\r\n".encode()
)


async def validated(ctx: AppContext, pupil_id: str, phase: Phase, *voies: Voie) -> None:
    """A family's validated choices, written directly (the choices flow has its own tests)."""
    async with ctx.db.transaction() as s:
        guardian = await s.scalar(
            select(Person.id).where(Person.role == "guardian").order_by(Person.id).limit(1)
        )
        assert guardian is not None
        if await s.get(EnteringGuardian, pupil_id) is None:
            s.add(EnteringGuardian(pupil_id=pupil_id, person_id=guardian, at=ctx.clock.now()))
        s.add(
            ChoiceVersion(
                pupil_id=pupil_id,
                phase=phase,
                version=1,
                voies=">".join(v.value for v in voies),
                person_id=guardian,
                at=ctx.clock.now(),
            )
        )


async def link_everyone(ctx: AppContext) -> dict[str, int]:
    """The secrétariat too; returns chat ids by e-mail (pupils: by first name)."""
    await roster.import_staff(ctx, parse_staff(SECRETARIAT_CSV).rows, "fr")
    chats = {}
    for chat_id, row in enumerate(await invites.issue_invites(ctx, "tso_test_bot"), start=500):
        assert (await linking.link(ctx, chat_id, row.code, "fr")).outcome.value == "linked"
        chats[row.email or row.prenom] = chat_id
    return chats


def council_csv(*lines: str) -> bytes:
    return (HEADER + "".join(line + "\n" for line in lines)).encode()


async def import_text(ctx: AppContext, *lines: str, dry_run: bool = False) -> council.ImportOutcome:
    parsed = parse_council(council_csv(*lines))
    assert not parsed.issues, parsed.issues
    return await council.import_council(ctx, parsed.rows, dry_run=dry_run)


def rendered(outcome: council.ImportOutcome) -> list[str]:
    return [issue.render("fr") for issue in outcome.issues]


async def outbox(ctx: AppContext) -> list[OutboxMessage]:
    async with ctx.db.transaction() as s:
        return list(
            await s.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.kind == "council_answers")
                .order_by(OutboxMessage.key)
            )
        )


async def answer_rows(ctx: AppContext) -> list[tuple[str, str, str, str, str | None]]:
    async with ctx.db.transaction() as s:
        rows = await s.scalars(select(CouncilAnswerRow).order_by(CouncilAnswerRow.voie))
        return [(r.pupil_id, r.phase, r.voie, r.avis, r.comment) for r in rows]


@pytest.fixture
async def requested(school: AppContext, clock: SimulatedClock) -> AppContext:
    """Zoé asked 2PRO > 2GT and Tom CAP; the intentions window has just closed."""
    await validated(school, "E001", P, Voie.SECONDE_PRO, Voie.SECONDE_GT)
    await validated(school, "E002", P, Voie.CAP)
    clock.set(AFTER_INTENTIONS)
    return school


async def test_an_import_records_answers_and_queues_them_for_the_ack_window(
    requested: AppContext,
) -> None:
    chats = await link_everyone(requested)
    outcome = await import_text(
        requested,
        "E001,provisoire,2GT,oui,Très bon trimestre",
        "E001,provisoire,CAP,proposition,",
        "E001,provisoire,2PRO,non,",
        "E002,provisoire,CAP,oui,",
    )
    assert outcome.issues == [] and (outcome.answers, outcome.lines) == (2, 4)
    assert await answer_rows(requested) == [
        ("E001", "provisoire", "2GT", "oui", "Très bon trimestre"),
        ("E001", "provisoire", "2PRO", "non", None),
        ("E001", "provisoire", "CAP", "proposition", None),
        ("E002", "provisoire", "CAP", "oui", None),
    ]
    async with requested.db.transaction() as s:
        people = {p.id: p for p in await s.scalars(select(Person))}
        audits = list(await s.scalars(select(AuditEntry).where(AuditEntry.action.like("council%"))))
    assert {(a.actor, a.pupil_id, a.before is None) for a in audits} == {
        ("cli:council", "E001", True),
        ("cli:council", "E002", True),
    }
    messages = [m for m in await outbox(requested) if m.params["pupil_id"] == "E001"]
    # Anne and Paul by e-mail and on Telegram, Zoé on Telegram: everyone is linked here.
    by = {(people[m.person_id].email or people[m.person_id].prenom, m.channel) for m in messages}
    assert by == {
        ("anne.martin@example.org", "email"),
        ("anne.martin@example.org", "telegram"),
        ("paul.durand@example.org", "email"),
        ("paul.durand@example.org", "telegram"),
        ("Zoé", "telegram"),
    }
    anne = people[next(p for p in people.values() if p.email == "anne.martin@example.org").id]
    assert {m.key for m in messages} >= {
        f"council:E001:provisoire:{anne.id}:email",
        f"council:E001:provisoire:{anne.id}:telegram",
    }
    assert all(m.not_before == ACK_OPENS and m.status == "pending" for m in messages)
    params = dict(messages[0].params)
    at = datetime.fromisoformat(params.pop("at"))
    assert timedelta(0) <= at - AFTER_INTENTIONS < timedelta(seconds=30)
    assert params == {
        "pupil_id": "E001",
        "pupil": "Zoé Martin",
        "classe": "3eA",
        "phase": "provisoire",
        # requested voies in rank order (2PRO > 2GT), then the proposals
        "lines": [
            ["2PRO", "non", None],
            ["2GT", "oui", "Très bon trimestre"],
            ["CAP", "proposition", None],
        ],
    }
    assert chats  # linked


async def test_a_bad_file_names_every_bad_line_and_records_nothing(requested: AppContext) -> None:
    outcome = await import_text(
        requested,
        "E001,provisoire,2GT,oui,",  # 2: fine alone, but Zoé's 2PRO has no answer
        "E001,provisoire,CAP,non,",  # 3: oui/non for a voie not requested
        "E002,provisoire,CAP,proposition,",  # 4: proposition for a requested voie
        "E999,provisoire,2GT,oui,",  # 5: unknown pupil
        "E002,definitive,CAP,oui,",  # 6: nothing requested (and too early)
        "E001,provisoire,2PRO,proposition,",  # 7: proposition for a requested voie
    )
    issues = rendered(outcome)
    assert any(
        i.startswith("ligne 3, colonne avis") and "CAP" in i and "« proposition »" in i
        for i in issues
    )
    assert any(i.startswith("ligne 4, colonne avis") and "« oui » ou « non »" in i for i in issues)
    assert any(i.startswith("ligne 5, colonne eleve_id") and "E999" in i for i in issues)
    assert any(i.startswith("ligne 6, colonne phase") and "2024-05-24 23:59" in i for i in issues)
    assert any(i.startswith("ligne 7, colonne avis") for i in issues)
    assert {issue.line for issue in outcome.issues} == {3, 4, 5, 6, 7}
    assert await answer_rows(requested) == [] and await outbox(requested) == []


async def test_a_requested_voie_without_answer_names_the_pupils_lines(
    requested: AppContext,
) -> None:
    outcome = await import_text(
        requested,
        "E002,provisoire,CAP,oui,",
        "E001,provisoire,2GT,oui,",
        "E001,provisoire,CAP,proposition,",
    )
    assert rendered(outcome) == [
        "ligne 3, colonne voie : la voie 2PRO, demandée par la famille de l'élève « E001 » "
        "(rang 1), n'a pas d'avis en phase provisoire (ligne(s) de cet élève : 3, 4)"
    ]
    assert await answer_rows(requested) == []  # Tom's good line is not recorded either


async def test_a_family_that_requested_nothing_gets_no_answer(
    school: AppContext, clock: SimulatedClock
) -> None:
    clock.set(AFTER_INTENTIONS)
    outcome = await import_text(school, "E002,provisoire,CAP,proposition,")
    assert rendered(outcome) == [
        "ligne 2, colonne eleve_id : la famille de l'élève « E002 » n'a validé aucune voie "
        "en phase provisoire : il n'y a rien à quoi répondre"
    ]


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (
            paris(2024, 3, 11, 23, 0),
            "trop tôt : l'avis du conseil de la phase provisoire s'enregistre après la "
            "fermeture de la saisie des familles, le 2024-03-11 23:59",
        ),
        (
            paris(2024, 4, 6, 0, 0),
            "trop tard : la réponse des familles à la phase provisoire était ouverte du "
            "2024-04-01 00:00 au 2024-04-05 23:59",
        ),
    ],
)
async def test_outside_the_council_period_the_dates_are_given(
    requested: AppContext, clock: SimulatedClock, moment: datetime, expected: str
) -> None:
    clock.set(moment)
    outcome = await import_text(requested, "E002,provisoire,CAP,oui,")
    assert rendered(outcome)[0].startswith(f"ligne 2, colonne phase : {expected}")


async def test_once_the_family_answered_the_answer_cannot_change(
    requested: AppContext, clock: SimulatedClock
) -> None:
    assert (await import_text(requested, "E002,provisoire,CAP,oui,")).issues == []
    clock.set(paris(2024, 4, 2, 10, 0))
    async with requested.db.transaction() as s:
        lea = await s.scalar(select(Person.id).where(Person.email == "lea.petit@example.org"))
        assert lea is not None
        s.add(
            FamilyAnswerRow(
                pupil_id="E002", phase=P, accepted_voie="CAP", person_id=lea, at=clock.now()
            )
        )
    outcome = await import_text(requested, "E002,provisoire,CAP,non,")
    assert rendered(outcome) == [
        "ligne 2, colonne eleve_id : la famille a déjà répondu à l'avis du conseil de la phase "
        "provisoire, le 2024-04-02 10:00 : l'avis ne peut plus changer"
    ]


async def test_re_recording_before_release_updates_the_pending_messages(
    requested: AppContext, clock: SimulatedClock
) -> None:
    await link_everyone(requested)
    assert (await import_text(requested, "E002,provisoire,CAP,oui,")).issues == []
    first = await outbox(requested)
    assert len(first) == 3  # Léa by e-mail and Telegram, Tom on Telegram
    clock.set(AFTER_INTENTIONS + timedelta(days=3))
    assert (await import_text(requested, "E002,provisoire,CAP,non,Stage à refaire")).issues == []
    second = await outbox(requested)
    assert [m.id for m in second] == [m.id for m in first]  # the same rows, updated
    assert all(m.params["lines"] == [["CAP", "non", "Stage à refaire"]] for m in second)
    assert await answer_rows(requested) == [("E002", "provisoire", "CAP", "non", "Stage à refaire")]
    async with requested.db.transaction() as s:
        audits = list(
            await s.scalars(select(AuditEntry).where(AuditEntry.action == "council_provisoire"))
        )
    assert audits[-1].before == {"lines": [["CAP", "oui", None]]}
    assert audits[-1].after == {"lines": [["CAP", "non", "Stage à refaire"]]}


async def test_after_release_recording_is_refused(
    requested: AppContext, clock: SimulatedClock
) -> None:
    assert (await import_text(requested, "E002,provisoire,CAP,oui,")).issues == []
    # A message already left (e.g. the dispatcher sent it): the family has seen it.
    async with requested.db.transaction() as s:
        await s.execute(update(OutboxMessage).values(status="sent"))
    released = (
        "ligne 2, colonne eleve_id : l'avis du conseil de la phase provisoire a déjà été communiqué"
    )
    assert rendered(await import_text(requested, "E002,provisoire,CAP,non,"))[0].startswith(
        released
    )
    # The answer window opened: the dossier shows it, whatever the outbox says.
    async with requested.db.transaction() as s:
        await s.execute(update(OutboxMessage).values(status="pending"))
    clock.set(paris(2024, 4, 1, 8, 0))
    assert rendered(await import_text(requested, "E002,provisoire,CAP,non,"))[0].startswith(
        released
    )


async def test_first_recorded_in_an_open_window_it_is_sent_at_once(
    requested: AppContext, clock: SimulatedClock
) -> None:
    clock.set(paris(2024, 4, 3, 14, 0))
    assert (await import_text(requested, "E002,provisoire,CAP,oui,")).issues == []
    (queued,) = await outbox(requested)  # Léa's e-mail: nobody is linked here
    assert timedelta(0) <= queued.not_before - paris(2024, 4, 3, 14, 0) < timedelta(seconds=30)


async def test_a_dry_run_checks_against_the_database_and_writes_nothing(
    requested: AppContext,
) -> None:
    outcome = await import_text(requested, "E002,provisoire,CAP,oui,", dry_run=True)
    assert outcome.issues == [] and outcome.answers == 1
    assert await answer_rows(requested) == [] and await outbox(requested) == []


# --- The same rules in Telegram -------------------------------------------------------------


async def test_the_pp_enters_voie_by_voie_then_records(requested: AppContext) -> None:
    chats = await link_everyone(requested)
    claire = chats["claire.leroy@example.org"]
    entry = await council.open_entry(requested, claire, "E001", P)
    assert entry.refusal is None and list(entry.draft) == [Voie.SECONDE_PRO, Voie.SECONDE_GT]

    async def status() -> council.CouncilStatus | None:
        return (await council.home(requested, claire)).pupils[0].status

    assert await status() is council.CouncilStatus.TO_ENTER  # looking starts nothing
    await council.toggle(requested, claire, "E001", P, Voie.SECONDE_PRO, Avis.OUI)
    assert await status() is council.CouncilStatus.DRAFT
    entry = await council.save(requested, claire, "E001", P)
    assert entry.saved is None and entry.problems == ((Voie.SECONDE_GT, CouncilProblem.MISSING),)
    await council.toggle(requested, claire, "E001", P, Voie.SECONDE_GT, Avis.NON)
    await council.toggle(requested, claire, "E001", P, Voie.CAP, Avis.PROPOSITION)
    asked = await council.ask_comment(requested, claire, "E001", P, Voie.SECONDE_GT)
    assert asked.awaiting is Voie.SECONDE_GT
    entry = await council.set_comment(requested, claire, "  Résultats fragiles  ")
    assert entry is not None and entry.draft[Voie.SECONDE_GT].comment == "Résultats fragiles"
    assert await council.set_comment(requested, claire, "again") is None  # the prompt is over
    # Pressing the chosen avis again clears it; a withdrawn proposal disappears.
    entry = await council.toggle(requested, claire, "E001", P, Voie.CAP, Avis.PROPOSITION)
    assert Voie.CAP not in entry.draft
    assert await answer_rows(requested) == []  # nothing visible before "Enregistrer"
    entry = await council.save(requested, claire, "E001", P)
    assert entry.saved is not None and entry.problems == ()
    assert await answer_rows(requested) == [
        ("E001", "provisoire", "2GT", "non", "Résultats fragiles"),
        ("E001", "provisoire", "2PRO", "oui", None),
    ]
    assert len([m for m in await outbox(requested) if m.params["pupil_id"] == "E001"]) == 5
    async with requested.db.transaction() as s:
        audit = await s.scalar(select(AuditEntry).where(AuditEntry.action == "council_provisoire"))
        claire_person = await s.scalar(select(Person).where(Person.chat_id == claire))
    assert audit is not None and claire_person is not None
    assert audit.actor == f"person:{claire_person.id}"


async def test_two_presses_of_save_at_once_record_one_answer(requested: AppContext) -> None:
    chef = (await link_everyone(requested))["chef@example.org"]
    await council.toggle(requested, chef, "E002", P, Voie.CAP, Avis.OUI)
    results = await asyncio.gather(
        council.save(requested, chef, "E002", P), council.save(requested, chef, "E002", P)
    )
    assert any(r.saved is not None for r in results)
    assert await answer_rows(requested) == [("E002", "provisoire", "CAP", "oui", None)]
    keys = [m.key for m in await outbox(requested)]
    assert len(keys) == len(set(keys)) == 3  # Léa (e-mail, Telegram) and Tom


async def test_forged_council_actions_change_nothing(requested: AppContext) -> None:
    chats = await link_everyone(requested)
    claire, hugo = chats["claire.leroy@example.org"], chats["hugo.moreau@example.org"]
    refused = {
        hugo: StaffRefusal.OTHER_CLASS,  # PP of 3eB, Zoé is in 3eA
        chats["secretariat@example.org"]: StaffRefusal.READ_ONLY,
        chats["Zoé"]: StaffRefusal.READ_ONLY,
        chats["anne.martin@example.org"]: StaffRefusal.READ_ONLY,
        999: StaffRefusal.NOT_LINKED,
    }
    for chat, expected in refused.items():
        assert (await council.open_entry(requested, chat, "E001", P)).refusal is expected
        assert (
            await council.toggle(requested, chat, "E001", P, Voie.CAP, Avis.PROPOSITION)
        ).refusal is expected
        assert (await council.ask_comment(requested, chat, "E001", P, Voie.CAP)).refusal is expected
        assert (await council.save(requested, chat, "E001", P)).refusal is expected
    # The PP's own forged buttons: oui for a voie not requested, a proposition for one that was.
    entry = await council.toggle(requested, claire, "E001", P, Voie.CAP, Avis.OUI)
    assert entry.problems == ((Voie.CAP, CouncilProblem.NOT_REQUESTED),)
    entry = await council.toggle(requested, claire, "E001", P, Voie.SECONDE_GT, Avis.PROPOSITION)
    assert entry.problems == ((Voie.SECONDE_GT, CouncilProblem.PROPOSED_REQUESTED),)
    entry = await council.ask_comment(requested, claire, "E001", P, Voie.CAP)
    assert entry.awaiting is None and entry.problems
    assert (
        await council.open_entry(requested, claire, "E404", P)
    ).refusal is StaffRefusal.NOT_LINKED
    assert await answer_rows(requested) == []


async def test_the_chef_may_record_for_any_class_and_sees_the_school(requested: AppContext) -> None:
    chats = await link_everyone(requested)
    chef = chats["chef@example.org"]
    await council.toggle(requested, chef, "E002", P, Voie.CAP, Avis.OUI)
    assert (await council.save(requested, chef, "E002", P)).saved is not None
    home = await council.home(requested, chef)
    assert home.phase is P and home.may_record
    assert [(c.classe, c.pupils, c.recorded) for c in home.classes] == [
        ("3eA", 1, 0),
        ("3eB", 1, 1),
    ]
    pp_home = await council.home(requested, chats["claire.leroy@example.org"])
    assert pp_home.classe == "3eA" and [x.status for x in pp_home.pupils] == [
        council.CouncilStatus.TO_ENTER
    ]
    other = await council.class_list(
        requested, chats["claire.leroy@example.org"], council.class_key("3eB")
    )
    assert other.refusal is StaffRefusal.OTHER_CLASS
    secretariat = await council.class_list(
        requested, chats["secretariat@example.org"], council.class_key("3eB")
    )
    assert secretariat.refusal is None and not secretariat.may_record
    assert (await council.home(requested, chats["Zoé"])).refusal is StaffRefusal.READ_ONLY


# --- The command line, on SQLite and PostgreSQL ---------------------------------------------


def _calendar_around_now() -> str:
    """Windows placed around the real time (the CLI runs on the system clock): the
    intentions closed yesterday, the acknowledgement opens in ten days."""
    today = datetime.now(ZoneInfo("Europe/Paris")).date()

    def day(offset: int) -> str:
        return (today + timedelta(days=offset)).isoformat()

    return (
        '[school]\nname = "Collège"\ntimezone = "Europe/Paris"\nholidays = "FR"\n[windows]\n'
        f'intentions = {{ opens = "{day(-20)}", closes = "{day(-1)}" }}\n'
        f'ack = {{ opens = "{day(10)}", closes = "{day(15)}" }}\n'
        f'choices = {{ opens = "{day(20)}", closes = "{day(30)}" }}\n'
        f'response = {{ opens = "{day(40)}", closes = "{day(45)}" }}\n'
    )


def run_cli(root: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TSO_")}
    env |= {"TSO_DATABASE_URL": url, "TSO_CALENDAR": str(root / "calendar.toml")}
    return subprocess.run(
        [sys.executable, "-m", "tso_bot.cli", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_the_command_line_imports_atomically(database_url: str, tmp_path: Path) -> None:
    import tomllib

    from tests.support import ROSTER_CSV
    from tso_bot.domain.calendar import SchoolCalendar
    from tso_bot.staff.parsing import parse_roster

    (tmp_path / "calendar.toml").write_text(_calendar_around_now(), encoding="utf-8")
    calendar = SchoolCalendar.from_mapping(tomllib.loads(_calendar_around_now()))
    ctx = AppContext(Database(database_url), calendar, SystemClock())
    try:
        await roster.import_roster(ctx, parse_roster(ROSTER_CSV).rows, "fr")
        await validated(ctx, "E001", P, Voie.SECONDE_GT)
    finally:
        await ctx.db.dispose()
    (tmp_path / "bad.csv").write_bytes(
        council_csv(
            "E001,provisoire,2GT,oui,", "E001,provisoire,2PRO,non,", "E404,provisoire,CAP,oui,"
        )
    )
    bad = run_cli(tmp_path, database_url, "council", "import", "bad.csv")
    assert bad.returncode == 1
    assert (
        "bad.csv: ligne 3, colonne avis" in bad.stderr and "ligne 4, colonne eleve_id" in bad.stderr
    )
    assert "2 erreur(s), rien n'a été importé" in bad.stderr.splitlines()[-1]
    (tmp_path / "good.csv").write_bytes(
        council_csv("E001;provisoire;2GT;oui;Bravo".replace(";", ","))
    )
    dry = run_cli(tmp_path, database_url, "council", "import", "good.csv", "--dry-run")
    assert dry.returncode == 0 and "vérification seule" in dry.stdout, dry.stderr
    good = run_cli(tmp_path, database_url, "council", "import", "good.csv")
    assert good.returncode == 0, good.stderr
    assert "1 élève(s)" in good.stdout
    ctx = AppContext(Database(database_url), calendar, SystemClock())
    try:
        rows = await answer_rows(ctx)
        queued = await outbox(ctx)
    finally:
        await ctx.db.dispose()
    assert rows == [("E001", "provisoire", "2GT", "oui", "Bravo")]
    opens = calendar.windows[council.Phase.PROVISOIRE.answer_step].opens
    assert {m.not_before for m in queued} == {opens.astimezone(PARIS)}
