"""/calendrier: the procedure's dates."""

from __future__ import annotations

from telegram import Update

from tso_bot.bot.common import Context, app_ctx, locale_for, send
from tso_bot.bot.views import Screen, calendar_lines
from tso_bot.i18n import translator
from tso_bot.store import queries


async def on_calendar(update: Update, context: Context) -> None:
    ctx = app_ctx(context)
    chat = update.effective_chat
    assert chat is not None
    async with ctx.db.transaction() as s:
        person = await queries.person_by_chat(s, chat.id)
    _ = translator(locale_for(update, person))
    text = (
        _("📅 <b>Calendrier de l'orientation — {school}</b>", school=ctx.calendar.school_name)
        + "\n\n"
    )
    text += calendar_lines(_, ctx.calendar, ctx.clock.now())
    await send(update, Screen(text))
