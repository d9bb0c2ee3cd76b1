"""Messages about ranked voies: recaps of a validation, the other guardian's disagreement."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from tso_bot.i18n import Translator
from tso_bot.notify.render import Rendered, phase_label, ranked_list, renderer, when


@renderer("choices_recap")
def _choices_recap(_: Translator, p: Mapping[str, Any], tz: ZoneInfo) -> Rendered:
    what = phase_label(_, p)
    return Rendered(
        _("Orientation de {pupil} : saisie des {what}", pupil=p["pupil"], what=what),
        (
            _("Bonjour,"),
            _(
                "{by} a validé les {what} de <b>{pupil}</b> (classe {classe}) le {when}.",
                what=what,
                pupil=p["pupil"],
                classe=p["classe"],
                by=p["by"],
                when=when(_, p, tz),
            ),
            _("Voies demandées, par ordre de préférence :") + "\n" + ranked_list(_, p["voies"]),
            _(
                "Seul le responsable qui a fait la saisie peut la modifier, jusqu'à la "
                "fermeture du service. Chaque modification vous est confirmée par un "
                "nouveau courriel."
            ),
            _(
                "Ce message est envoyé aux deux responsables légaux. Version n° {version}.",
                version=p["version"],
            ),
        ),
    )


@renderer("choices_validated")
def _choices_validated(_: Translator, p: Mapping[str, Any], tz: ZoneInfo) -> Rendered:
    what = phase_label(_, p)
    return Rendered(
        _("Orientation de {pupil} : saisie des {what}", pupil=p["pupil"], what=what),
        (
            _(
                "📋 {by} a validé les {what} de <b>{pupil}</b> ({classe}) le {when} :",
                by=p["by"],
                what=what,
                pupil=p["pupil"],
                classe=p["classe"],
                when=when(_, p, tz),
            )
            + "\n"
            + ranked_list(_, p["voies"]),
            _("Consultez le dossier avec /dossier."),
        ),
    )


@renderer("disagreement_to_pp")
def _disagreement(_: Translator, p: Mapping[str, Any], tz: ZoneInfo) -> Rendered:
    contact = _("Courriel : {email}", email=p["by_email"]) if p.get("by_email") else ""
    return Rendered(
        _("Désaccord signalé pour {pupil}", pupil=p["pupil"]),
        tuple(
            x
            for x in (
                _(
                    "⚠️ {by}, responsable légal de <b>{pupil}</b> ({classe}), signale le "
                    "{when} ne pas être d'accord avec la saisie faite par {entering}.",
                    by=p["by"],
                    pupil=p["pupil"],
                    classe=p["classe"],
                    when=when(_, p, tz),
                    entering=p["entering"],
                ),
                _("Les responsables sont invités à se rapprocher de vous."),
                contact,
            )
            if x
        ),
    )
