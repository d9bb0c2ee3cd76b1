"""Issue 2, must show 2: the guardian's first journey, all over HTTP."""

from __future__ import annotations

from tests.e2e.harness import School, read_csv, texts
from tests.support import ROSTER_CSV, STAFF_CSV, paris


async def prepare(school: School) -> dict[str, dict[str, str]]:
    (school.root / "roster.csv").write_bytes(ROSTER_CSV)
    (school.root / "staff.csv").write_bytes(STAFF_CSV)
    await school.cli("db", "upgrade")
    await school.cli("roster", "import", "roster.csv")
    await school.cli("staff", "import", "staff.csv")
    await school.cli("invites", "invites.csv")
    rows = read_csv(school.root / "invites.csv")
    return {r["email"] or f"{r['prenom']} {r['nom']}": r for r in rows}


async def test_guardian_journey_end_to_end(school: School) -> None:
    emu, mail = school.emulator, school.mail
    invites = await prepare(school)
    anne_row = invites["anne.martin@example.org"]
    assert anne_row["type"] == "rl" and anne_row["eleve_id"] == "E001"
    assert anne_row["lien"] == f"https://t.me/college_orientation_bot?start={anne_row['code']}"
    await school.start_bot()

    # Guardian 1 opens the invitation link.
    anne = emu.add_user("Anne", "Martin", language_code="fr")
    replies = await emu.send_text_and_wait(anne.id, f"/start {anne_row['code']}", expect=2)
    assert "Bonjour Anne Martin" in replies[0].text
    assert "Zoé Martin (3eA)" in replies[0].text
    home = replies[-1]
    assert "Dossier d'orientation de Zoé Martin" in home.text
    assert "Saisie des intentions provisoires" in home.text  # the calendar
    assert "À faire maintenant" in home.text

    # She ranks 2PRO > 2GT, the same message edited in place, then validates.
    bot_count = len(emu.bot_messages(anne.id))
    await emu.press_and_wait(anne.id, home.message_id, text_contains="Saisir", expect=1)
    await emu.press_and_wait(
        anne.id, home.message_id, text_contains="2de professionnelle", expect=1
    )
    edited = await emu.press_and_wait(
        anne.id, home.message_id, text_contains="2de générale et technologique", expect=1
    )
    assert "1. 2de professionnelle\n2. 2de générale et technologique" in edited[0].text
    done = await emu.press_and_wait(anne.id, home.message_id, text_contains="Valider", expect=1)
    assert len(emu.bot_messages(anne.id)) == bot_count  # no flood: one message, edited
    assert "Saisie validée" in done[0].text and "mardi 27 février 2024, 18:30" in done[0].text
    assert "1. 2de professionnelle\n2. 2de générale" in done[0].text

    # Both guardians get the recap by e-mail, text and HTML, UTF-8.
    await mail.wait_for(lambda m: len(m) >= 2)
    assert sorted(m.rcpt_to[0] for m in mail.mails) == [
        "anne.martin@example.org",
        "paul.durand@example.org",
    ]
    recap = mail.to("paul.durand@example.org")[0]
    for part in (recap.text, recap.html):
        assert "Zoé Martin" in part and "3eA" in part and "Anne Martin" in part
        assert "mardi 27 février 2024, 18:30" in part
    assert "1. 2de professionnelle\n2. 2de générale et technologique ou 2de STHR" in recap.text
    assert recap.message["Message-ID"] and recap.message["Date"]

    # Guardian 2 links and sees the dossier read-only.
    paul = emu.add_user("Paul", "Durand")
    code = invites["paul.durand@example.org"]["code"]
    replies = await emu.send_text_and_wait(paul.id, f"/start {code}", expect=2)
    paul_home = replies[-1]
    assert "saisie validée par Anne Martin" in paul_home.text
    assert "lecture seule" in paul_home.text and "adressez-vous à Anne Martin" in paul_home.text
    assert not any("Saisir" in b.text or "Modifier" in b.text for b in paul_home.buttons)
    assert any("pas d'accord" in b.text for b in paul_home.buttons)

    # Forged buttons: add a voie to Zoé's dossier, or open Tom's (another family).
    for forged in ("e:p:add:E001:CAP", "e:p:ok:E001", "e:p:open:E002", "d:sel:E002"):
        query = await emu.press(paul.id, paul_home.message_id, forged, forge=True)
        await emu.settle(paul.id)
        answer = emu.callback_answer(query)
        assert answer is not None and answer.show_alert, forged
    assert emu.messages(paul.id)[-1].text == paul_home.text  # nothing changed on screen

    # Guardian 1 changes to 2GT > 2PRO > CAP: a second version, a second recap.
    school.clock.set(paris(2024, 3, 4, 9, 15))
    reply = await emu.send_text_and_wait(anne.id, "/dossier", expect=1)
    msg = reply[-1].message_id
    await emu.press_and_wait(anne.id, msg, text_contains="Modifier", expect=1)
    await emu.press_and_wait(anne.id, msg, text_contains="Monter 2", expect=1)
    await emu.press_and_wait(anne.id, msg, text_contains="1re année de CAP", expect=1)
    done = await emu.press_and_wait(anne.id, msg, text_contains="Valider", expect=1)
    assert "version 2" in done[0].text
    await mail.wait_for(lambda m: len(m) >= 4)
    second = mail.to("paul.durand@example.org")[-1]
    assert (
        "1. 2de générale et technologique ou 2de STHR\n2. 2de professionnelle\n"
        "3. 1re année de CAP" in second.text
    )
    # Paul, linked now, is told on Telegram.
    await emu.wait_for(lambda: "a validé" in emu.messages(paul.id)[-1].text)

    # After the close, a change is refused with the window's dates.
    school.clock.set(paris(2024, 3, 12, 8, 0))
    reply = await emu.send_text_and_wait(anne.id, "/dossier", expect=1)
    assert not any("Modifier" in b.text for b in reply[-1].buttons)
    query = await emu.press(anne.id, msg, "e:p:open:E001", forge=True)
    await emu.settle(anne.id)
    answer = emu.callback_answer(query)
    assert answer is not None and answer.text is not None
    assert "fermé" in answer.text and "11 mars 2024" in answer.text and "26 février" in answer.text

    # The school's export shows the final intentions, who and when.
    await school.stop_bot()
    await school.cli("export", "export.csv")
    rows = {r["eleve_id"]: r for r in read_csv(school.root / "export.csv")}
    assert rows["E001"]["intentions"] == "2GT>2PRO>CAP"
    assert rows["E001"]["intentions_par"] == "Anne Martin"
    assert rows["E001"]["intentions_le"].startswith("2024-03-04T09:15")
    assert rows["E002"]["intentions"] == ""
    assert "Zoé" in texts(emu.messages(anne.id))
