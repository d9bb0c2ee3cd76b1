"""Screens for the council's answers, the family's answer, the decision and the appeal."""

from __future__ import annotations

from datetime import datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from tso_bot.bot.callbacks import AnswerAction, AppealAction, DossierAction
from tso_bot.bot.screen import Screen, button
from tso_bot.domain.calendar import SchoolCalendar
from tso_bot.domain.decision import AppealKind
from tso_bot.domain.phases import Phase
from tso_bot.domain.voies import Voie
from tso_bot.i18n import Translator, format_date, format_datetime, translator
from tso_bot.notify.messages.council import council_lines, decision_label
from tso_bot.services.dossier import DossierView
from tso_bot.store.models import Person


def _lines(view: DossierView, phase: Phase) -> list[list[object]]:
    council = view.council[phase]
    return [[x.voie.value, x.avis.value, x.comment] for x in council.lines]


def council_title(_: Translator, phase: Phase) -> str:
    if phase is Phase.PROVISOIRE:
        return _("<b>Avis provisoire du conseil de classe</b> :")
    return _("<b>Propositions du conseil de classe</b> :")


def answer_status(_: Translator, cal: SchoolCalendar, view: DossierView, phase: Phase) -> str:
    given = view.answers.get(phase)
    if given is None:
        return ""
    names = {"by": given.by.full_name, "when": format_datetime(given.at, cal.timezone, _.locale)}
    if given.accepted is not None:
        return _(
            "Réponse de la famille ({by}, le {when}) : <b>{voie}</b> acceptée.",
            voie=_(given.accepted.label),
            **names,
        )
    if phase is Phase.PROVISOIRE:
        return _("Réponse de la famille ({by}, le {when}) : aucune voie acceptée.", **names)
    return _("Réponse de la famille ({by}, le {when}) : désaccord.", **names)


def council_section(_: Translator, cal: SchoolCalendar, view: DossierView, phase: Phase) -> str:
    text = council_title(_, phase) + "\n" + council_lines(_, _lines(view, phase))
    status = answer_status(_, cal, view, phase)
    return text + ("\n" + status if status else "")


def decision_section(_: Translator, view: DossierView, cal: SchoolCalendar, now: datetime) -> str:
    decision = view.decision
    assert decision is not None
    parts = [
        _(
            "<b>Décision d'orientation</b> : {decision}.",
            decision=decision_label(_, decision.decision),
        )
    ]
    if decision.motif:
        parts.append(_("Motif : {motif}", motif=decision.motif))
    if view.appeal is not None:
        parts.append(
            _(
                "Demande transmise au chef d'établissement le {when}.",
                when=format_datetime(view.appeal.at, cal.timezone, _.locale),
            )
        )
    elif decision.appeal_deadline is not None:
        deadline = format_date(decision.appeal_deadline.astimezone(cal.timezone), _.locale)
        if now <= decision.appeal_deadline:
            parts.append(
                _(
                    "Vous pouvez faire appel, ou demander le maintien en 3e, jusqu'au "
                    "{deadline} inclus.",
                    deadline=deadline,
                )
            )
        else:
            parts.append(_("Le délai d'appel a pris fin le {deadline}.", deadline=deadline))
    return "\n".join(parts)


def _button(label: str, data: str) -> list[InlineKeyboardButton]:
    """A row of one button."""
    return [button(label, data)]


def answer_button(locale: str, phase: Phase, pupil_id: str) -> list[InlineKeyboardButton]:
    _p = translator(locale, html=False)
    label = (
        _p("📝 Accuser réception de l'avis")
        if phase is Phase.PROVISOIRE
        else _p("📝 Répondre aux propositions")
    )
    return _button(label, AnswerAction(phase, "open", pupil_id).encode())


def appeal_buttons(locale: str, pupil_id: str) -> list[InlineKeyboardButton]:
    _p = translator(locale, html=False)
    return [
        InlineKeyboardButton(
            _p("⚖️ Je fais appel"), callback_data=AppealAction("ask", pupil_id, "appel").encode()
        ),
        InlineKeyboardButton(
            _p("🏫 Je demande le maintien"),
            callback_data=AppealAction("ask", pupil_id, "maintien").encode(),
        ),
    ]


def _refuse_label(_p: Translator, phase: Phase) -> str:
    if phase is Phase.PROVISOIRE:
        return _p("❌ Je n'accepte aucune de ces voies")
    return _p("❌ Je suis en désaccord")


