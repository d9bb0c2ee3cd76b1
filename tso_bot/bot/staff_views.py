"""Staff screens: the home (a class, or the school), the council entry, the decision.

Pure: (text, keyboard) from what the services return. Made for a phone held during the
class council: one message edited in place, the pupil's line numbers on the buttons, the
long voie labels in the text above them.
"""

from __future__ import annotations

import html
from datetime import datetime

from tso_bot.bot.callbacks import DECISION_MAINTIEN, CouncilAction, DecisionAction
from tso_bot.bot.screen import Screen, button, keyboard, school_time
from tso_bot.domain.calendar import SchoolCalendar
from tso_bot.domain.council import Avis, CouncilLine, CouncilProblem
from tso_bot.domain.permissions import Role, StaffRefusal
from tso_bot.domain.phases import Phase
from tso_bot.domain.voies import Voie
from tso_bot.i18n import Translator, format_date, translator
from tso_bot.notify.messages.council import AVIS_MARKS, council_lines, decision_label
from tso_bot.services.council import (
    CouncilStatus,
    DraftLine,
    Entry,
    Overview,
    PupilLine,
    class_key,
    open_council_phase,
)
from tso_bot.services.decisions import DecisionState, Pending
from tso_bot.store.models import Person

_STATUS_MARKS = {
    CouncilStatus.TO_ENTER: "⏳",
    CouncilStatus.DRAFT: "📝",
    CouncilStatus.RECORDED: "✅",
    CouncilStatus.FAMILY_ANSWERED: "🔒",
    CouncilStatus.NO_REQUEST: "➖",
}
# Pupils whose council answer can be opened from a class list.
_OPENABLE = (CouncilStatus.TO_ENTER, CouncilStatus.DRAFT, CouncilStatus.RECORDED)


def _phase_title(_: Translator, phase: Phase) -> str:
    if phase is Phase.PROVISOIRE:
        return _("avis provisoire, sur les intentions")
    return _("propositions, sur les choix définitifs")


# --- Refusals -------------------------------------------------------------------------------


def council_refusal_text(
    _: Translator, cal: SchoolCalendar, refusal: StaffRefusal, phase: Phase | None
) -> str:
    """Why the council's answer cannot be entered (an alert: short)."""
    entry = cal.window(phase.entry_step) if phase else None
    answer = cal.window(phase.answer_step) if phase else None
    if refusal is StaffRefusal.NOT_YET and entry is not None:
        return _(
            "⏳ L'avis du conseil se saisit après la fermeture de la saisie des familles, "
            "le {closes}.",
            closes=school_time(cal, entry.closes, _.locale),
        )
    if refusal is StaffRefusal.CLOSED and answer is not None:
        return _(
            "🔒 Trop tard : la réponse des familles s'est terminée le {closes}.",
            closes=school_time(cal, answer.closes, _.locale),
        )
    messages = {
        StaffRefusal.NOT_YET: _(
            "Les dates de cette étape n'ont pas encore été fixées par l'établissement."
        ),
        StaffRefusal.READ_ONLY: _(
            "L'avis du conseil de classe est saisi par le professeur principal de la classe "
            "ou le chef d'établissement."
        ),
        StaffRefusal.OTHER_CLASS: _("Cet élève n'est pas dans votre classe."),
        StaffRefusal.NO_REQUEST: _(
            "La famille n'a validé aucune voie : il n'y a rien à quoi répondre."
        ),
        StaffRefusal.FAMILY_ANSWERED: _(
            "La famille a déjà répondu à l'avis du conseil : il ne peut plus changer."
        ),
        StaffRefusal.RELEASED: _(
            "L'avis a déjà été communiqué à la famille : il ne peut plus changer."
        ),
    }
    return messages.get(refusal, _("Ce bouton n'est plus valable."))


def decision_refusal_text(_: Translator, cal: SchoolCalendar, refusal: StaffRefusal) -> str:
    window = cal.window(Phase.DEFINITIVE.entry_step)
    if refusal is StaffRefusal.NOT_YET and window is not None:
        return _(
            "⏳ La décision se saisit après la fermeture des choix définitifs, le {closes}.",
            closes=school_time(cal, window.closes, _.locale),
        )
    messages = {
        StaffRefusal.NOT_YET: _(
            "Les dates de cette étape n'ont pas encore été fixées par l'établissement."
        ),
        StaffRefusal.READ_ONLY: _(
            "La décision d'orientation est réservée au chef d'établissement."
        ),
        StaffRefusal.ALREADY_DECIDED: _(
            "La décision est déjà enregistrée : elle ne peut plus changer."
        ),
    }
    return messages.get(refusal, _("Ce bouton n'est plus valable."))


