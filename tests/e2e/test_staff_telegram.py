"""Issue 5, staff side, over HTTP: the PP enters the council's answer from a phone, the chef
records a decision with its motif; nobody else can, whatever button they forge."""

from __future__ import annotations

from tests.e2e.harness import School
from tests.support import ROSTER_CSV, paris
from tso_bot.runtime import build_context
from tso_bot.sandbox.emulator import FakeUser, MessageRecord
from tso_bot.services import invites as invites_service
from tso_bot.services import roster
from tso_bot.services.invites import InviteRow
from tso_bot.staff.export import EXPORT_COLUMNS, dossier_rows
from tso_bot.staff.parsing import parse_roster, parse_staff
from tso_bot.store.migrate import upgrade

STAFF = (
    "role,classe,nom,prenom,email\r\n"
    "pp,3eA,Leroy,Claire,claire.leroy@example.org\r\n"
    "pp,3eB,Moreau,Hugo,hugo.moreau@example.org\r\n"
    "chef,,Bernard,Sophie,chef@example.org\r\n"
    "secretariat,,Roux,Inès,secretariat@example.org\r\n"
).encode()


async def prepare(school: School) -> dict[str, InviteRow]:
    """The school's files, imported in-process (the command line has its own tests): the
    bot is what this test is about."""
    await upgrade(school.settings.database_url)
    ctx = build_context(school.settings, school.clock)
    try:
        await roster.import_roster(ctx, parse_roster(ROSTER_CSV).rows, "fr")
        await roster.import_staff(ctx, parse_staff(STAFF).rows, "fr")
        rows = await invites_service.issue_invites(ctx, school.emulator.bot_username)
    finally:
        await ctx.db.dispose()
    return {r.email or r.prenom: r for r in rows}


async def export(school: School) -> dict[str, dict[str, str]]:
    ctx = build_context(school.settings, school.clock)
    try:
        rows = await dossier_rows(ctx)
    finally:
        await ctx.db.dispose()
    return {row[1]: dict(zip(EXPORT_COLUMNS, row, strict=True)) for row in rows}


async def link(school: School, code: str, name: str) -> tuple[FakeUser, MessageRecord]:
    user = school.emulator.add_user(name)
    replies = await school.emulator.send_text_and_wait(user.id, f"/start {code}", expect=2)
    return user, replies[-1]


async def press(school: School, user: FakeUser, msg: MessageRecord, label: str) -> MessageRecord:
    changed = await school.emulator.press_and_wait(
        user.id, msg.message_id, text_contains=label, expect=1
    )
    return changed[-1]


async def forged(school: School, user: FakeUser, msg: MessageRecord, data: str) -> str:
    """A tampered client's button: the bot must answer with an alert and change nothing."""
    emu = school.emulator
    before = emu.messages(user.id)[-1].text
    query = await emu.press(user.id, msg.message_id, data, forge=True)
    await emu.settle(user.id)
    answer = emu.callback_answer(query)
    assert answer is not None and answer.show_alert and answer.text, data
    assert emu.messages(user.id)[-1].text == before, data
    return answer.text


async def rank(school: School, anne: FakeUser, start: str, *voies: str) -> None:
    msg = (await school.emulator.send_text_and_wait(anne.id, "/dossier", expect=1))[-1]
    await press(school, anne, msg, start)
    for voie in voies:
        await press(school, anne, msg, f"➕ {voie}")
    await press(school, anne, msg, "Valider")


