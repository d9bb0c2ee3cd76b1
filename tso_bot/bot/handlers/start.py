"""/start with an invitation code, and codes typed as text."""

from __future__ import annotations

from telegram import Update

from tso_bot.bot.common import Context, app_ctx, locale_for, send
from tso_bot.bot.handlers.dossier import send_home
from tso_bot.bot.views import Screen
from tso_bot.i18n import format_datetime, translator
from tso_bot.services import linking
from tso_bot.store import queries


async def on_start(update: Update, context: Context) -> None:
    ctx = app_ctx(context)
    chat = update.effective_chat
    if chat is None:
        return
    code = context.args[0] if context.args else None
    if code:
        await redeem(update, context, code)
        return
    async with ctx.db.transaction() as s:
        person = await queries.person_by_chat(s, chat.id)
    if person is not None:
        await send_home(update, context)
        return
    _ = translator(locale_for(update))
    await send(
        update,
        Screen(
            _(
                "👋 Bienvenue sur le bot de l'orientation en 3e.\n\n"
                "Pour commencer, ouvrez le lien d'invitation reçu de l'établissement, ou envoyez "
                "ici le code d'invitation. /aide explique tout."
            )
        ),
    )


async def redeem(update: Update, context: Context, code: str) -> None:
    ctx = app_ctx(context)
    chat = update.effective_chat
    assert chat is not None
    result = await linking.link(ctx, chat.id, code, locale_for(update))
    if result.outcome is linking.LinkOutcome.LINKED and result.person is not None:
        person = result.person
        _ = translator(person.locale)
        children = "\n".join(
            f"• {_('{pupil} ({classe})', pupil=p.full_name, classe=p.classe)}"
            for p in result.pupils
        )
        text = _(
            "Bonjour {name} ! Votre compte Telegram est maintenant relié.", name=person.full_name
        )
        if children and person.role == "guardian":
            text += "\n\n" + _("Dossier(s) que vous suivez :") + "\n" + children
        await send(update, Screen(text))
        await send_home(update, context)
        return
    _ = translator(locale_for(update))
    if result.outcome is linking.LinkOutcome.LOCKED and result.locked_until is not None:
        until = format_datetime(result.locked_until, ctx.calendar.timezone, _.locale)
        await send(
            update,
            Screen(
                _(
                    "🔒 Trop de codes erronés. Par sécurité, réessayez après le {until}, ou "
                    "demandez un nouveau lien au secrétariat.",
                    until=until,
                )
            ),
        )
        return
    await send(
        update,
        Screen(
            _(
                "Ce code d'invitation n'est pas valable : il a peut-être déjà servi ou été mal "
                "recopié. Ouvrez à nouveau le lien reçu de l'établissement, ou demandez-en un "
                "nouveau au secrétariat."
            )
        ),
    )
