"""/dossier, the child picker and the other guardian's disagreement."""

from __future__ import annotations

from telegram import Update

from tso_bot.bot.callbacks import parse_dossier
from tso_bot.bot.common import Context, answer_stale, app_ctx, locale_for, query_chat_id, send, show
from tso_bot.bot.handlers import staff
from tso_bot.bot.views import (
    Screen,
    child_picker,
    denial_text,
    disagreement_confirm,
    disagreement_done,
    dossier_screen,
)
from tso_bot.domain.calendar import Step
from tso_bot.domain.permissions import Role, is_staff, may_flag_disagreement
from tso_bot.i18n import translator
from tso_bot.services import disagreement, linking
from tso_bot.services.dossier import load_for_chat


def not_linked(update: Update) -> Screen:
    _ = translator(locale_for(update))
    return Screen(
        _(
            "Votre compte Telegram n'est relié à aucun dossier. Ouvrez le lien "
            "d'invitation reçu de l'établissement, ou envoyez ici votre code."
        )
    )


async def send_home(update: Update, context: Context) -> None:
    ctx = app_ctx(context)
    chat = update.effective_chat
    assert chat is not None
    person, view = await load_for_chat(ctx, chat.id)
    if person is not None and is_staff(Role(person.role)):
        await staff.send_staff_home(update, context)
    elif person is None:
        await send(update, not_linked(update))
    elif view is None:
        _ = translator(person.locale)
        await send(update, Screen(_("Aucun dossier d'élève n'est associé à votre compte.")))
    else:
        await send(update, dossier_screen(view, ctx.calendar, ctx.clock.now()))


async def on_dossier(update: Update, context: Context) -> None:
    await send_home(update, context)


async def on_dossier_button(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    ctx = app_ctx(context)
    chat_id = query_chat_id(query)
    action = parse_dossier(query.data)
    person, view = await load_for_chat(ctx, chat_id, action.pupil_id if action else None)
    if action is None or person is None or view is None:
        await answer_stale(update, query, person)
        return
    _ = translator(person.locale)
    now = ctx.clock.now()
    if action.op == "pick":
        await query.answer()
        await show(query, child_picker(person, view.pupils))
    elif action.op in ("home", "sel"):
        if action.op == "sel" and action.pupil_id:
            await linking.select_pupil(ctx, chat_id, action.pupil_id)
        await query.answer()
        await show(query, dossier_screen(view, ctx.calendar, now))
    elif action.op == "dis":
        denial = may_flag_disagreement(view.relation)
        if denial:
            await query.answer(
                denial_text(_, ctx.calendar, view, Step.INTENTIONS, denial), show_alert=True
            )
            return
        await query.answer()
        await show(query, disagreement_confirm(person, view.pupil))
    else:  # "dis!": confirmed
        result = await disagreement.flag(ctx, chat_id, view.pupil.id)
        if result.denial or result.view is None:
            await answer_stale(update, query, person)
            return
        await query.answer()
        await show(query, disagreement_done(person, result.view, result.pp_reached))
