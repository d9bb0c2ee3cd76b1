"""Reminders: a step's window opens (guardians and pupil), a step not done before it closes
(guardians). The same text goes by Telegram or by e-mail, so it names the date rather than
"in 7 days", and stays true however late a backed-up outbox delivers it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tso_bot.domain.calendar import Step
from tso_bot.i18n import Translator, format_datetime
from tso_bot.notify.render import Rendered, renderer


def _date(_: Translator, p: Mapping[str, Any], name: str, tz: ZoneInfo) -> str:
    return format_datetime(datetime.fromisoformat(p[name]), tz, _.locale)


def _how_to_act(_: Translator, step: Step) -> str:
    """Who acts on this step, and where."""
    if step in (Step.INTENTIONS, Step.CHOICES):
        return _(
            "Un seul responsable fait la saisie, pour les deux : le premier qui la valide. "
            "Elle se fait dans la conversation Telegram du collège, avec /dossier."
        )
    return _(
        "L'un ou l'autre responsable répond, une fois pour les deux, dans la conversation "
        "Telegram du collège, avec /dossier."
    )


def _help_line(_: Translator) -> str:
    return _("Une question, ou pas de Telegram ? Le professeur principal peut vous aider.")


@renderer("reminder_open")
def _window_open(_: Translator, p: Mapping[str, Any], tz: ZoneInfo) -> Rendered:
    step = Step(p["step"])
    dates = {
        "step": _(step.label),
        "opens": _date(_, p, "opens", tz),
        "closes": _date(_, p, "closes", tz),
    }
    if p.get("audience") == "pupil":
        return Rendered(
            _("Ton orientation : « {step} » est ouverte", **dates),
            (
                _(
                    "📅 L'étape « {step} » de ton orientation est ouverte du {opens} au {closes}.",
                    **dates,
                ),
                _(
                    "Tes responsables légaux sont prévenus. Tu peux suivre ton dossier avec "
                    "/dossier."
                ),
            ),
        )
    return Rendered(
        _("Orientation de {pupil} : « {step} » est ouverte", pupil=p["pupil"], **dates),
        (
            _(
                "📅 L'étape « {step} » est ouverte pour <b>{pupil}</b> ({classe}), du {opens} "
                "au {closes}.",
                pupil=p["pupil"],
                classe=p["classe"],
                **dates,
            ),
            _how_to_act(_, step),
            _help_line(_),
        ),
    )


@renderer("reminder_close")
def _before_close(_: Translator, p: Mapping[str, Any], tz: ZoneInfo) -> Rendered:
    step = Step(p["step"])
    closes = _date(_, p, "closes", tz)
    return Rendered(
        _(
            "Rappel : « {step} » pour {pupil}, avant le {closes}",
            step=_(step.label),
            pupil=p["pupil"],
            closes=closes,
        ),
        (
            _(
                "⏰ Rappel : l'étape « {step} » n'est pas encore faite pour <b>{pupil}</b> "
                "({classe}). Elle ferme le {closes}.",
                step=_(step.label),
                pupil=p["pupil"],
                classe=p["classe"],
                closes=closes,
            ),
            _how_to_act(_, step),
            _help_line(_),
            _(
                "Ce rappel est envoyé aux deux responsables légaux tant que l'étape n'est pas "
                "faite."
            ),
        ),
    )