def council_problem_text(_: Translator, entry: Entry) -> str:
    if entry.comment_too_long:
        return _("Commentaire trop long : 2000 caractères au plus. Raccourcissez-le.")
    missing = [v for v, p in entry.problems if p is CouncilProblem.MISSING and v is not None]
    if missing:
        ranks = entry.facts.requested.voies if entry.facts else ()
        numbers = ", ".join(str(ranks.index(v) + 1) for v in missing if v in ranks)
        return _(
            "Avant d'enregistrer, répondez Oui ou Non pour chaque voie demandée : "
            "il manque la ou les voies {numbers}.",
            numbers=numbers,
        )
    kinds = {p for _v, p in entry.problems}
    if CouncilProblem.PROPOSED_REQUESTED in kinds:
        return _("Cette voie a été demandée par la famille : répondez Oui ou Non.")
    return _("Cette voie n'a pas été demandée par la famille : proposez-la plutôt.")


# --- Home and class lists -------------------------------------------------------------------


def _period_line(_: Translator, cal: SchoolCalendar, now: datetime) -> str:
    """Which council can be entered now, or when the next one can."""
    phase = open_council_phase(cal, now)
    if phase is not None:
        answer = cal.window(phase.answer_step)
        closes = school_time(cal, answer.closes, _.locale) if answer else "—"
        return _(
            "🗳️ Saisie de l'avis du conseil de classe ({what}) : ouverte jusqu'au {closes}.",
            what=_phase_title(_, phase),
            closes=closes,
        )
    upcoming = [
        (w.closes, p)
        for p in Phase
        if (w := cal.window(p.entry_step)) is not None and w.closes >= now
    ]
    if upcoming:
        after, phase = min(upcoming)
        return _(
            "Pas de saisie d'avis en ce moment. Prochaine : {what}, après le {closes}.",
            what=_phase_title(_, phase),
            closes=school_time(cal, after, _.locale),
        )
    return _("Pas de saisie d'avis en ce moment.")


def _role_label(_: Translator, person: Person) -> str:
    if person.role == Role.PP:
        return _("professeur principal de la {classe}", classe=person.classe or "")
    if person.role == Role.CHEF:
        return _("chef d'établissement")
    return _("secrétariat")


def _status_label(_: Translator, status: CouncilStatus | None) -> str:
    labels = {
        CouncilStatus.TO_ENTER: _("avis à saisir"),
        CouncilStatus.DRAFT: _("saisie commencée"),
        CouncilStatus.RECORDED: _("avis enregistré"),
        CouncilStatus.FAMILY_ANSWERED: _("la famille a répondu"),
        CouncilStatus.NO_REQUEST: _("aucune voie demandée"),
    }
    return labels.get(status, "") if status else ""


def home_screen(ov: Overview, cal: SchoolCalendar, now: datetime) -> Screen:
    """A PP's home is their class; the chef's and the secrétariat's, the school's classes."""
    assert ov.staff is not None
    if ov.classe is not None:
        return class_screen(ov, cal, now)
    _ = translator(ov.staff.locale)
    _p = translator(ov.staff.locale, html=False)
    parts = [
        _(
            "🏫 <b>{school}</b> — {name}, {role}",
            school=cal.school_name,
            name=ov.staff.full_name,
            role=_role_label(_, ov.staff),
        ),
        _period_line(_, cal, now),
    ]
    rows = []
    for c in ov.classes:
        if ov.phase is not None:
            label = _p(
                "{classe} — avis : {recorded}/{pupils}",
                classe=c.classe,
                recorded=c.recorded,
                pupils=c.pupils,
            )
        else:
            label = _p("{classe} — {pupils} élève(s)", classe=c.classe, pupils=c.pupils)
        rows.append([button(label, CouncilAction("l", class_key=c.key).encode())])
    if ov.decisions_open:
        label = _p("⚖️ Décisions à prendre ({count})", count=ov.decisions_pending)
        rows.append([button(label, DecisionAction("t").encode())])
    if not ov.classes:
        parts.append(_("Aucun élève n'est encore importé."))
    return Screen("\n\n".join(parts), keyboard(rows))


