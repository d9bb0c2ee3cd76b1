"""Messages of the council's answers, the family's answers, the decision and the appeal."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tso_bot.domain.council import Avis
from tso_bot.domain.decision import MAINTIEN, AppealKind
from tso_bot.domain.phases import Phase
from tso_bot.domain.voies import Voie
from tso_bot.i18n import N_, Translator, format_date
from tso_bot.notify.render import Rendered, renderer, when

AVIS_MARKS = {
    Avis.OUI: N_("✅ oui"),
    Avis.NON: N_("❌ non"),
    Avis.PROPOSITION: N_("💡 proposée par le conseil"),
}


def council_lines(_: Translator, lines: list[list[Any]]) -> str:
    """One line per voie: its label, the avis, the council's comment if any."""
    out = []
    for code, avis, comment in lines:
        line = f"• {_(Voie(code).label)} : {_(AVIS_MARKS[Avis(avis)])}"
        if comment:
            line += " — " + _("« {comment} »", comment=comment)
        out.append(line)
    return "\n".join(out)


def decision_label(_: Translator, code: str) -> str:
    return _("maintien en 3e") if code == MAINTIEN else _(Voie(code).label)


@renderer("council_answers")
def _council_answers(_: Translator, p: Mapping[str, Any], tz: ZoneInfo) -> Rendered:
    names = {"pupil": p["pupil"], "classe": p["classe"]}
    if p["phase"] == Phase.PROVISOIRE:
        subject = _("Orientation de {pupil} : avis provisoire du conseil de classe", **names)
        intro = _(
            "Le conseil de classe a donné son avis sur les intentions de <b>{pupil}</b> "
            "({classe}) :",
            **names,
        )
        todo = _(
            "Accusez réception dans le bot (/dossier) : acceptez une voie qui a reçu "
            "« oui » ou une voie proposée par le conseil, ou refusez-les toutes. "
            "L'un ou l'autre des responsables peut le faire, une seule fois."
        )
    else:
        subject = _("Orientation de {pupil} : propositions du conseil de classe", **names)
        intro = _(
            "Le conseil de classe a répondu aux choix définitifs de <b>{pupil}</b> ({classe}) :",
            **names,
        )
        todo = _(
            "Donnez votre réponse dans le bot (/dossier) : votre accord pour une voie "
            "qui a reçu « oui » ou proposée par le conseil, ou votre désaccord. L'un ou "
            "l'autre des responsables peut le faire, une seule fois."
        )
    return Rendered(subject, (intro + "\n" + council_lines(_, p["lines"]), todo))


@renderer("answer_recap")
def _answer_recap(_: Translator, p: Mapping[str, Any], tz: ZoneInfo) -> Rendered:
    names = {"pupil": p["pupil"], "by": p["by"], "when": when(_, p, tz)}
    accepted = p.get("accepted")
    label = _(Voie(accepted).label) if accepted else ""
    provisional = p["phase"] == Phase.PROVISOIRE
    if provisional:
        subject = _("Orientation de {pupil} : accusé de réception enregistré", pupil=p["pupil"])
    else:
        subject = _(
            "Orientation de {pupil} : réponse au conseil de classe enregistrée", pupil=p["pupil"]
        )
    if accepted and provisional:
        body = _(
            "{by} a accusé réception de l'avis du conseil de classe pour <b>{pupil}</b> "
            "le {when}, en acceptant la voie : <b>{voie}</b>.",
            voie=label,
            **names,
        )
    elif accepted:
        body = _(
            "{by} a donné le {when} son accord pour <b>{pupil}</b> : <b>{voie}</b>.",
            voie=label,
            **names,
        )
    elif provisional:
        body = _(
            "{by} a accusé réception de l'avis du conseil de classe pour <b>{pupil}</b> "
            "le {when}, sans accepter aucune des voies proposées.",
            **names,
        )
    else:
        body = _(
            "{by} a indiqué le {when} son désaccord avec les propositions du conseil de "
            "classe pour <b>{pupil}</b>.",
            **names,
        )
    paragraphs = [body]
    if not accepted:
        paragraphs.append(_next_step(_, p, provisional))
    paragraphs.append(_("Ce message est envoyé aux deux responsables légaux."))
    return Rendered(subject, tuple(paragraphs))


