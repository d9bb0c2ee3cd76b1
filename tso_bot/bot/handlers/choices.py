"""The ranking editor, for intentions (provisoire) and final choices (définitive)."""

from __future__ import annotations

from telegram import Update

from tso_bot.bot.callbacks import parse_edit
from tso_bot.bot.common import Context, answer_stale, app_ctx, locale_for, query_chat_id, show
from tso_bot.bot.views import (
    denial_text,
    dossier_screen,
    editor_screen,
    ranking_problem,
    validated_screen,
)
from tso_bot.i18n import translator
from tso_bot.services import choices
from tso_bot.services.dossier import load_for_chat


async def on_edit_button(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    ctx = app_ctx(context)
    chat_id = query_chat_id(query)
    action = parse_edit(query.data)
    if action is None:
        await answer_stale(update, query)
        return
    if action.op == "x":
        await choices.cancel(ctx, chat_id, action.pupil_id, action.phase)
        _person, view = await load_for_chat(ctx, chat_id, action.pupil_id)
        await query.answer()
        if view is not None:
            await show(query, dossier_screen(view, ctx.calendar, ctx.clock.now()))
        return
    if action.op == "open":
        state = await choices.open_editor(ctx, chat_id, action.pupil_id, action.phase)
    elif action.op == "ok":
        state = await choices.validate(ctx, chat_id, action.pupil_id, action.phase)
    else:
        assert action.voie is not None
        state = await choices.edit(
            ctx, chat_id, action.pupil_id, action.phase, choices.Edit(action.op), action.voie
        )
    view = state.view
    _ = translator(view.viewer.locale if view else locale_for(update))
    if view is None or state.denial:
        text = denial_text(
            _,
            ctx.calendar,
            view,
            action.phase.entry_step,
            state.denial or choices.Denial.NOT_LINKED,
        )
        await query.answer(text, show_alert=True)
        return
    if state.problem:
        await query.answer(ranking_problem(_, state.problem), show_alert=True)
        return
    await query.answer()
    if state.validated is not None:
        await show(
            query,
            validated_screen(view.viewer, view.pupil, action.phase, state.validated, ctx.calendar),
        )
    else:
        await show(
            query, editor_screen(view.viewer, view.pupil, action.phase, state.ranking, ctx.calendar)
        )