def _pupil_line(_: Translator, x: PupilLine) -> str:
    if x.status is None:
        return "• " + html.escape(x.pupil.full_name, quote=False)  # names come from files
    status = _("{pupil} — {status}", pupil=x.pupil.full_name, status=_status_label(_, x.status))
    return f"{_STATUS_MARKS[x.status]} {status}"


def class_screen(ov: Overview, cal: SchoolCalendar, now: datetime) -> Screen:
    assert ov.staff is not None and ov.classe is not None
    _ = translator(ov.staff.locale)
    _p = translator(ov.staff.locale, html=False)
    title = _(
        "👩‍🏫 <b>Classe {classe}</b> — {count} élève(s)", classe=ov.classe, count=len(ov.pupils)
    )
    if ov.staff.role == Role.PP:
        title = _("Bonjour {name}.", name=ov.staff.full_name) + "\n" + title
    lines = [_pupil_line(_, x) for x in ov.pupils]
    parts = [title, _period_line(_, cal, now), "\n".join(lines) or _("Aucun élève.")]
    rows = []
    if ov.may_record and ov.phase is not None:
        parts.append(_("Touchez un élève pour saisir l'avis du conseil."))
        for x in ov.pupils:
            if x.status in _OPENABLE:
                mark = _STATUS_MARKS[x.status]
                data = CouncilAction("o", ov.phase, x.pupil.id).encode()
                rows.append([button(f"{mark} {x.pupil.full_name}", data)])
    if ov.staff.role != Role.PP:
        rows.append([button(_p("↩️ Retour"), CouncilAction("h").encode())])
    return Screen("\n\n".join(parts), keyboard(rows))


# --- The council entry screen ---------------------------------------------------------------


def _draft_line(_: Translator, number: int, voie: Voie, line: DraftLine) -> str:
    mark = _(AVIS_MARKS[line.avis]) if line.avis else _("⏳ à saisir")
    text = f"{number}. {_(voie.label)} : {mark}"
    if line.comment:
        text += " — " + _("« {comment} »", comment=line.comment)
    return text


def _numbered(entry: Entry) -> list[tuple[int, Voie, DraftLine]]:
    return [(i, v, d) for i, (v, d) in enumerate(entry.draft.items(), 1)]


def _release_line(_: Translator, cal: SchoolCalendar, phase: Phase, now: datetime) -> str:
    window = cal.window(phase.answer_step)
    if window is None or now >= window.opens:
        return _("La famille (les deux responsables et l'élève) le recevra dès l'enregistrement.")
    return _(
        "La famille (les deux responsables et l'élève) le recevra le {opens}.",
        opens=school_time(cal, window.opens, _.locale),
    )


def _entry_text(_: Translator, entry: Entry, cal: SchoolCalendar, now: datetime) -> str:
    assert entry.facts is not None
    pupil, requested = entry.facts.pupil, entry.facts.requested
    asked = "\n".join(f"{i}. {_(v.label)}" for i, v in enumerate(requested.voies, 1))
    answers = "\n".join(_draft_line(_, i, v, d) for i, v, d in _numbered(entry))
    return "\n\n".join(
        (
            _(
                "🗳️ <b>Conseil de classe — {pupil}</b> ({classe})\n{what}",
                pupil=pupil.full_name,
                classe=pupil.classe,
                what=_phase_title(_, entry.phase).capitalize(),
            ),
            _("<b>Demande de la famille :</b>") + "\n" + asked,
            _("<b>Avis du conseil :</b>") + "\n" + answers,
            _(
                "Oui ou Non pour chaque voie demandée (les numéros sont ceux de la liste), "
                "➕ pour proposer une autre voie, 💬 pour un commentaire. Puis « Enregistrer »."
            )
            + " "
            + _release_line(_, cal, entry.phase, now),
        )
    )


