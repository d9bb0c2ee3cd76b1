"""Screens: (text, keyboard) for each thing the bot shows. Pure: no I/O.

Message text is Telegram HTML, with every name escaped by the translator (`_`); button
labels are plain text (`_p`), since Telegram does not parse them.
"""

from __future__ import annotations

from datetime import datetime

from telegram import InlineKeyboardButton

from tso_bot.bot import answer_views
from tso_bot.bot.answer_views import pp_line
from tso_bot.bot.callbacks import DossierAction, EditAction
from tso_bot.bot.screen import Screen, button, keyboard, school_time
from tso_bot.domain.calendar import SchoolCalendar, Step, Window, WindowState
from tso_bot.domain.permissions import (
    Denial,
    Role,
    may_answer_council,
    may_enter_choices,
    may_flag_disagreement,
)
from tso_bot.domain.phases import Phase, phase_of
from tso_bot.domain.ranking import Ranking
from tso_bot.domain.voies import Voie
from tso_bot.i18n import LANGUAGES, Translator, format_date, translator
from tso_bot.services.appeals import appeal_problem
from tso_bot.services.dossier import DossierView, ValidatedChoices
from tso_bot.store.models import Person, Pupil


def ranked(_: Translator, ranking: Ranking) -> str:
    if not ranking.voies:
        return _("<i>Aucune voie choisie pour l'instant.</i>")
    return "\n".join(f"{i}. {_(v.label)}" for i, v in enumerate(ranking.voies, 1))


def window_span(_: Translator, cal: SchoolCalendar, window: Window) -> str:
    """« du lundi 26 février 2024 au lundi 11 mars 2024 inclus » for whole days, as the
    school's letter says it; with the times otherwise."""
    if window.whole_days(cal.timezone):
        return _(
            "du {opens} au {closes} inclus",
            opens=format_date(window.opens.astimezone(cal.timezone), _.locale),
            closes=format_date(window.closes.astimezone(cal.timezone), _.locale),
        )
    return _(
        "du {opens} au {closes}",
        opens=school_time(cal, window.opens, _.locale),
        closes=school_time(cal, window.closes, _.locale),
    )


def closing_time(_: Translator, cal: SchoolCalendar, step: Step) -> str:
    """When the step's window closes, in school time; a dash if it has no dates yet."""
    window = cal.window(step)
    return school_time(cal, window.closes, _.locale) if window else "—"


def calendar_lines(_: Translator, cal: SchoolCalendar, now: datetime) -> str:
    lines = []
    for step, window in cal.windows.items():
        state = window.state(now)
        mark = {WindowState.OPEN: "▶️", WindowState.CLOSED: "✔️", WindowState.NOT_YET: "⏳"}[state]
        line = _(
            "{mark} {step} : {span}",
            mark=mark,
            step=_(step.label),
            span=window_span(_, cal, window),
        )
        lines.append(f"<b>{line}</b>" if state is WindowState.OPEN else line)
    return "\n".join(lines)


def window_denial(_: Translator, cal: SchoolCalendar, step: Step, denial: Denial) -> str:
    window = cal.window(step)
    if window is None:
        return _("Les dates de cette étape n'ont pas encore été fixées par l'établissement.")
    dates = {
        "step": _(step.label),
        "opens": school_time(cal, window.opens, _.locale),
        "closes": school_time(cal, window.closes, _.locale),
    }
    if denial is Denial.NOT_YET_OPEN:
        return _(
            "⏳ Cette étape n'est pas encore ouverte : « {step} », du {opens} au {closes}.", **dates
        )
    return _(
        "🔒 Cette étape est fermée depuis le {closes} : « {step} » était ouverte du {opens} "
        "au {closes}.",
        **dates,
    )


def denial_text(
    _: Translator, cal: SchoolCalendar, view: DossierView | None, step: Step, denial: Denial
) -> str:
    if denial in (Denial.NOT_YET_OPEN, Denial.CLOSED):
        return window_denial(_, cal, step, denial)
    if denial is Denial.NOT_ENTERING and view is not None and view.entering is not None:
        return _(
            "La saisie pour {pupil} a été faite par {entering}. Un seul et même parent "
            "peut saisir et modifier : pour un changement, adressez-vous à {entering}.",
            pupil=view.pupil.full_name,
            entering=view.entering.full_name,
        )
    if denial is Denial.READ_ONLY:
        return _("Ce dossier est en lecture seule pour vous.")
    if denial is Denial.ENTERING_CANNOT_DISAGREE:
        return _("Ce bouton est réservé au responsable qui n'a pas fait la saisie.")
    return _("Ce bouton ne correspond à aucun dossier que vous pouvez consulter.")


def _status_line(
    _: Translator, cal: SchoolCalendar, phase: Phase, v: ValidatedChoices | None
) -> str:
    title = _(phase.choices_label).capitalize()
    if v is None:
        return _("<b>{title}</b> : pas encore de saisie.", title=title)
    return (
        _(
            "<b>{title}</b> — saisie validée par {by} le {when} :",
            title=title,
            by=v.by.full_name,
            when=school_time(cal, v.at, _.locale),
        )
        + "\n"
        + ranked(_, v.ranking)
    )


