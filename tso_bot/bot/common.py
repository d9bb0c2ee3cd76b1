"""What every handler shares: the app context, the reader's language, showing a screen."""

from __future__ import annotations

import logging

from telegram import CallbackQuery, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from tso_bot.bot.screen import Screen
from tso_bot.i18n import normalize_locale, translator
from tso_bot.services.context import AppContext
from tso_bot.store.models import Person

log = logging.getLogger(__name__)
Context = ContextTypes.DEFAULT_TYPE
CTX_KEY = "tso_ctx"


def app_ctx(context: Context) -> AppContext:
    ctx = context.bot_data[CTX_KEY]
    assert isinstance(ctx, AppContext)
    return ctx


def locale_for(update: Update, person: Person | None = None) -> str:
    """The person's chosen language, else their Telegram app's, else French."""
    if person is not None:
        return person.locale
    user = update.effective_user
    return normalize_locale(user.language_code if user else None)


async def send(update: Update, screen: Screen) -> None:
    chat = update.effective_chat
    if chat is not None:
        await chat.send_message(screen.text, reply_markup=screen.keyboard)


async def show(query: CallbackQuery, screen: Screen) -> None:
    """Edit the pressed message in place: choosing never floods the chat."""
    try:
        await query.edit_message_text(screen.text, reply_markup=screen.keyboard)
    except BadRequest as exc:
        if "not modified" not in exc.message.lower():
            raise


async def reply(update: Update, text: str) -> None:
    """A plain answer in the chat, without buttons."""
    await send(update, Screen(text))


def query_chat_id(query: CallbackQuery) -> int:
    """The chat a button was pressed in (the presser's private chat)."""
    return query.message.chat.id if query.message else query.from_user.id


async def answer_stale(update: Update, query: CallbackQuery, person: Person | None = None) -> None:
    """A button that no longer means anything (forged, outdated, malformed): say so."""
    _ = translator(locale_for(update, person))
    await query.answer(_("Ce bouton n'est plus valable."), show_alert=True)
