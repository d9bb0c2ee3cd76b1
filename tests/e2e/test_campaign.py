"""Issue 5, must show 1: a whole campaign over HTTP with a simulated clock, four pupils.

- Zoé (E001): her request is granted at once.
- Tom (E002): his guardian accepts a voie the council proposed.
- Inès (E003): her family refuses all, disagrees in the definitive phase, and appeals.
- Hugo (E004): his guardians never act; they only get reminders (one by e-mail, one has
  neither Telegram nor e-mail and is counted for the staff).
"""

from __future__ import annotations

from tests.e2e.harness import School, read_csv
from tests.support import STAFF_CSV, paris
from tso_bot.sandbox.emulator import FakeUser, MessageRecord

ROSTER = (
    "classe;eleve_id;eleve_nom;eleve_prenom;rl1_nom;rl1_prenom;rl1_email;rl2_nom;rl2_prenom;"
    "rl2_email\n"
    "3eA;E001;Martin;Zoé;Martin;Anne;anne@example.org;Durand;Paul;paul@example.org\n"
    "3eB;E002;Petit;Tom;Petit;Léa;lea@example.org;;;\n"
    "3eA;E003;Haddad;Inès;Haddad;Marc;marc@example.org;Haddad;Sonia;sonia@example.org\n"
    "3eB;E004;Roux;Hugo;Roux;Karim;karim@example.org;Roux;Julie;\n"
).encode()

COUNCIL_PROVISOIRE = (
    "eleve_id,phase,voie,avis,commentaire\n"
    "E001,provisoire,2GT,oui,Très bon niveau\n"
    "E001,provisoire,2PRO,oui,\n"
    "E002,provisoire,2GT,non,Résultats fragiles en mathématiques\n"
    "E002,provisoire,2PRO,proposition,Projet professionnel solide\n"
    "E003,provisoire,2GT,non,\n"
    "E003,provisoire,CAP,proposition,\n"
).encode()

COUNCIL_DEFINITIVE = (
    b"eleve_id,phase,voie,avis,commentaire\n"
    b"E001,definitive,2GT,oui,\n"
    b"E002,definitive,2PRO,oui,\n"
    b"E003,definitive,2GT,non,\n"
    b"E003,definitive,2PRO,proposition,\n"
)

DECISIONS = (
    "eleve_id,decision,motif\n"
    "E001,2GT,\n"
    "E002,2PRO,\n"
    "E003,2PRO,Avis du conseil de classe au vu des résultats de l'année\n"
).encode()


async def link(
    school: School, invites: dict[str, dict[str, str]], email: str, name: str
) -> tuple[FakeUser, MessageRecord]:
    user = school.emulator.add_user(name)
    replies = await school.emulator.send_text_and_wait(
        user.id, f"/start {invites[email]['code']}", expect=2
    )
    return user, replies[-1]


async def home(school: School, user: FakeUser) -> MessageRecord:
    return (await school.emulator.send_text_and_wait(user.id, "/dossier", expect=1))[-1]


async def press(school: School, user: FakeUser, msg: MessageRecord, label: str) -> MessageRecord:
    return (
        await school.emulator.press_and_wait(user.id, msg.message_id, text_contains=label, expect=1)
    )[-1]


async def rank(school: School, user: FakeUser, start: str, *labels: str) -> MessageRecord:
    """From the dossier: open the editor, add the voies in order, validate."""
    msg = await home(school, user)
    await press(school, user, msg, start)
    for label in labels:
        await press(school, user, msg, f"➕ {label}")
    return await press(school, user, msg, "Valider")


async def answer(school: School, user: FakeUser, start: str, choice: str) -> MessageRecord:
    msg = await home(school, user)
    await press(school, user, msg, start)
    await press(school, user, msg, choice)
    return await press(school, user, msg, "Valider")


def mails_to(school: School, address: str) -> list[str]:
    return [m.subject for m in school.mail.to(address)]


