"""Acknowledging the council's avis, responding to its propositions, and appealing."""

from __future__ import annotations

from telegram import Update

from tso_bot.bot import answer_views
from tso_bot.bot.callbacks import parse_answer, parse_appeal
from tso_bot.bot.common import Context, answer_stale, app_ctx, locale_for, query_chat_id, show
from tso_bot.bot.views import denial_text
from tso_bot.domain.council import AnswerProblem
from tso_bot.domain.decision import AppealKind
from tso_bot.domain.permissions import Denial
from tso_bot.i18n import Translator, translator
from tso_bot.services import answers, appeals
from tso_bot.services.appeals import AppealProblem
from tso_bot.store import queries


def answer_problem_text(_: Translator, problem: AnswerProblem) -> str:
    return {
        AnswerProblem.ALREADY_ANSWERED: _(
            "La réponse a déjà été donnée pour cette étape : elle ne peut plus être changée."
        ),
        AnswerProblem.NO_COUNCIL_ANSWER: _(
            "Le conseil de classe n'a pas encore transmis sa réponse."
        ),
        AnswerProblem.NOT_AN_OPTION: _("Cette voie ne fait pas partie des réponses possibles."),
    }[problem]


def appeal_problem_text(_: Translator, problem: AppealProblem) -> str:
    return {
        AppealProblem.NOT_A_GUARDIAN: _(
            "Seuls les responsables légaux peuvent faire cette demande."
        ),
        AppealProblem.NO_APPEAL_OPEN: _(
            "Aucune décision ne peut faire l'objet d'un appel pour ce dossier."
        ),
        AppealProblem.TOO_LATE: _("Le délai d'appel est passé."),
        AppealProblem.ALREADY: _("La demande a déjà été transmise au chef d'établissement."),
    }[problem]


async def on_answer_button(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None
    assert query.data is not None
    ctx = app_ctx(context)
    action = parse_answer(query.data)
    if action is None:
        await answer_stale(update, query)
        return
    chat_id = query_chat_id(query)
    if action.op == "ok":
        result = await answers.answer(ctx, chat_id, action.pupil_id, action.phase, action.voie)
    else:
        result = await answers.check(ctx, chat_id, action.pupil_id, action.phase, action.voie)
    view = result.view
    _ = translator(view.viewer.locale if view else locale_for(update))
    if view is None or result.denial is not None:
        await query.answer(
            denial_text(
                _,
                ctx.calendar,
                view,
                action.phase.answer_step,
                result.denial or Denial.NOT_LINKED,
            ),
            show_alert=True,
        )
        return
    if result.problem is not None and not (
        action.op == "open" and result.problem is AnswerProblem.NOT_AN_OPTION
    ):
        await query.answer(answer_problem_text(_, result.problem), show_alert=True)
        return
    await query.answer()
    if action.op == "open":
        await show(query, answer_views.answer_screen(view, action.phase))
    elif action.op == "pick":
        await show(query, answer_views.answer_confirm(view, action.phase, action.voie))
    else:
        assert result.at is not None
        async with ctx.db.transaction() as s:
            chefs = await queries.chefs(s)
        await show(
            query,
            answer_views.answer_done(
                view, action.phase, action.voie, result.at, ctx.calendar, chefs
            ),
        )


async def on_appeal_button(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None
    assert query.data is not None
    ctx = app_ctx(context)
    action = parse_appeal(query.data)
    if action is None:
        await answer_stale(update, query)
        return
    kind = AppealKind(action.kind)
    if action.op == "ok":
        result = await appeals.appeal(ctx, query_chat_id(query), action.pupil_id, kind)
    else:
        result = await appeals.check(ctx, query_chat_id(query), action.pupil_id)
    view = result.view
    _ = translator(view.viewer.locale if view else locale_for(update))
    if view is None or result.problem is not None:
        await query.answer(
            appeal_problem_text(_, result.problem or AppealProblem.NOT_A_GUARDIAN), show_alert=True
        )
        return
    await query.answer()
    if action.op == "ask":
        await show(query, answer_views.appeal_confirm(view, kind))
    else:
        assert result.at is not None
        await show(query, answer_views.appeal_done(view, result.at, ctx.calendar))
