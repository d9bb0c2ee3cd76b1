"""Every notification renders in every language, as Telegram-valid HTML and clean text."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tso_bot.i18n import LANGUAGES
from tso_bot.notify.render import RENDERERS, render
from tso_bot.sandbox.telegram_html import parse_html

TZ = ZoneInfo("Europe/Paris")
BASE: dict[str, Any] = {
    "pupil_id": "E001",
    "pupil": "<b>Zoé & Léa</b> Martin",
    "classe": "3eA",
    "phase": "provisoire",
    "voies": ["2PRO", "2GT"],
    "by": "Anne Martin",
    "by_email": "anne@example.org",
    "entering": "Anne Martin",
    "at": "2024-04-02T08:30:00+00:00",
    "version": 2,
    "accepted": "CAP",
    "pp": "Claire Leroy",
    "chef": "Sophie Bernard",
    "lines": [
        ["2PRO", "oui", "Très bon projet <3"],
        ["2GT", "non", None],
        ["CAP", "proposition", None],
    ],
    "decision": "maintien",
    "motif": "Résultats insuffisants",
    "differs": True,
    "appeal_deadline": "2024-06-20T21:59:59+00:00",
    "kind": "appel",
    "step": "intentions",
    "offset": "7d",
    "audience": "guardian",
    "opens": "2024-02-26T00:00:00+01:00",
    "closes": "2024-03-11T23:59:59+01:00",
}
VARIANTS: list[dict[str, Any]] = [
    {},
    {"phase": "definitive"},
    {"accepted": None},
    {"accepted": None, "phase": "definitive"},
    {"differs": False, "decision": "2GT", "motif": None},
    {"kind": "maintien"},
    {"audience": "pupil"},
    {"step": "response", "offset": "last_day@09:00"},
]


@pytest.mark.parametrize("kind", sorted(RENDERERS))
@pytest.mark.parametrize("locale", sorted(LANGUAGES))
def test_every_kind_renders_as_valid_telegram_html(kind: str, locale: str) -> None:
    for variant in VARIANTS:
        rendered = render(kind, {**BASE, **variant}, locale, TZ)
        assert rendered.subject and rendered.paragraphs
        parsed = parse_html(rendered.telegram_html)  # raises like Telegram would
        assert "<b>Zoé & Léa</b>" in parsed.text or "Zoé" not in rendered.telegram_html
        assert "<" not in rendered.email_text.replace("<b>Zoé & Léa</b>", "").replace("<3", "")
        assert rendered.email_html.startswith("<!DOCTYPE html>")


def test_council_answers_show_every_line_and_comment() -> None:
    text = render("council_answers", BASE, "fr", TZ).email_text
    assert "• 2de professionnelle : ✅ oui — « Très bon projet <3 »" in text
    assert "• 2de générale et technologique ou 2de STHR : ❌ non" in text
    assert "• 1re année de CAP : 💡 proposée par le conseil" in text


def test_decision_shows_the_reason_and_the_appeal_date() -> None:
    fr = render("decision", BASE, "fr", TZ).email_text
    assert "maintien en 3e" in fr and "Résultats insuffisants" in fr
    assert "jusqu'au jeudi 20 juin 2024 inclus" in fr  # 23:59:59 in Paris, as a date
    same = render("decision", {**BASE, "differs": False, "decision": "2GT"}, "fr", TZ)
    assert "correspond à votre demande" in same.email_text
    assert "appel" not in same.email_text


def test_refusing_all_says_whom_to_see() -> None:
    provisional = render("answer_recap", {**BASE, "accepted": None}, "fr", TZ).email_text
    assert "professeur principal : Claire Leroy" in provisional
    final = render("answer_recap", {**BASE, "accepted": None, "phase": "definitive"}, "fr", TZ)
    assert "Sophie Bernard, vous recevra" in final.email_text