async def test_a_whole_campaign(school: School) -> None:
    emu, mail, clock = school.emulator, school.mail, school.clock
    (school.root / "roster.csv").write_bytes(ROSTER)
    (school.root / "staff.csv").write_bytes(STAFF_CSV)
    await school.cli("roster", "import", "roster.csv")
    await school.cli("staff", "import", "staff.csv")
    await school.cli("invites", "invites.csv")
    invites = {r["email"]: r for r in read_csv(school.root / "invites.csv") if r["email"]}
    clock.set(paris(2024, 2, 27, 10))
    await school.start_bot()

    # --- Phase provisoire: intentions -------------------------------------------------
    anne, _ = await link(school, invites, "anne@example.org", "Anne")
    lea, _ = await link(school, invites, "lea@example.org", "Léa")
    marc, _ = await link(school, invites, "marc@example.org", "Marc")
    await rank(school, anne, "Saisir", "2de générale", "2de professionnelle")
    await rank(school, lea, "Saisir", "2de générale")
    await rank(school, marc, "Saisir", "2de générale")
    await mail.wait_for(lambda m: len(m) >= 5)  # Anne, Paul, Léa, Marc, Sonia
    assert all(
        "intentions provisoires" in s
        for s in mails_to(school, "paul@example.org") + mails_to(school, "sonia@example.org")
    )

    # Hugo's guardians never act: reminders only (Karim by e-mail; Julie has neither).
    clock.set(paris(2024, 3, 4, 9, 5))
    await school.run_planner()
    await mail.wait_for(lambda m: bool(school.mail.to("karim@example.org")))
    assert not any("Rappel" in s for s in mails_to(school, "anne@example.org"))
    status = await school.cli("status")
    assert "3eB" in status.stdout

    # --- The council's provisional avis: imported now, shown when the window opens ----
    clock.set(paris(2024, 3, 15, 17))
    (school.root / "council1.csv").write_bytes(COUNCIL_PROVISOIRE)
    await school.cli("council", "import", "council1.csv")
    await school.settle_outbox()
    assert not any("avis provisoire" in m.subject for m in mail.mails)  # not before 1 April
    clock.set(paris(2024, 4, 1, 8, 30))
    await school.wake()
    await mail.wait_for(lambda m: sum("avis provisoire" in x.subject for x in m) >= 5)
    avis = school.mail.to("lea@example.org")[-1].text
    assert "2de générale et technologique ou 2de STHR : ❌ non — « Résultats fragiles" in avis
    assert "2de professionnelle : 💡 proposée par le conseil — « Projet professionnel" in avis

    # --- Acknowledgements: granted; a proposed voie; refusal of all -------------------
    done = await answer(school, anne, "Accuser réception", "Accepter : 2de générale")
    assert "Voie acceptée" in done.text
    done = await answer(school, lea, "Accuser réception", "Accepter : 2de professionnelle")
    assert "2de professionnelle" in done.text
    done = await answer(school, marc, "Accuser réception", "aucune de ces voies")
    assert "professeur principal" in done.text and "Claire Leroy" in done.text
    # A forged button on another family's dossier, and a second answer: nothing changes.
    query = await emu.press(lea.id, done.message_id, "a:p:ok:E001:2PRO", forge=True)
    await emu.settle(lea.id)
    assert emu.callback_answer(query).show_alert  # type: ignore[union-attr]
    await mail.wait_for(lambda m: bool(school.mail.to("claire.leroy@example.org")))
    assert "refuse" in mails_to(school, "claire.leroy@example.org")[-1]

    # --- Phase définitive: final choices, council propositions, responses -------------
    clock.set(paris(2024, 5, 14, 19))
    await rank(school, anne, "Saisir les choix", "2de générale")
    await rank(school, lea, "Saisir les choix", "2de professionnelle")
    await rank(school, marc, "Saisir les choix", "2de générale")
    clock.set(paris(2024, 5, 28, 18))
    (school.root / "council2.csv").write_bytes(COUNCIL_DEFINITIVE)
    await school.cli("council", "import", "council2.csv")
    clock.set(paris(2024, 6, 10, 8, 30))
    await school.wake()
    await mail.wait_for(lambda m: sum("propositions du conseil" in x.subject for x in m) >= 5)
    await answer(school, anne, "Répondre aux propositions", "Accepter : 2de générale")
    await answer(school, lea, "Répondre aux propositions", "Accepter : 2de professionnelle")
    done = await answer(school, marc, "Répondre aux propositions", "désaccord")
    assert "Sophie Bernard" in done.text  # the chef will receive them

    # --- Decisions, and the appeal ----------------------------------------------------
    clock.set(paris(2024, 6, 17, 10))  # a Monday: appeal until Thursday 20 June
    (school.root / "decisions.csv").write_bytes(DECISIONS)
    await school.cli("decisions", "import", "decisions.csv")
    await mail.wait_for(lambda m: sum("décision" in x.subject for x in m) >= 5)
    marc_decision = [m for m in school.mail.to("marc@example.org") if "décision" in m.subject]
    assert "jusqu'au jeudi 20 juin 2024 inclus" in marc_decision[-1].text
    assert "Avis du conseil de classe" in marc_decision[-1].text
    anne_decision = [m for m in school.mail.to("anne@example.org") if "décision" in m.subject]
    assert "correspond à votre demande" in anne_decision[-1].text
    clock.set(paris(2024, 6, 18, 20, 30))
    msg = await home(school, marc)
    assert "jusqu'au jeudi 20 juin 2024 inclus" in msg.text
    await press(school, marc, msg, "Je fais appel")
    done = await press(school, marc, msg, "Valider")
    assert "chef d'établissement" in done.text
    await mail.wait_for(lambda m: bool(school.mail.to("chef@example.org")))
    assert "Appel pour Inès Haddad" in mails_to(school, "chef@example.org")

    # --- What the school exports --------------------------------------------------------
    await school.stop_bot()
    await school.cli("export", "export.csv")
    rows = {r["eleve_id"]: r for r in read_csv(school.root / "export.csv")}
    expected = {
        "E001": ("2GT>2PRO", "2GT=oui,2PRO=oui", "2GT", "2GT", "2GT=oui", "accord:2GT", "2GT", ""),
        "E002": (
            "2GT",
            "2GT=non,2PRO=proposition",
            "2PRO",
            "2PRO",
            "2PRO=oui",
            "accord:2PRO",
            "2PRO",
            "",
        ),
        "E003": (
            "2GT",
            "2GT=non,CAP=proposition",
            "refus",
            "2GT",
            "2GT=non,2PRO=proposition",
            "desaccord",
            "2PRO",
            "appel",
        ),
        "E004": ("", "", "", "", "", "", "", ""),
    }
    columns = (
        "intentions",
        "avis_provisoire",
        "accuse_reception",
        "choix",
        "propositions",
        "reponse",
        "decision",
        "appel",
    )
    for pupil, values in expected.items():
        assert tuple(rows[pupil][c] for c in columns) == values, pupil
    assert rows["E001"]["intentions_par"] == "Anne Martin"
    assert rows["E003"]["choix_par"] == "Marc Haddad"
    assert rows["E002"]["choix_le"].startswith("2024-05-14T19:00")