def entry_screen(entry: Entry, cal: SchoolCalendar, now: datetime) -> Screen:
    assert entry.staff is not None and entry.facts is not None
    _ = translator(entry.staff.locale)
    _p = translator(entry.staff.locale, html=False)
    pupil_id, phase = entry.facts.pupil.id, entry.phase
    requested = entry.facts.requested.voies

    def act(op: str, voie: Voie | None = None) -> str:
        return CouncilAction(op, phase, pupil_id, voie).encode()

    rows = []
    for number, voie, line in _numbered(entry):
        if voie in requested:
            yes = ("✅ " if line.avis is Avis.OUI else "") + _p("{n}. Oui", n=number)
            no = ("❌ " if line.avis is Avis.NON else "") + _p("{n}. Non", n=number)
            rows.append([button(yes, act("y", voie)), button(no, act("n", voie))])
            rows[-1].append(button(f"💬 {number}", act("m", voie)))
        else:
            withdraw = _p("✖️ Retirer {n}", n=number)
            rows.append([button(withdraw, act("p", voie)), button(f"💬 {number}", act("m", voie))])
    for voie in (v for v in Voie if v not in entry.draft):
        rows.append([button(_p("➕ Proposer : {voie}", voie=_p(voie.label)), act("p", voie))])
    back = CouncilAction("l", class_key=class_key(entry.facts.pupil.classe)).encode()
    rows.append([button(_p("✅ Enregistrer"), act("s")), button(_p("↩️ Retour"), back)])
    return Screen(_entry_text(_, entry, cal, now), keyboard(rows))


def comment_prompt(entry: Entry, cal: SchoolCalendar, now: datetime) -> Screen:
    """The entry screen, asking for the comment in the next message."""
    assert entry.staff is not None and entry.facts is not None and entry.awaiting is not None
    _ = translator(entry.staff.locale)
    _p = translator(entry.staff.locale, html=False)
    number = list(entry.draft).index(entry.awaiting) + 1
    prompt = _(
        "💬 <b>Écrivez maintenant, dans un message, le commentaire pour la voie {n}</b> "
        "({voie}). Envoyez « - » pour l'effacer.",
        n=number,
        voie=_(entry.awaiting.label),
    )
    cancel = CouncilAction("o", entry.phase, entry.facts.pupil.id).encode()
    markup = keyboard([[button(_p("↩️ Annuler"), cancel)]])
    return Screen(_entry_text(_, entry, cal, now) + "\n\n" + prompt, markup)


def _lines_param(lines: tuple[CouncilLine, ...]) -> list[list[object]]:
    return [[x.voie.value, x.avis.value, x.comment] for x in lines]


def _correctable(_: Translator, cal: SchoolCalendar, phase: Phase, now: datetime) -> str:
    """Until the family can see it, the answer may be corrected (the same entry screen)."""
    window = cal.window(phase.answer_step)
    if window is None or now >= window.opens:
        return ""
    return " " + _("Vous pouvez le corriger d'ici là.")


def saved_screen(entry: Entry, cal: SchoolCalendar, now: datetime) -> Screen:
    assert entry.staff is not None and entry.facts is not None and entry.saved is not None
    _ = translator(entry.staff.locale)
    _p = translator(entry.staff.locale, html=False)
    pupil = entry.facts.pupil
    text = "\n\n".join(
        (
            _(
                "✅ <b>Avis du conseil enregistré</b> pour {pupil} ({classe}) :",
                pupil=pupil.full_name,
                classe=pupil.classe,
            )
            + "\n"
            + council_lines(_, _lines_param(entry.saved)),
            _release_line(_, cal, entry.phase, now) + _correctable(_, cal, entry.phase, now),
        )
    )
    rows = []
    if entry.next_pupil is not None:
        label = _p("➡️ Élève suivant : {pupil}", pupil=entry.next_pupil.full_name)
        rows.append([button(label, CouncilAction("o", entry.phase, entry.next_pupil.id).encode())])
    back = CouncilAction("l", class_key=class_key(pupil.classe)).encode()
    rows.append([button(_p("↩️ Retour à la classe"), back)])
    return Screen(text, keyboard(rows))


# --- Decisions ------------------------------------------------------------------------------


def pending_screen(p: Pending) -> Screen:
    assert p.chef is not None
    _ = translator(p.chef.locale)
    _p = translator(p.chef.locale, html=False)
    text = _("⚖️ <b>Décisions à prendre</b> : {count} élève(s).", count=p.total)
    if p.pages > 1:
        text += " " + _("Page {page}/{pages}.", page=p.page + 1, pages=p.pages)
    rows = []
    for pupil, request in p.pupils:
        label = _p(
            "{pupil} ({classe}) — demande : {request}",
            pupil=pupil.full_name,
            classe=pupil.classe,
            request=request.value if request else "—",
        )
        rows.append([button(label, DecisionAction("o", pupil.id).encode())])
    pager = []
    if p.page > 0:
        pager.append(button("◀️", DecisionAction("t", page=p.page - 1).encode()))
    if p.page + 1 < p.pages:
        pager.append(button("▶️", DecisionAction("t", page=p.page + 1).encode()))
    rows += [pager, [button(_p("↩️ Retour"), CouncilAction("h").encode())]]
    return Screen(text, keyboard(rows))