def _guidance(_: Translator, cal: SchoolCalendar, view: DossierView, now: datetime) -> str:
    viewer, pupil = view.viewer, view.pupil
    if viewer.role == Role.PUPIL:
        return _(
            "Tu peux suivre ici ton dossier ; ce sont tes responsables légaux qui font la saisie."
        )
    if viewer.role != Role.GUARDIAN:
        return _("Consultation en lecture seule.")
    step = cal.current_step(now)
    if step is None:
        nxt = cal.next_step(now)
        if nxt is None:
            return _("Aucune étape n'est ouverte en ce moment.")
        window = cal.windows[nxt]
        return _(
            "Prochaine étape : « {step} », à partir du {opens}.",
            step=_(nxt.label),
            opens=school_time(cal, window.opens, _.locale),
        )
    window = cal.windows[step]
    closes = school_time(cal, window.closes, _.locale)
    if step in (Step.INTENTIONS, Step.CHOICES):
        if view.entering is not None and view.entering.id != viewer.id:
            return _(
                "La saisie a été faite par {entering} : vous la consultez en lecture seule. "
                "Pour un changement, adressez-vous à {entering}. En cas de désaccord, "
                "rapprochez-vous du professeur principal.",
                entering=view.entering.full_name,
            ) + pp_line(_, view)
        return _(
            "À faire maintenant : classer de 1 à 3 voies pour {pupil} et valider, "
            "avant le {closes}.",
            pupil=pupil.prenom,
            closes=closes,
        )
    phase = phase_of(step)
    if phase in view.answers:
        return _("C'est fait pour cette étape : la réponse de la famille est enregistrée.")
    if phase not in view.council:
        return _(
            "Étape en cours : « {step} », jusqu'au {closes}. Le conseil de classe n'a pas "
            "encore transmis sa réponse : vous serez prévenu.",
            step=_(step.label),
            closes=closes,
        )
    if step is Step.ACK:
        return _(
            "À faire maintenant : accuser réception de l'avis du conseil de classe, "
            "avant le {closes}.",
            closes=closes,
        )
    return _(
        "À faire maintenant : répondre aux propositions du conseil de classe, avant le {closes}.",
        closes=closes,
    )


def dossier_screen(view: DossierView, cal: SchoolCalendar, now: datetime) -> Screen:
    _ = translator(view.viewer.locale)
    _p = translator(view.viewer.locale, html=False)
    pupil = view.pupil
    guardians = ", ".join(g.full_name for g in view.guardians)
    parts = [
        _(
            "📁 <b>Dossier d'orientation de {pupil}</b> ({classe})",
            pupil=pupil.full_name,
            classe=pupil.classe,
        ),
        _("Responsables légaux : {names}", names=guardians),
        _("📅 <b>Calendrier</b>") + "\n" + calendar_lines(_, cal, now),
    ]
    for phase in Phase:
        if phase in view.choices or cal.state(phase.entry_step, now) is not WindowState.NOT_YET:
            parts.append(_status_line(_, cal, phase, view.choices.get(phase)))
        if phase in view.council:
            parts.append(answer_views.council_section(_, cal, view, phase))
    if view.decision is not None:
        parts.append(answer_views.decision_section(_, view, cal, now))
    parts.append(_guidance(_, cal, view, now))
    rows: list[list[InlineKeyboardButton]] = []
    rel = view.relation
    for phase in Phase:
        if (
            phase in view.council
            and phase not in view.answers
            and (may_answer_council(rel, cal, phase.answer_step, now) is None)
        ):
            rows.append(answer_views.answer_button(view.viewer.locale, phase, pupil.id))
    if appeal_problem(rel, view, now) is None:
        rows.append(answer_views.appeal_buttons(view.viewer.locale, pupil.id))
    for phase in Phase:
        if may_enter_choices(rel, cal, phase.entry_step, now) is None:
            label = (
                _p("✏️ Modifier les {what}", what=_p(phase.choices_label))
                if phase in view.choices
                else _p("✏️ Saisir les {what}", what=_p(phase.choices_label))
            )
            rows.append([button(label, EditAction(phase, "open", pupil.id).encode())])
    if view.choices and may_flag_disagreement(rel) is None:
        rows.append(
            [button(_p("🙋 Je ne suis pas d'accord"), DossierAction("dis", pupil.id).encode())]
        )
    if len(view.pupils) > 1:
        rows.append([button(_p("👨‍👩‍👧 Changer d'enfant"), DossierAction("pick").encode())])
    return Screen("\n\n".join(parts), keyboard(rows))


