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


def phase_label(_: Translator, params: Mapping[str, Any]) -> str:
    return _(Phase(params["phase"]).choices_label)


# The renderers register themselves when their modules are imported.
from tso_bot.notify import messages  # noqa: E402

__all__ = ["messages"]
