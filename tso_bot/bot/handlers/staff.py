"""The staff's side in Telegram: the home, the council's answers, the chef's decisions.

Thin: parse the button, call the use case (which re-reads who the person is and what they
may do from the database), show the result by editing the message in place. A refusal or a
problem is an alert, and the screen stays as it was.
"""

from __future__ import annotations

from telegram import CallbackQuery, Update

from tso_bot.bot import staff_views
from tso_bot.bot.callbacks import CouncilAction, DecisionAction, parse_council, parse_decision
from tso_bot.bot.common import Context, answer_stale, app_ctx, locale_for, query_chat_id, send, show
from tso_bot.bot.screen import Screen
from tso_bot.domain.council import Avis
from tso_bot.i18n import translator
from tso_bot.services import council, decisions
from tso_bot.services.context import AppContext

_AVIS = {"y": Avis.OUI, "n": Avis.NON, "p": Avis.PROPOSITION}


async def send_staff_home(update: Update, context: Context) -> None:
    """`/dossier` (and `/start`) for a staff member."""
    ctx = app_ctx(context)
    chat = update.effective_chat
    assert chat is not None
    overview = await council.home(ctx, chat.id)
    if overview.staff is None or overview.refusal is not None:
        return
    await send(update, staff_views.home_screen(overview, ctx.calendar, ctx.clock.now()))


async def end_prompt_on_command(update: Update, context: Context) -> None:
    """Runs before every command (handler group -1): a command ends a pending prompt."""
    chat = update.effective_chat
    if chat is not None:
        await council.end_prompt(app_ctx(context), chat.id)


# --- The council's answers ------------------------------------------------------------------


