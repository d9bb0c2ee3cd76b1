"""Everything else: free text, stickers and photos, unknown commands, stale buttons, errors."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden

from tso_bot.bot.common import Context, answer_stale, app_ctx, locale_for, reply, send
from tso_bot.bot.handlers import staff
from tso_bot.bot.handlers.start import redeem
from tso_bot.bot.views import Screen
from tso_bot.i18n import translator
from tso_bot.services.linking import looks_like_code
from tso_bot.store import queries

log = logging.getLogger(__name__)


async def on_text(update: Update, context: Context) -> None:
    """Unlinked: a code typed by hand. Linked: point to the buttons and commands."""
    message = update.effective_message
    chat = update.effective_chat
    assert message is not None
    assert chat is not None
    async with app_ctx(context).db.transaction() as s:
        person = await queries.person_by_chat(s, chat.id)
    text = (message.text or "").strip()
    # A council comment or a decision's motif, asked for by the previous screen.
    if (
        person is not None
        and person.awaiting
        and await staff.on_awaited_text(update, context, person.awaiting)
    ):
        return
    if person is None and looks_like_code(text):
        await redeem(update, context, text)
        return
    _ = translator(locale_for(update, person))
    await reply(
        update,
        _(
            "Je ne lis pas les messages libres : utilisez les boutons sous mes messages, ou "
            "/dossier pour voir le dossier et /aide pour l'aide."
        ),
    )


async def on_other_message(update: Update, context: Context) -> None:
    """A sticker, a photo, a voice note…: say kindly what the bot understands."""
    _ = translator(locale_for(update))
    await reply(
        update,
        _(
            "Merci ! Je ne sais lire que les commandes et les boutons. Tapez /dossier pour "
            "voir le dossier, ou /aide."
        ),
    )


async def on_unknown_command(update: Update, context: Context) -> None:
    _ = translator(locale_for(update))
    await reply(
        update,
        _(
            "Je ne connais pas cette commande. Les commandes sont : /dossier, /calendrier, "
            "/langue, /oublier et /aide."
        ),
    )


async def on_stale_button(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None
    await answer_stale(update, query)


async def on_error(update: object, context: Context) -> None:
    """Log with the update id (never names), and tell the person something went wrong."""
    if isinstance(context.error, Forbidden):
        log.info("a chat blocked the bot: %s", context.error)
        return
    update_id = update.update_id if isinstance(update, Update) else None
    log.error("error while handling update %s", update_id, exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        _ = translator(locale_for(update))
        try:
            await send(
                update,
                Screen(
                    _(
                        "Désolé, quelque chose s'est mal passé de mon côté. Rien n'a été perdu : "
                        "réessayez dans un instant."
                    )
                ),
            )
        except Exception:
            log.exception("could not tell the person about the error")
