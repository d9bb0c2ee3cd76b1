"""Issue 4 end to end: reminders over Telegram and e-mail (with the fall-back when a guardian
blocks the bot), /calendrier's .ics file, `tso-bot remind --dry-run` and `tso-bot status`."""

from __future__ import annotations

from datetime import UTC, datetime

from icalendar import Calendar

from tests.e2e.harness import School, read_csv
from tests.support import ROSTER_CSV, STAFF_CSV, paris
from tso_bot.sandbox.emulator import FakeUser


async def prepare(school: School) -> dict[str, dict[str, str]]:
    (school.root / "roster.csv").write_bytes(ROSTER_CSV)
    (school.root / "staff.csv").write_bytes(STAFF_CSV)
    await school.cli("db", "upgrade")
    await school.cli("roster", "import", "roster.csv")
    await school.cli("staff", "import", "staff.csv")
    await school.cli("invites", "invites.csv")
    rows = read_csv(school.root / "invites.csv")
    return {r["email"] or f"{r['prenom']} {r['nom']}": r for r in rows}


async def plan_at(school: School, moment: datetime) -> None:
    """Move the clock and run the worker's planner now (it also runs every minute)."""
    assert school.runtime is not None and school.runtime.planner is not None
    school.clock.set(moment)
    await school.runtime.planner.run_once()
    school.runtime.ctx.outbox_changed()


async def test_reminders_by_telegram_and_e_mail(school: School) -> None:
    emu, mail = school.emulator, school.mail
    invites = await prepare(school)
    await school.start_bot()
    anne = emu.add_user("Anne", "Martin")
    code = invites["anne.martin@example.org"]["code"]
    await emu.send_text_and_wait(anne.id, f"/start {code}", expect=2)
    zoe = emu.add_user("Zoé", "Martin")
    await emu.send_text_and_wait(zoe.id, f"/start {invites['Zoé Martin']['code']}", expect=2)

    # /calendrier: the dates, and a file for her calendar app with the reminders in it.
    await calendar_file(school, anne)

    # Monday 4 March, 09:00: "7 days left". Anne on Telegram; Paul (not linked) and Léa
    # (Tom's guardian, not linked) by e-mail; Zoé, the pupil, is not nagged.
    await plan_at(school, paris(2024, 3, 4, 9, 0, 5))
    await emu.wait_for(lambda: "Rappel" in emu.bot_messages(anne.id)[-1].text)
    reminder = emu.bot_messages(anne.id)[-1].text
    assert "Zoé Martin" in reminder and "lundi 11 mars 2024, 23:59" in reminder
    await mail.wait_for(lambda m: len(m) >= 2)
    assert sorted(m.rcpt_to[0] for m in mail.mails) == [
        "lea.petit@example.org",
        "paul.durand@example.org",
    ]
    tom = mail.to("lea.petit@example.org")[0]
    assert "Rappel" in tom.subject and "Tom Petit" in tom.text and tom.message["Message-ID"]
    assert not any("Rappel" in m.text for m in emu.bot_messages(zoe.id))

    # Anne blocks the bot: Saturday's reminder bounces (403) and reaches her by e-mail,
    # and from then on the planner writes to her by e-mail directly.
    emu.block(anne.id)
    seen_by_anne = len(emu.bot_messages(anne.id))
    mail.clear()
    await plan_at(school, paris(2024, 3, 9, 9, 0, 5))
    await mail.wait_for(lambda m: len(m) >= 3)
    assert sorted(m.rcpt_to[0] for m in mail.mails) == [
        "anne.martin@example.org",
        "lea.petit@example.org",
        "paul.durand@example.org",
    ]
    assert len(emu.bot_messages(anne.id)) == seen_by_anne

    # What the last day will bring, without sending it; and who cannot be reached at all.
    dry = await school.cli("remind", "--dry-run", "--at", "2024-03-11T09:00")
    lines = [line for line in dry.stdout.splitlines() if line.startswith("2024-03-11 09:00")]
    assert len(lines) == 3 and all("last_day@09:00" in line for line in lines)
    assert sum(line.endswith("\temail") for line in lines) == 3
    status = await school.cli("status")
    assert "responsables injoignables" in status.stdout


async def calendar_file(school: School, anne: FakeUser) -> None:
    emu = school.emulator
    replies = await emu.send_text_and_wait(anne.id, "/calendrier", expect=2)
    document = next(r for r in replies if r.kind == "document")
    assert document.document is not None and document.document.filename == "orientation.ics"
    assert "Saisie des intentions provisoires" in replies[-1].text
    data, _, mime = emu.file(document.document.file_id)
    assert mime == "text/calendar"
    cal = Calendar.from_ical(data)
    events = list(cal.walk("VEVENT"))
    assert len(events) == 4 and all("Zoé Martin" in str(e["SUMMARY"]) for e in events)
    intentions = next(e for e in events if "intentions" in str(e["SUMMARY"]))
    assert intentions.decoded("DTEND") == paris(2024, 3, 11, 23, 59, 59)
    alarms = sorted(a.decoded("TRIGGER") for a in intentions.walk("VALARM"))
    # The bot's own reminder moments still ahead on 27 February: 7d, 2d, the last day.
    assert alarms == [
        datetime(2024, 3, 4, 8, 0, tzinfo=UTC),
        datetime(2024, 3, 9, 8, 0, tzinfo=UTC),
        datetime(2024, 3, 11, 8, 0, tzinfo=UTC),
    ]