async def on_council_button(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    action = parse_council(query.data)
    if action is None:
        await answer_stale(update, query)
        return
    if action.op in ("h", "l"):
        await _overview(update, query, app_ctx(context), action)
    else:
        await _entry(update, query, app_ctx(context), action)


async def _overview(
    update: Update, query: CallbackQuery, ctx: AppContext, action: CouncilAction
) -> None:
    chat_id = query_chat_id(query)
    if action.op == "h":
        overview = await council.home(ctx, chat_id)
    else:
        overview = await council.class_list(ctx, chat_id, action.class_key or "")
    if overview.staff is None or overview.refusal is not None:
        _ = translator(locale_for(update, overview.staff))
        text = staff_views.council_refusal_text(
            _, ctx.calendar, overview.refusal or council.StaffRefusal.NOT_LINKED, None
        )
        await query.answer(text, show_alert=True)
        return
    await query.answer()
    await show(query, staff_views.home_screen(overview, ctx.calendar, ctx.clock.now()))


async def _entry(
    update: Update, query: CallbackQuery, ctx: AppContext, action: CouncilAction
) -> None:
    chat_id, phase, pupil_id = query_chat_id(query), action.phase, action.pupil_id
    assert phase is not None and pupil_id is not None
    if action.op == "o":
        entry = await council.open_entry(ctx, chat_id, pupil_id, phase)
    elif action.op == "s":
        entry = await council.save(ctx, chat_id, pupil_id, phase)
    elif action.op == "m":
        assert action.voie is not None
        entry = await council.ask_comment(ctx, chat_id, pupil_id, phase, action.voie)
    else:
        assert action.voie is not None
        entry = await council.toggle(ctx, chat_id, pupil_id, phase, action.voie, _AVIS[action.op])
    alert = _entry_alert(update, ctx, entry)
    if alert is not None:
        await query.answer(alert, show_alert=True)
        return
    await query.answer()
    await show(query, _entry_screen(ctx, entry))


def _entry_alert(update: Update, ctx: AppContext, entry: council.Entry) -> str | None:
    _ = translator(locale_for(update, entry.staff))
    if entry.refusal is not None or entry.facts is None:
        refusal = entry.refusal or council.StaffRefusal.NOT_LINKED
        return staff_views.council_refusal_text(_, ctx.calendar, refusal, entry.phase)
    if entry.problems or entry.comment_too_long:
        return staff_views.council_problem_text(_, entry)
    return None


def _entry_screen(ctx: AppContext, entry: council.Entry) -> Screen:
    now = ctx.clock.now()
    if entry.saved is not None:
        return staff_views.saved_screen(entry, ctx.calendar, now)
    if entry.awaiting is not None:
        return staff_views.comment_prompt(entry, ctx.calendar, now)
    return staff_views.entry_screen(entry, ctx.calendar, now)


# --- The chef's decisions -------------------------------------------------------------------


async def on_decision_button(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    action = parse_decision(query.data)
    if action is None:
        await answer_stale(update, query)
        return
    ctx = app_ctx(context)
    if action.op == "t":
        await _pending(update, query, ctx, action.page)
        return
    state = await _decide(ctx, query_chat_id(query), action)
    alert = _decision_alert(update, ctx, state)
    if alert is not None:
        await query.answer(alert, show_alert=True)
        return
    await query.answer()
    await show(query, _decision_screen(ctx, state))


async def _pending(update: Update, query: CallbackQuery, ctx: AppContext, page: int) -> None:
    pending = await decisions.pending(ctx, query_chat_id(query), page)
    if pending.chef is None or pending.refusal is not None:
        _ = translator(locale_for(update, pending.chef))
        refusal = pending.refusal or council.StaffRefusal.NOT_LINKED
        await query.answer(
            staff_views.decision_refusal_text(_, ctx.calendar, refusal), show_alert=True
        )
        return
    await query.answer()
    await show(query, staff_views.pending_screen(pending))


async def _decide(ctx: AppContext, chat_id: int, action: DecisionAction) -> decisions.DecisionState:
    pupil_id = action.pupil_id or ""
    if action.op == "v":
        return await decisions.choose(ctx, chat_id, pupil_id, action.code or "")
    if action.op == "m":
        return await decisions.ask_motif(ctx, chat_id, pupil_id)
    if action.op == "s":
        return await decisions.save(ctx, chat_id, pupil_id)
    return await decisions.open_decision(ctx, chat_id, pupil_id)


def _decision_alert(update: Update, ctx: AppContext, state: decisions.DecisionState) -> str | None:
    _ = translator(locale_for(update, state.chef))
    if state.refusal is not None or state.facts is None or state.chef is None:
        refusal = state.refusal or council.StaffRefusal.NOT_LINKED
        return staff_views.decision_refusal_text(_, ctx.calendar, refusal)
    if state.motif_too_long:
        return _("Motif trop long : 2000 caractères au plus. Raccourcissez-le.")
    if state.motif_missing:
        return _(
            "La décision diffère de la demande de la famille : écrivez d'abord le motif, "
            "dans un message."
        )
    return None


def _decision_screen(ctx: AppContext, state: decisions.DecisionState) -> Screen:
    if state.saved is not None:
        return staff_views.decision_saved_screen(state, ctx.calendar)
    return staff_views.decision_screen(state)


# --- Free text answering a prompt -----------------------------------------------------------


async def on_awaited_text(update: Update, context: Context, awaiting: str) -> bool:
    """The message after [💬] or a decision that needs a motif. False when `awaiting` is
    none of ours (the caller then answers as for any text)."""
    ctx = app_ctx(context)
    message, chat = update.effective_message, update.effective_chat
    assert message is not None and chat is not None
    text = message.text or ""
    if council.parse_awaiting_comment(awaiting) is not None:
        entry = await council.set_comment(ctx, chat.id, text)
        if entry is None:
            return False
        alert = _entry_alert(update, ctx, entry)
        await send(update, Screen(alert) if alert else _entry_screen(ctx, entry))
        return True
    if decisions.parse_awaiting_motif(awaiting) is not None:
        state = await decisions.set_motif(ctx, chat.id, text)
        if state is None:
            return False
        alert = _decision_alert(update, ctx, state)
        await send(update, Screen(alert) if alert else _decision_screen(ctx, state))
        return True
    return False