async def test_the_pp_enters_the_council_and_the_chef_decides(school: School) -> None:
    emu, clock = school.emulator, school.clock
    invites = await prepare(school)
    assert invites["claire.leroy@example.org"].type == "staff"
    await school.start_bot()
    anne, _home = await link(school, invites["anne.martin@example.org"].code, "Anne")
    await rank(school, anne, "Saisir", "2de professionnelle", "2de générale")

    # The intentions are closed: the PP of 3eA links and finds her class.
    clock.set(paris(2024, 3, 12, 9, 0))
    claire, home = await link(school, invites["claire.leroy@example.org"].code, "Claire")
    assert "Classe 3eA" in home.text and "Zoé Martin — avis à saisir" in home.text
    assert "Tom" not in home.text  # another class

    # A comment asked for, then a command instead: the prompt is over, text is just text.
    await press(school, claire, home, "Zoé Martin")
    await press(school, claire, home, "💬 1")
    home = (await emu.send_text_and_wait(claire.id, "/dossier", expect=1))[-1]
    reply = await emu.send_text_and_wait(claire.id, "Très bien", expect=1)
    assert "Je ne lis pas les messages libres" in reply[-1].text

    # Zoé's answer, voie by voie, the message edited in place.
    screen = await press(school, claire, home, "Zoé Martin")
    assert "1. 2de professionnelle : ⏳ à saisir" in screen.text
    await press(school, claire, home, "1. Oui")
    await press(school, claire, home, "2. Non")
    prompt = await press(school, claire, home, "💬 2")
    assert "commentaire pour la voie 2" in prompt.text
    replies = await emu.send_text_and_wait(claire.id, "Résultats fragiles en maths", expect=1)
    screen = replies[-1]
    assert "2. 2de générale et technologique ou 2de STHR : ❌ non — « Résultats fragiles" in (
        screen.text
    )
    screen = await press(school, claire, screen, "Proposer : 1re année de CAP")
    assert "3. 1re année de CAP : 💡 proposée par le conseil" in screen.text
    saved = await press(school, claire, screen, "Enregistrer")
    assert "Avis du conseil enregistré" in saved.text and "lundi 1 avril 2024" in saved.text

    # She cannot act on another class, even with a forged button.
    for data in ("c:o:p:E002", "c:y:p:E002:CAP", "c:s:p:E002", "c:l:0000000000"):
        await forged(school, claire, saved, data)
    assert "pas dans votre classe" in await forged(school, claire, saved, "c:y:p:E002:CAP")

    # The secrétariat reads and helps, never enters; the pupil follows, never acts.
    ines, ines_home = await link(school, invites["secretariat@example.org"].code, "Inès")
    labels = [b.text for b in ines_home.buttons]
    assert "3eA — avis : 1/1" in labels and not any("Décisions" in x for x in labels)
    zoe, zoe_home = await link(school, invites["Zoé"].code, "Zoé")
    assert "Dossier d'orientation de Zoé Martin" in zoe_home.text
    for user, msg in ((ines, ines_home), (zoe, zoe_home)):
        for data in ("c:y:p:E001:2GT", "c:s:p:E001", "c:o:p:E001", "k:v:E001:2GT", "k:s:E001"):
            await forged(school, user, msg, data)

    # The family hears of it when the acknowledgement opens: comment included.
    clock.set(paris(2024, 4, 1, 8, 0))
    assert school.runtime is not None
    school.runtime.ctx.outbox_changed()
    await school.mail.wait_for(lambda m: len(school.mail.to("paul.durand@example.org")) >= 2)
    avis = school.mail.to("paul.durand@example.org")[-1].text
    assert "« Résultats fragiles en maths »" in avis

    # Final choices, then the chef's decision: it differs, so a motif is typed.
    clock.set(paris(2024, 5, 14, 19, 0))
    await rank(school, anne, "Saisir les choix", "2de générale")
    clock.set(paris(2024, 5, 27, 10, 0))  # a Monday: appeal until Thursday 30 May
    sophie, chef_home = await link(school, invites["chef@example.org"].code, "Sophie")
    todo = await press(school, sophie, chef_home, "Décisions à prendre (2)")
    screen = await press(school, sophie, todo, "Zoé Martin")
    assert "Demande de la famille :</b>" not in screen.text  # HTML is rendered, not shown
    assert "Demande de la famille : 2de générale" in screen.text
    screen = await press(school, sophie, screen, "2de professionnelle")
    assert "motif est obligatoire" in screen.text and "Écrivez maintenant le motif" in screen.text
    replies = await emu.send_text_and_wait(sophie.id, "Réussite en atelier", expect=1)
    screen = replies[-1]
    assert "Motif : « Réussite en atelier »" in screen.text
    done = await press(school, sophie, screen, "Enregistrer la décision")
    assert "Décision enregistrée" in done.text and "jeudi 30 mai 2024" in done.text
    await forged(school, sophie, done, "k:s:E001")  # once per pupil
    await school.mail.wait_for(
        lambda m: any(
            "Réussite en atelier" in x.text for x in school.mail.to("anne.martin@example.org")
        )
    )

    rows = await export(school)
    assert rows["E001"]["decision"].startswith("2PRO")
    assert "CAP=proposition" in rows["E001"]["avis_provisoire"]
    assert rows["E002"]["avis_provisoire"] == ""  # the forged buttons changed nothing