def answer_screen(view: DossierView, phase: Phase) -> Screen:
    _ = translator(view.viewer.locale)
    _p = translator(view.viewer.locale, html=False)
    pupil = view.pupil
    intro = (
        _("Accusé de réception pour {pupil}.", pupil=pupil.full_name)
        if phase is Phase.PROVISOIRE
        else _("Réponse aux propositions pour {pupil}.", pupil=pupil.full_name)
    )
    text = "\n\n".join(
        (
            intro,
            council_title(_, phase) + "\n" + council_lines(_, _lines(view, phase)),
            _(
                "Choisissez une voie à accepter, ou refusez-les toutes. L'un ou l'autre des "
                "responsables répond, une seule fois."
            ),
        )
    )
    rows = [
        _button(
            _p("✅ Accepter : {voie}", voie=_p(v.label)),
            AnswerAction(phase, "pick", pupil.id, v).encode(),
        )
        for v in view.council[phase].options()
    ]
    rows.append(_button(_refuse_label(_p, phase), AnswerAction(phase, "pick", pupil.id).encode()))
    rows.append(_button(_p("↩️ Retour"), DossierAction("home", pupil.id).encode()))
    return Screen(text, InlineKeyboardMarkup(rows))


def answer_confirm(view: DossierView, phase: Phase, voie: Voie | None) -> Screen:
    _ = translator(view.viewer.locale)
    _p = translator(view.viewer.locale, html=False)
    if voie is not None:
        text = _(
            "Vous acceptez pour {pupil} : <b>{voie}</b>.",
            pupil=view.pupil.full_name,
            voie=_(voie.label),
        )
    elif phase is Phase.PROVISOIRE:
        text = _(
            "Vous n'acceptez aucune des voies proposées pour {pupil}.", pupil=view.pupil.full_name
        )
    else:
        text = _(
            "Vous indiquez votre désaccord avec les propositions pour {pupil}.",
            pupil=view.pupil.full_name,
        )
    text += "\n\n" + _("Cette réponse ne pourra plus être changée. Confirmer ?")
    rows = [
        [
            InlineKeyboardButton(
                _p("✅ Valider"),
                callback_data=AnswerAction(phase, "ok", view.pupil.id, voie).encode(),
            ),
            InlineKeyboardButton(
                _p("↩️ Retour"), callback_data=AnswerAction(phase, "open", view.pupil.id).encode()
            ),
        ],
    ]
    return Screen(text, InlineKeyboardMarkup(rows))


def answer_done(
    view: DossierView,
    phase: Phase,
    voie: Voie | None,
    at: datetime,
    cal: SchoolCalendar,
    chefs: list[Person],
) -> Screen:
    _ = translator(view.viewer.locale)
    _p = translator(view.viewer.locale, html=False)
    when = format_datetime(at, cal.timezone, _.locale)
    parts = [_("✅ Réponse enregistrée le {when}.", when=when)]
    if voie is not None:
        parts.append(_("Voie acceptée : <b>{voie}</b>.", voie=_(voie.label)))
    elif phase is Phase.PROVISOIRE:
        parts.append(
            _(
                "Vous n'avez accepté aucune voie : rapprochez-vous du professeur "
                "principal, qui est prévenu."
            )
            + pp_line(_, view)
        )
    else:
        chef = ", ".join(c.full_name for c in chefs)
        parts.append(
            _("Le chef d'établissement vous recevra avant de prendre sa décision.")
            + ("\n" + _("Chef d'établissement : {names}", names=chef) if chef else "")
        )
    parts.append(_("Un courriel récapitulatif est envoyé aux responsables légaux."))
    rows = [_button(_p("📁 Voir le dossier"), DossierAction("home", view.pupil.id).encode())]
    return Screen("\n\n".join(parts), InlineKeyboardMarkup(rows))


def appeal_confirm(view: DossierView, kind: AppealKind) -> Screen:
    _ = translator(view.viewer.locale)
    _p = translator(view.viewer.locale, html=False)
    if kind is AppealKind.APPEL:
        text = _(
            "Vous allez faire appel de la décision d'orientation de {pupil}. Le chef "
            "d'établissement en sera informé. Confirmer ?",
            pupil=view.pupil.full_name,
        )
    else:
        text = _(
            "Vous allez demander le maintien de {pupil} en 3e. Le chef d'établissement en "
            "sera informé. Confirmer ?",
            pupil=view.pupil.full_name,
        )
    rows = [
        [
            InlineKeyboardButton(
                _p("✅ Valider"), callback_data=AppealAction("ok", view.pupil.id, kind).encode()
            ),
            InlineKeyboardButton(
                _p("↩️ Retour"), callback_data=DossierAction("home", view.pupil.id).encode()
            ),
        ]
    ]
    return Screen(text, InlineKeyboardMarkup(rows))


def appeal_done(view: DossierView, at: datetime, cal: SchoolCalendar) -> Screen:
    _ = translator(view.viewer.locale)
    _p = translator(view.viewer.locale, html=False)
    text = _(
        "✅ C'est transmis au chef d'établissement le {when}. Un courriel récapitulatif "
        "est envoyé aux responsables légaux.",
        when=format_datetime(at, cal.timezone, _.locale),
    )
    rows = [_button(_p("📁 Voir le dossier"), DossierAction("home", view.pupil.id).encode())]
    return Screen(text, InlineKeyboardMarkup(rows))


def pp_line(_: Translator, view: DossierView) -> str:
    """The PP's name(s) on a line of its own, when the staff file gives them."""
    if not view.pp:
        return ""
    return "\n" + _("Professeur principal : {names}", names=", ".join(p.full_name for p in view.pp))