def child_picker(viewer: Person, pupils: tuple[Pupil, ...]) -> Screen:
    _ = translator(viewer.locale)
    _p = translator(viewer.locale, html=False)
    rows = [
        [
            button(
                _p("{pupil} ({classe})", pupil=p.full_name, classe=p.classe),
                DossierAction("sel", p.id).encode(),
            )
        ]
        for p in pupils
    ]
    return Screen(_("Quel dossier voulez-vous consulter ?"), keyboard(rows))


def editor_screen(
    viewer: Person, pupil: Pupil, phase: Phase, ranking: Ranking, cal: SchoolCalendar
) -> Screen:
    _ = translator(viewer.locale)
    _p = translator(viewer.locale, html=False)
    closes = closing_time(_, cal, phase.entry_step)
    text = "\n\n".join(
        (
            _(
                "✏️ <b>{what} de {pupil}</b>",
                what=_(phase.choices_label).capitalize(),
                pupil=pupil.full_name,
            ),
            _("Choisissez de 1 à 3 voies, par ordre de préférence (1 = la préférée)."),
            _("<b>Votre classement :</b>") + "\n" + ranked(_, ranking),
            _(
                "Touchez ➕ pour ajouter une voie, ⬆️ pour la monter d'un rang, ✖️ pour la "
                "retirer. Puis « Valider ». Fermeture : {closes}.",
                closes=closes,
            ),
        )
    )

    def act(op: str, voie: Voie | None = None) -> str:
        return EditAction(phase, op, pupil.id, voie).encode()

    rows = [[button(f"➕ {_p(v.label)}", act("add", v))] for v in ranking.available()]
    for rank, voie in enumerate(ranking.voies, 1):
        row = [button(_p("✖️ Retirer {rank}", rank=rank), act("rm", voie))]
        if rank > 1:
            row.insert(0, button(_p("⬆️ Monter {rank}", rank=rank), act("up", voie)))
        rows.append(row)
    last = [button(_p("↩️ Annuler"), act("x"))]
    if ranking.can_validate:
        last.insert(0, button(_p("✅ Valider"), act("ok")))
    rows.append(last)
    return Screen(text, keyboard(rows))


def validated_screen(
    viewer: Person, pupil: Pupil, phase: Phase, v: ValidatedChoices, cal: SchoolCalendar
) -> Screen:
    _ = translator(viewer.locale)
    _p = translator(viewer.locale, html=False)
    closes = closing_time(_, cal, phase.entry_step)
    text = "\n\n".join(
        (
            _(
                "✅ <b>Saisie validée</b> : {what} de {pupil}, le {when} (version {version}) :",
                what=_(phase.choices_label).capitalize(),
                pupil=pupil.full_name,
                when=school_time(cal, v.at, _.locale),
                version=v.version,
            )
            + "\n"
            + ranked(_, v.ranking),
            _(
                "Un courriel récapitulatif est envoyé aux responsables légaux. Vous pouvez encore "
                "modifier jusqu'au {closes}.",
                closes=closes,
            ),
        )
    )
    rows = [[button(_p("📁 Voir le dossier"), DossierAction("home", pupil.id).encode())]]
    return Screen(text, keyboard(rows))


def ranking_problem(_: Translator, reason: str) -> str:
    messages = {
        "duplicate": _("Cette voie est déjà dans votre classement."),
        "too_many": _("Trois voies au plus : retirez-en une d'abord."),
        "absent": _("Cette voie n'est pas dans votre classement."),
        "empty": _("Choisissez au moins une voie avant de valider."),
    }
    return messages.get(reason, _("Cette action n'est pas possible."))


def disagreement_confirm(viewer: Person, pupil: Pupil) -> Screen:
    _ = translator(viewer.locale)
    _p = translator(viewer.locale, html=False)
    text = _(
        "Vous allez signaler au professeur principal que vous n'êtes pas d'accord avec "
        "la saisie faite pour {pupil}. Rien d'autre ne change dans le dossier. "
        "Confirmer ?",
        pupil=pupil.full_name,
    )
    rows = [
        [
            button(_p("🙋 Oui, signaler mon désaccord"), DossierAction("dis!", pupil.id).encode()),
            button(_p("↩️ Annuler"), DossierAction("home", pupil.id).encode()),
        ]
    ]
    return Screen(text, keyboard(rows))


def disagreement_done(viewer: Person, view: DossierView, pp_reached: bool) -> Screen:
    _ = translator(viewer.locale)
    if pp_reached:
        text = _(
            "C'est noté : le professeur principal est prévenu de votre désaccord et pourra "
            "vous recevoir avec l'autre responsable."
        )
    else:
        text = _(
            "C'est noté dans le dossier. Contactez aussi le professeur principal par le "
            "carnet de liaison ou le secrétariat."
        )
    return Screen(text + pp_line(_, view))


def language_picker(locale: str) -> Screen:
    _ = translator(locale)
    rows = [[button(name, f"l:{code}")] for code, name in LANGUAGES.items()]
    return Screen(_("Choisissez votre langue :"), keyboard(rows))