def _response_line(_: Translator, state: DecisionState) -> str:
    assert state.facts is not None
    response = state.facts.response
    if response is None:
        return _("<b>Réponse de la famille :</b> pas de réponse.")
    if state.facts.accepted is None:
        return _("<b>Réponse de la famille :</b> désaccord avec les propositions.")
    return _(
        "<b>Réponse de la famille :</b> accord pour {voie}.", voie=_(state.facts.accepted.label)
    )


def _decision_text(_: Translator, state: DecisionState) -> str:
    assert state.facts is not None
    facts = state.facts
    choices = "\n".join(f"{i}. {_(v.label)}" for i, v in enumerate(facts.final_choices.voies, 1))
    council = council_lines(_, _lines_param(facts.council))
    request = _(facts.request.label) if facts.request else _("aucune")
    parts = [
        _(
            "⚖️ <b>Décision d'orientation — {pupil}</b> ({classe})",
            pupil=facts.pupil.full_name,
            classe=facts.pupil.classe,
        ),
        _("<b>Choix définitifs :</b>") + "\n" + (choices or _("aucun choix validé")),
        _("<b>Propositions du conseil de classe :</b>")
        + "\n"
        + (council or _("pas encore d'avis")),
        _response_line(_, state) + "\n" + _("<b>Demande de la famille :</b> {voie}", voie=request),
    ]
    if state.draft is not None:
        chosen = _(
            "<b>Décision choisie :</b> {decision}", decision=decision_label(_, state.draft.code)
        )
        if state.differs:
            chosen += "\n" + _(
                "Elle diffère de la demande de la famille : le motif est obligatoire, et la "
                "famille pourra faire appel."
            )
            motif = state.draft.motif
            chosen += "\n" + (
                _("Motif : « {motif} »", motif=motif) if motif else _("Motif : à écrire.")
            )
        parts.append(chosen)
    if state.awaiting_motif:
        parts.append(_("✏️ <b>Écrivez maintenant le motif</b> dans un message."))
    return "\n\n".join(parts)


def decision_screen(state: DecisionState) -> Screen:
    assert state.chef is not None and state.facts is not None
    _ = translator(state.chef.locale)
    _p = translator(state.chef.locale, html=False)
    pupil_id = state.facts.pupil.id
    current = state.draft.code if state.draft else None
    rows = []
    for code, label in [(v.value, _p(v.label)) for v in Voie] + [
        (DECISION_MAINTIEN, _p("Maintien en 3e"))
    ]:
        mark = "✅ " if code == current else ""
        rows.append([button(mark + label, DecisionAction("v", pupil_id, code).encode())])
    last = [button(_p("↩️ Retour"), DecisionAction("t").encode())]
    if state.draft is not None:
        if state.differs:
            rows.append([button(_p("✏️ Écrire le motif"), DecisionAction("m", pupil_id).encode())])
        last.insert(
            0, button(_p("✅ Enregistrer la décision"), DecisionAction("s", pupil_id).encode())
        )
    rows.append(last)
    return Screen(_decision_text(_, state), keyboard(rows))


def decision_saved_screen(state: DecisionState, cal: SchoolCalendar) -> Screen:
    assert state.chef is not None and state.facts is not None and state.saved is not None
    _ = translator(state.chef.locale)
    _p = translator(state.chef.locale, html=False)
    saved = state.saved
    parts = [
        _(
            "✅ <b>Décision enregistrée</b> pour {pupil} : {decision}.",
            pupil=state.facts.pupil.full_name,
            decision=decision_label(_, saved.decision),
        )
    ]
    if saved.appeal_deadline is not None:
        parts.append(
            _(
                "Motif : « {motif} ». La famille peut faire appel jusqu'au {deadline}.",
                motif=saved.motif or "",
                deadline=format_date(saved.appeal_deadline.astimezone(cal.timezone), _.locale),
            )
        )
    parts.append(_("La famille est prévenue : les deux responsables et l'élève."))
    rows = [[button(_p("⚖️ Décisions à prendre"), DecisionAction("t").encode())]]
    return Screen("\n\n".join(parts), keyboard(rows))
