"""Turning an outbox row into what a person reads, in their language.

Pure: a renderer gets the row's parameters, the reader's language and the school's time
zone, and returns a `Rendered` with paragraphs in Telegram's HTML subset. The same
paragraphs make the Telegram message, the e-mail's HTML part and its text part, so the
three can never say different things.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tso_bot.domain.phases import Phase
from tso_bot.domain.voies import Voie
from tso_bot.i18n import Translator, format_datetime, translator


@dataclass(frozen=True)
class Rendered:
    subject: str
    paragraphs: tuple[str, ...]

    @property
    def telegram_html(self) -> str:
        return "\n\n".join(self.paragraphs)

    @property
    def email_html(self) -> str:
        body = "".join(f"<p>{p.replace(chr(10), '<br>')}</p>\n" for p in self.paragraphs)
        return (
            '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
            f"<title>{html.escape(self.subject)}</title></head>\n"
            f'<body style="font-family:sans-serif;line-height:1.5">\n{body}</body></html>\n'
        )

    @property
    def email_text(self) -> str:
        return "\n\n".join(_plain(p) for p in self.paragraphs) + "\n"


_TAG = re.compile(r"<[^>]+>")


def _plain(fragment: str) -> str:
    return html.unescape(_TAG.sub("", fragment))


Renderer = Callable[[Translator, Mapping[str, Any], ZoneInfo], Rendered]
RENDERERS: dict[str, Renderer] = {}


def renderer(kind: str) -> Callable[[Renderer], Renderer]:
    def register(fn: Renderer) -> Renderer:
        RENDERERS[kind] = fn
        return fn

    return register


def render(kind: str, params: Mapping[str, Any], locale: str, tz: ZoneInfo) -> Rendered:
    try:
        fn = RENDERERS[kind]
    except KeyError:
        raise ValueError(f"no renderer for outbox kind {kind!r}") from None
    return fn(translator(locale), params, tz)


def ranked_list(_: Translator, codes: list[str]) -> str:
    return "\n".join(f"{rank}. {_(Voie(code).label)}" for rank, code in enumerate(codes, 1))


def when(_: Translator, params: Mapping[str, Any], tz: ZoneInfo) -> str:
    return format_datetime(datetime.fromisoformat(params["at"]), tz, _.locale)


def _phase_label(_: Translator, params: Mapping[str, Any]) -> str:
    return _(Phase(params["phase"]).choices_label)


@renderer("choices_recap")
def _choices_recap(_: Translator, p: Mapping[str, Any], tz: ZoneInfo) -> Rendered:
    what = _phase_label(_, p)
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
    what = _phase_label(_, p)
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
