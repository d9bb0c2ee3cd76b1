"""Gettext for every message a person sees.

French is the source language: message ids are the French text, so a missing translation
falls back to French rather than to an identifier. Catalogues are read from the `.po`
files under `locales/` and compiled in memory with Babel, so there is no generated `.mo`
file to keep in step with its source.

Convention (the extraction test relies on it): bind a translator to `_` and call it with
the literal message and named placeholders, e.g. ``_("Bonjour {name}", name=person.name)``.
Placeholders are HTML-escaped by default because the bot sends `parse_mode=HTML`; pass
``html=False`` for plain text (e-mail text parts, command line).
"""

from __future__ import annotations

import gettext
import html as _html
import io
from collections.abc import Mapping
from datetime import date, datetime, tzinfo
from functools import cache
from pathlib import Path
from typing import Any

from babel import dates as babel_dates
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

DOMAIN = "tso_bot"
LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
SOURCE_LOCALE = "fr"
# Languages a person can choose with /langue, in the order shown, with their own name.
LANGUAGES: Mapping[str, str] = {"fr": "Français", "en": "English"}


def N_(msgid: str) -> str:
    """Mark a string for extraction where it is defined; translate it where it is shown."""
    return msgid


@cache
def _catalogue(locale: str) -> gettext.NullTranslations:
    po_path = LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po_path.exists():
        return gettext.NullTranslations()
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, locale=locale, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def normalize_locale(locale: str | None) -> str:
    """Map a Telegram `language_code` or a setting to a supported language."""
    if locale:
        short = locale.replace("_", "-").split("-")[0].lower()
        if short in LANGUAGES:
            return short
    return SOURCE_LOCALE


class Translator:
    """Translate and format messages for one person's language."""

    def __init__(self, locale: str, *, html: bool = True) -> None:
        self.locale = normalize_locale(locale)
        self.html = html
        self._tr = _catalogue(self.locale)

    def _format(self, text: str, params: Mapping[str, Any]) -> str:
        if not params:
            return text
        if self.html:
            params = {k: _html.escape(str(v), quote=False) for k, v in params.items()}
        return text.format(**params)

    def __call__(self, msgid: str, /, **params: Any) -> str:
        return self._format(self._tr.gettext(msgid), params)

    def plural(self, singular: str, plural: str, n: int, /, **params: Any) -> str:
        return self._format(self._tr.ngettext(singular, plural, n), {"n": n, **params})


def translator(locale: str | None, *, html: bool = True) -> Translator:
    return Translator(normalize_locale(locale), html=html)


# Keywords for Babel's extractor, used by the catalogue tests and `scripts/update_catalogues`.
EXTRACT_KEYWORDS: Mapping[str, Any] = {"_": None, "_p": None, "N_": None, "_n": (1, 2)}


def format_date(moment: date | datetime, locale: str) -> str:
    """A date as a parent reads it: « lundi 11 mars 2024 »."""
    return babel_dates.format_date(moment, format="full", locale=normalize_locale(locale))


def format_datetime(moment: datetime, tz: tzinfo, locale: str) -> str:
    """Date and time in the school's zone: « lundi 11 mars 2024, 18:05 »."""
    local = moment.astimezone(tz)
    day = format_date(local, locale)
    clock = babel_dates.format_time(local, format="short", locale=normalize_locale(locale))
    return f"{day}, {clock}"


class LocalizedError(Exception):
    """An error whose message a person reads: a French msgid (marked with `N_` where it is
    raised) and its parameters, translated when shown. A parameter that is itself a
    `LocalizedError` is rendered in the same language, so errors can wrap errors."""

    def __init__(self, msgid: str, /, **params: object) -> None:
        super().__init__(msgid)
        self.msgid = msgid
        self.params = params

    def render(self, locale: str) -> str:
        params = {
            k: v.render(locale) if isinstance(v, LocalizedError) else v
            for k, v in self.params.items()
        }
        return translator(locale, html=False)(self.msgid, **params)

    def __str__(self) -> str:
        return self.render(SOURCE_LOCALE)