def _next_step(_: Translator, p: Mapping[str, Any], provisional: bool) -> str:
    """Who to see after refusing (rule 5): the PP, or the chef d'établissement."""
    if provisional:
        if p.get("pp"):
            return _(
                "Vous êtes invités à vous rapprocher du professeur principal : {pp}.", pp=p["pp"]
            )
        return _("Vous êtes invités à vous rapprocher du professeur principal.")
    if p.get("chef"):
        return _(
            "Le chef d'établissement, {chef}, vous recevra avant de prendre sa décision.",
            chef=p["chef"],
        )
    return _("Le chef d'établissement vous recevra avant de prendre sa décision.")


@renderer("refusal_to_pp")
def _refusal_to_pp(_: Translator, p: Mapping[str, Any], tz: ZoneInfo) -> Rendered:
    names = {"pupil": p["pupil"], "classe": p["classe"], "by": p["by"], "when": when(_, p, tz)}
    if p["phase"] == Phase.PROVISOIRE:
        body = _(
            "⚠️ La famille de <b>{pupil}</b> ({classe}) n'a accepté aucune voie de l'avis "
            "provisoire ({by}, le {when}). Elle est invitée à se rapprocher de vous.",
            **names,
        )
    else:
        body = _(
            "⚠️ La famille de <b>{pupil}</b> ({classe}) est en désaccord avec les "
            "propositions du conseil de classe ({by}, le {when}). Le chef d'établissement "
            "la recevra.",
            **names,
        )
    return Rendered(
        _("Orientation de {pupil} : la famille refuse les propositions", pupil=p["pupil"]), (body,)
    )


@renderer("decision")
def _decision(_: Translator, p: Mapping[str, Any], tz: ZoneInfo) -> Rendered:
    label = decision_label(_, p["decision"])
    paragraphs = [
        _(
            "Décision d'orientation du chef d'établissement pour <b>{pupil}</b> "
            "({classe}) : <b>{decision}</b>.",
            pupil=p["pupil"],
            classe=p["classe"],
            decision=label,
        )
    ]
    if p.get("differs"):
        if p.get("motif"):
            paragraphs.append(_("Elle diffère de votre demande. Motif : {motif}", motif=p["motif"]))
        if p.get("appeal_deadline"):
            deadline = datetime.fromisoformat(p["appeal_deadline"]).astimezone(tz)
            paragraphs.append(
                _(
                    "Vous pouvez faire appel de cette décision, ou demander le maintien en 3e, "
                    "jusqu'au {deadline} inclus (3 jours ouvrables), dans le bot avec /dossier.",
                    deadline=format_date(deadline, _.locale),
                )
            )
    else:
        paragraphs.append(_("Elle correspond à votre demande."))
    return Rendered(
        _("Orientation de {pupil} : décision d'orientation", pupil=p["pupil"]), tuple(paragraphs)
    )


@renderer("appeal_recap")
def _appeal_recap(_: Translator, p: Mapping[str, Any], tz: ZoneInfo) -> Rendered:
    names = {"pupil": p["pupil"], "by": p["by"], "when": when(_, p, tz)}
    if p["kind"] == AppealKind.APPEL:
        body = _(
            "{by} a fait appel de la décision d'orientation de <b>{pupil}</b> le {when}.", **names
        )
    else:
        body = _("{by} a demandé le maintien de <b>{pupil}</b> en 3e le {when}.", **names)
    return Rendered(
        _("Orientation de {pupil} : demande transmise au chef d'établissement", pupil=p["pupil"]),
        (
            body,
            _("La demande est transmise au chef d'établissement, qui vous recontactera."),
            _("Ce message est envoyé aux deux responsables légaux."),
        ),
    )


@renderer("appeal_to_chef")
def _appeal_to_chef(_: Translator, p: Mapping[str, Any], tz: ZoneInfo) -> Rendered:
    names = {
        "pupil": p["pupil"],
        "classe": p["classe"],
        "by": p["by"],
        "when": when(_, p, tz),
        "decision": decision_label(_, p["decision"]),
    }
    if p["kind"] == AppealKind.APPEL:
        body = _(
            "📨 {by} fait appel de la décision pour <b>{pupil}</b> ({classe}), le {when}. "
            "Décision contestée : {decision}.",
            **names,
        )
    else:
        body = _(
            "📨 {by} demande le maintien en 3e de <b>{pupil}</b> ({classe}), le {when}, "
            "au lieu de : {decision}.",
            **names,
        )
    contact = _("Courriel : {email}", email=p["by_email"]) if p.get("by_email") else ""
    return Rendered(
        _("Appel pour {pupil}", pupil=p["pupil"]), tuple(x for x in (body, contact) if x)
    )
