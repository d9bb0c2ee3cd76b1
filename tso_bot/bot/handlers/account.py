"""/langue and /oublier: the person's own account."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from tso_bot.bot.common import Context, answer_stale, app_ctx, locale_for, send, show
from tso_bot.bot.views import Screen, language_picker
from tso_bot.i18n import LANGUAGES, translator
from tso_bot.services import linking
from tso_bot.store import queries


async def on_language(update: Update, context: Context) -> None:
    ctx = app_ctx(context)
    chat = update.effective_chat
    assert chat is not None
    async with ctx.db.transaction() as s:
        person = await queries.person_by_chat(s, chat.id)
    await send(update, language_picker(locale_for(update, person)))


async def on_language_button(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None
    assert query.data is not None
    code = query.data.removeprefix("l:")
    if code not in LANGUAGES:
        await answer_stale(update, query)
        return
    person = await linking.set_locale(app_ctx(context), query.from_user.id, code)
    _ = translator(code)
    await query.answer()
    if person is None:
        await show(
            query,
            Screen(
                _(
                    "Votre compte n'est pas encore relié : la langue suivra "
                    "celle de votre application Telegram."
                )
            ),
        )
        return
    await show(
        query, Screen(_("C'est noté : je vous écrirai désormais en français. Les courriels aussi."))
    )


async def on_forget(update: Update, context: Context) -> None:
    ctx = app_ctx(context)
    chat = update.effective_chat
    assert chat is not None
    async with ctx.db.transaction() as s:
        person = await queries.person_by_chat(s, chat.id)
    _ = translator(locale_for(update, person))
    _p = translator(locale_for(update, person), html=False)
    if person is None:
        await send(update, Screen(_("Ce compte Telegram n'est relié à aucun dossier.")))
        return
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(_p("Oui, délier ce compte"), callback_data="o:yes"),
                InlineKeyboardButton(_p("↩️ Annuler"), callback_data="o:no"),
            ]
        ]
    )
    await send(
        update,
        Screen(
            _(
                "Voulez-vous que ce compte Telegram ne soit plus relié au dossier ? Le dossier et "
                "vos saisies restent enregistrés par l'établissement ; vous continuerez à recevoir "
                "les courriels. Pour revenir, il faudra un nouveau lien du secrétariat."
            ),
            keyboard,
        ),
    )


async def on_forget_button(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None
    ctx = app_ctx(context)
    await query.answer()
    if query.data != "o:yes":
        async with ctx.db.transaction() as s:
            person = await queries.person_by_chat(s, query.from_user.id)
        _ = translator(locale_for(update, person))
        await show(query, Screen(_("Rien n'a changé.")))
        return
    person = await linking.forget(ctx, query.from_user.id)
    _ = translator(locale_for(update, person))
    await show(query, Screen(_("C'est fait : ce compte Telegram n'est plus relié. Au revoir !")))
