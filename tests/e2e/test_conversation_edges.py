"""Issue 2, must show 4 and the small commands: odd messages, lock-out, escaping,
/langue, /aide, /oublier, siblings."""

from __future__ import annotations

from datetime import timedelta

from tests.e2e.harness import School, read_csv
from tests.e2e.test_intentions_journey import prepare
from tests.support import STAFF_CSV

HTML_ROSTER = (
    "classe,eleve_id,eleve_nom,eleve_prenom,rl1_nom,rl1_prenom,rl1_email,rl2_nom,rl2_prenom,"
    "rl2_email\n"
    "3eA,E100,<i>Dupont</i>,<b>Zoé & Léa</b>,Dupont,Marc,marc@example.org,,,\n"
    "3eA,E101,Dupont,Léo,Dupont,Marc,marc@example.org,,,\n"
).encode()


async def test_odd_messages_get_a_helpful_answer(school: School) -> None:
    emu = school.emulator
    await prepare(school)
    await school.start_bot()
    stranger = emu.add_user("Sam")
    for send in (
        lambda: emu.send_sticker(stranger.id),
        lambda: emu.send_photo_from_user(stranger.id),
        lambda: emu.send_text(stranger.id, "bonjour, comment ça marche ?"),
        lambda: emu.send_text(stranger.id, "/inconnue"),
    ):
        before = len(emu.bot_messages(stranger.id))
        await send()
        await emu.wait_for(lambda before=before: len(emu.bot_messages(stranger.id)) > before)
        await emu.settle(stranger.id)
        reply = emu.bot_messages(stranger.id)[-1].text
        assert "/aide" in reply or "/dossier" in reply, reply
    reply = await emu.send_text_and_wait(stranger.id, "/start", expect=1)
    assert "lien d'invitation" in reply[0].text


async def test_five_wrong_codes_lock_the_chat_for_an_hour(school: School) -> None:
    emu = school.emulator
    invites = await prepare(school)
    await school.start_bot()
    mallory = emu.add_user("Mallory")
    for attempt in range(5):
        reply = await emu.send_text_and_wait(mallory.id, f"/start WRONGcode{attempt:04d}", expect=1)
    assert "Trop de codes" in reply[-1].text
    good = invites["anne.martin@example.org"]["code"]
    reply = await emu.send_text_and_wait(mallory.id, f"/start {good}", expect=1)
    assert "Trop de codes" in reply[-1].text  # even the right code waits for the hour
    school.clock.advance(timedelta(hours=1, minutes=1))
    reply = await emu.send_text_and_wait(mallory.id, good, expect=2)  # typed by hand
    assert "Bonjour Anne Martin" in reply[0].text


async def test_names_from_spreadsheets_show_literally(school: School) -> None:
    emu = school.emulator
    (school.root / "roster.csv").write_bytes(HTML_ROSTER)
    (school.root / "staff.csv").write_bytes(STAFF_CSV)
    await school.cli("roster", "import", "roster.csv")
    await school.cli("staff", "import", "staff.csv")
    await school.cli("invites", "invites.csv")
    code = next(
        r["code"] for r in read_csv(school.root / "invites.csv") if r["email"] == "marc@example.org"
    )
    await school.start_bot()
    marc = emu.add_user("Marc")
    replies = await emu.send_text_and_wait(marc.id, f"/start {code}", expect=2)
    assert "<b>Zoé & Léa</b> <i>Dupont</i> (3eA)" in replies[0].text  # shown, not parsed
    assert "Léo Dupont (3eA)" in replies[0].text  # siblings: one account, two children
    home = replies[-1]
    picker = await emu.press_and_wait(marc.id, home.message_id, text_contains="Changer", expect=1)
    assert len(picker[0].buttons) == 2
    chosen = await emu.press_and_wait(marc.id, home.message_id, text_contains="Léo", expect=1)
    assert "Dossier d'orientation de Léo Dupont" in chosen[0].text
    again = await emu.send_text_and_wait(marc.id, "/dossier", expect=1)
    assert "Léo Dupont" in again[0].text  # the choice is remembered


async def test_language_help_and_forget(school: School) -> None:
    emu, mail = school.emulator, school.mail
    invites = await prepare(school)
    await school.start_bot()
    paul = emu.add_user("Paul", language_code="en")
    await emu.send_text_and_wait(
        paul.id, f"/start {invites['paul.durand@example.org']['code']}", expect=2
    )
    picker = await emu.send_text_and_wait(paul.id, "/langue", expect=1)
    done = await emu.press_and_wait(
        paul.id, picker[0].message_id, text_contains="English", expect=1
    )
    assert "English" in done[0].text
    home = await emu.send_text_and_wait(paul.id, "/file", expect=1)
    assert "Zoé Martin" in home[0].text and "Dossier d'orientation" not in home[0].text
    help1 = await emu.send_text_and_wait(paul.id, "/help", expect=1)
    help2 = await emu.press_and_wait(paul.id, help1[0].message_id, text_contains="▶", expect=1)
    assert help2[0].message_id == help1[0].message_id  # two screens, one message
    assert "/forget" in help2[0].text

    # Each guardian gets the recap in their own language.
    anne = emu.add_user("Anne")
    replies = await emu.send_text_and_wait(
        anne.id, f"/start {invites['anne.martin@example.org']['code']}", expect=2
    )
    msg = replies[-1].message_id
    await emu.press_and_wait(anne.id, msg, text_contains="Saisir", expect=1)
    await emu.press_and_wait(anne.id, msg, text_contains="CAP", expect=1)
    await emu.press_and_wait(anne.id, msg, text_contains="Valider", expect=1)
    await mail.wait_for(lambda m: len(m) >= 2)
    assert "Bonjour" in mail.to("anne.martin@example.org")[0].text
    assert "Bonjour" not in mail.to("paul.durand@example.org")[0].text
    # The menus: French by default, English for English-speaking apps.
    assert [c["command"] for c in emu.commands("fr")][:3] == ["start", "dossier", "calendrier"]
    assert "help" in [c["command"] for c in emu.commands("en")]

    ask = await emu.send_text_and_wait(paul.id, "/forget", expect=1)
    bye = await emu.press_and_wait(paul.id, ask[0].message_id, callback_data="o:yes", expect=1)
    assert bye[0].text
    reply = await emu.send_text_and_wait(paul.id, "/file", expect=1)
    assert "invitation" in reply[0].text  # no longer linked
