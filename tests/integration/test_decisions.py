"""Rule 6 on a real database: the chef's decision by import and in Telegram, the motif when
it differs from the family's request, the appeal deadline, the family's notification."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.integration.test_council_import import link_everyone, validated
from tests.support import ROSTER_CSV, paris
from tso_bot.clock import SimulatedClock, SystemClock
from tso_bot.domain.calendar import SchoolCalendar
from tso_bot.domain.permissions import StaffRefusal
from tso_bot.domain.phases import Phase
from tso_bot.domain.voies import Voie
from tso_bot.services import decisions, roster
from tso_bot.services.context import AppContext
from tso_bot.staff.parsing import parse_decisions, parse_roster
from tso_bot.store.db import Database
from tso_bot.store.models import AuditEntry, DecisionRow, FamilyAnswerRow, OutboxMessage, Person

D = Phase.DEFINITIVE
# A Tuesday; Thursday 15 August is a public holiday, Saturday counts: the 3rd jour ouvrable
# after the notification is Saturday 17 August.
NOTIFIED = paris(2024, 8, 13, 10, 0)
DEADLINE = paris(2024, 8, 17, 23, 59, 59)


async def responded(ctx: AppContext, pupil_id: str, accepted: Voie | None) -> None:
    async with ctx.db.transaction() as s:
        guardian = await s.scalar(select(Person.id).where(Person.role == "guardian").limit(1))
        assert guardian is not None
        s.add(
            FamilyAnswerRow(
                pupil_id=pupil_id,
                phase=D,
                accepted_voie=accepted.value if accepted else None,
                person_id=guardian,
                at=ctx.clock.now(),
            )
        )


@pytest.fixture
async def chosen(school: AppContext, clock: SimulatedClock) -> AppContext:
    """Zoé chose 2GT > 2PRO and accepted 2PRO in the response; Tom chose CAP."""
    await validated(school, "E001", D, Voie.SECONDE_GT, Voie.SECONDE_PRO)
    await validated(school, "E002", D, Voie.CAP)
    await responded(school, "E001", Voie.SECONDE_PRO)
    clock.set(NOTIFIED)
    return school


async def import_text(ctx: AppContext, *lines: str) -> decisions.ImportOutcome:
    parsed = parse_decisions(("eleve_id,decision,motif\n" + "\n".join(lines) + "\n").encode())
    assert not parsed.issues, parsed.issues
    return await decisions.import_decisions(ctx, parsed.rows)


async def recorded(ctx: AppContext) -> dict[str, DecisionRow]:
    async with ctx.db.transaction() as s:
        return {r.pupil_id: r for r in await s.scalars(select(DecisionRow))}


async def outbox(ctx: AppContext) -> list[OutboxMessage]:
    async with ctx.db.transaction() as s:
        query = select(OutboxMessage).where(OutboxMessage.kind == "decision")
        return list(await s.scalars(query.order_by(OutboxMessage.key)))


def near(moment: datetime, expected: datetime) -> bool:
    """The simulated clock keeps running: a moment a few seconds after `expected`."""
    return timedelta(0) <= moment - expected < timedelta(seconds=30)


async def test_a_bad_file_names_every_bad_line_and_records_nothing(chosen: AppContext) -> None:
    outcome = await import_text(chosen, "E001,2GT,", "E002,CAP,", "E404,CAP,", "E002x,maintien,")
    assert [i.render("fr") for i in outcome.issues] == [
        "ligne 2, colonne motif : la décision « 2GT » diffère de la demande de la famille "
        "(2PRO) : le motif est obligatoire",
        "ligne 4, colonne eleve_id : élève inconnu « E404 » : il ne figure pas dans la liste "
        "des élèves",
        "ligne 5, colonne eleve_id : élève inconnu « E002x » : il ne figure pas dans la liste "
        "des élèves",
    ]
    assert await recorded(chosen) == {} and await outbox(chosen) == []


async def test_decisions_are_recorded_with_the_appeal_deadline_and_the_family_told(
    chosen: AppContext,
) -> None:
    await link_everyone(chosen)
    outcome = await import_text(chosen, "E001,2GT,Résultats en mathématiques", "E002,CAP,")
    assert outcome.issues == [] and outcome.decisions == 2
    rows = await recorded(chosen)
    assert (rows["E001"].decision, rows["E001"].motif) == ("2GT", "Résultats en mathématiques")
    assert rows["E001"].appeal_deadline == DEADLINE
    assert (rows["E002"].decision, rows["E002"].appeal_deadline) == ("CAP", None)
    messages = await outbox(chosen)
    async with chosen.db.transaction() as s:
        people = {p.id: p for p in await s.scalars(select(Person))}
        audits = list(await s.scalars(select(AuditEntry).where(AuditEntry.action == "decision")))
    zoe = [m for m in messages if m.params["pupil_id"] == "E001"]
    assert sorted((people[m.person_id].prenom, m.channel) for m in zoe) == [
        ("Anne", "email"),
        ("Anne", "telegram"),
        ("Paul", "email"),
        ("Paul", "telegram"),
        ("Zoé", "telegram"),
    ]
    anne = next(p for p in people.values() if p.prenom == "Anne")
    assert f"decision:E001:{anne.id}:email" in {m.key for m in zoe}
    assert all(near(m.not_before, NOTIFIED) and m.status == "pending" for m in messages)
    params = dict(zoe[0].params)
    assert near(datetime.fromisoformat(params.pop("at")), NOTIFIED)
    assert params == {
        "pupil_id": "E001",
        "pupil": "Zoé Martin",
        "classe": "3eA",
        "decision": "2GT",
        "motif": "Résultats en mathématiques",
        "differs": True,
        "appeal_deadline": DEADLINE.isoformat(),
    }
    tom = next(m for m in messages if m.params["pupil_id"] == "E002")
    assert (tom.params["differs"], tom.params["appeal_deadline"], tom.params["motif"]) == (
        False,
        None,
        None,
    )
    assert {(a.actor, a.pupil_id) for a in audits} == {
        ("cli:decisions", "E001"),
        ("cli:decisions", "E002"),
    }


async def test_once_per_pupil(chosen: AppContext) -> None:
    assert (await import_text(chosen, "E002,CAP,")).issues == []
    outcome = await import_text(chosen, "E002,maintien,Redoublement")
    assert [i.render("fr") for i in outcome.issues] == [
        "ligne 2, colonne eleve_id : la décision de l'élève « E002 » est déjà enregistrée "
        "(CAP, le 2024-08-13 10:00) : elle ne peut plus changer"
    ]


async def test_not_before_the_final_choices_closed(
    chosen: AppContext, clock: SimulatedClock
) -> None:
    clock.set(paris(2024, 5, 24, 18, 0))
    outcome = await import_text(chosen, "E002,CAP,")
    assert [i.render("fr") for i in outcome.issues] == [
        "ligne 2, colonne decision : trop tôt : la décision s'enregistre après la fermeture "
        "des choix définitifs, le 2024-05-24 23:59"
    ]


async def test_maintien_and_a_pupil_without_choices_always_need_a_motif(
    chosen: AppContext,
) -> None:
    outcome = await import_text(chosen, "E002,maintien,")
    assert outcome.issues[0].column == "motif" and outcome.issues[0].params["request"] == "CAP"
    async with chosen.db.transaction() as s:
        await s.execute(FamilyAnswerRow.__table__.delete())
    # Without a response the request is the first final choice: 2GT for Zoé.
    assert (await import_text(chosen, "E001,2GT,")).issues == []


# --- Telegram -------------------------------------------------------------------------------


async def test_the_chef_decides_with_a_motif_typed_as_text(chosen: AppContext) -> None:
    chats = await link_everyone(chosen)
    chef = chats["chef@example.org"]
    state = await decisions.open_decision(chosen, chef, "E001")
    assert state.refusal is None and state.facts is not None
    assert state.facts.request is Voie.SECONDE_PRO and state.draft is None
    state = await decisions.choose(chosen, chef, "E001", "2GT")
    assert state.differs and state.awaiting_motif and not state.ready
    state = await decisions.save(chosen, chef, "E001")
    assert state.saved is None and state.motif_missing
    state = await decisions.set_motif(chosen, chef, "  Résultats insuffisants en atelier ")
    assert state is not None and state.draft is not None
    assert state.draft.motif == "Résultats insuffisants en atelier" and state.ready
    assert await decisions.set_motif(chosen, chef, "again") is None  # not asked any more
    state = await decisions.save(chosen, chef, "E001")
    assert state.saved is not None and state.saved.appeal_deadline == DEADLINE
    again = await decisions.open_decision(chosen, chef, "E001")
    assert again.refusal is StaffRefusal.ALREADY_DECIDED
    # The same voie as requested needs no motif, and nothing waits for one.
    state = await decisions.choose(chosen, chef, "E002", "CAP")
    assert not state.differs and not state.awaiting_motif and state.ready
    assert (await decisions.save(chosen, chef, "E002")).saved is not None
    assert len(await outbox(chosen)) == 5 + 3  # Anne, Paul (2 each) and Zoé; Léa (2) and Tom
    pending = await decisions.pending(chosen, chef)
    assert pending.total == 0


async def test_only_the_chef_decides_and_forged_buttons_change_nothing(
    chosen: AppContext,
) -> None:
    chats = await link_everyone(chosen)
    for who in (
        "claire.leroy@example.org",
        "secretariat@example.org",
        "anne.martin@example.org",
        "Zoé",
    ):
        chat = chats[who]
        assert (await decisions.open_decision(chosen, chat, "E001")).refusal is (
            StaffRefusal.READ_ONLY
        )
        assert (await decisions.choose(chosen, chat, "E001", "2GT")).refusal is (
            StaffRefusal.READ_ONLY
        )
        assert (await decisions.save(chosen, chat, "E001")).refusal is StaffRefusal.READ_ONLY
        assert (await decisions.pending(chosen, chat)).refusal is StaffRefusal.READ_ONLY
    chef = chats["chef@example.org"]
    assert (await decisions.choose(chosen, chef, "E001", "BAC")).refusal is (
        StaffRefusal.NOT_LINKED
    )
    assert (await decisions.open_decision(chosen, chef, "E404")).refusal is (
        StaffRefusal.NOT_LINKED
    )
    assert (await decisions.save(chosen, chef, "E001")).saved is None  # nothing chosen
    assert await recorded(chosen) == {}


async def test_two_presses_at_once_record_one_decision(chosen: AppContext) -> None:
    chef = (await link_everyone(chosen))["chef@example.org"]
    await decisions.choose(chosen, chef, "E002", "CAP")
    results = await asyncio.gather(*(decisions.save(chosen, chef, "E002") for _ in range(2)))
    assert sorted(r.saved is not None for r in results) == [False, True]
    assert {r.refusal for r in results} == {None, StaffRefusal.ALREADY_DECIDED}
    assert len([m for m in await outbox(chosen) if m.params["pupil_id"] == "E002"]) == 3


# --- The command line -----------------------------------------------------------------------


def _calendar_after_choices() -> str:
    """Around the real time (the CLI runs on the system clock): choices closed yesterday."""
    today = datetime.now(ZoneInfo("Europe/Paris")).date()

    def day(offset: int) -> str:
        return (today + timedelta(days=offset)).isoformat()

    return (
        '[school]\nname = "Collège"\ntimezone = "Europe/Paris"\nholidays = "FR"\n[windows]\n'
        f'intentions = {{ opens = "{day(-60)}", closes = "{day(-50)}" }}\n'
        f'ack = {{ opens = "{day(-40)}", closes = "{day(-35)}" }}\n'
        f'choices = {{ opens = "{day(-20)}", closes = "{day(-1)}" }}\n'
        f'response = {{ opens = "{day(3)}", closes = "{day(8)}" }}\n'
    )


async def test_the_command_line_imports_decisions(database_url: str, tmp_path: Path) -> None:
    import tomllib

    text = _calendar_after_choices()
    (tmp_path / "calendar.toml").write_text(text, encoding="utf-8")
    ctx = AppContext(
        Database(database_url), SchoolCalendar.from_mapping(tomllib.loads(text)), SystemClock()
    )
    try:
        await roster.import_roster(ctx, parse_roster(ROSTER_CSV).rows, "fr")
        await validated(ctx, "E001", D, Voie.CAP)
    finally:
        await ctx.db.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TSO_")}
    env |= {"TSO_DATABASE_URL": database_url, "TSO_CALENDAR": str(tmp_path / "calendar.toml")}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tso_bot.cli", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    (tmp_path / "bad.csv").write_text("eleve_id;decision;motif\nE001;maintien;\nE404;CAP;\n")
    bad = cli("decisions", "import", "bad.csv")
    assert bad.returncode == 1
    assert "ligne 2, colonne motif" in bad.stderr and "ligne 3, colonne eleve_id" in bad.stderr
    (tmp_path / "good.csv").write_text("eleve_id;decision;motif\nE001;maintien;Trop jeune\n")
    assert cli("decisions", "import", "good.csv", "--dry-run").returncode == 0
    good = cli("decisions", "import", "good.csv")
    assert good.returncode == 0, good.stderr
    assert "1 décision(s) enregistrée(s)" in good.stdout
    again = cli("decisions", "import", "good.csv")
    assert again.returncode == 1 and "déjà enregistrée" in again.stderr
