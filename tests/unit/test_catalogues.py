"""The message catalogues: complete, in step with the code, and safe to format.

Messages are extracted from the code exactly as `scripts/update_catalogues.py` does, so a
message added to the code without a translation, a translation whose placeholders or HTML
tags differ from the French, or a catalogue entry the code no longer uses fails here.
"""

from __future__ import annotations

import importlib.util
import re
import string
from collections import Counter
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from tso_bot.i18n import (
    DOMAIN,
    LANGUAGES,
    LOCALES_DIR,
    SOURCE_LOCALE,
    normalize_locale,
    translator,
)

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "update_catalogues.py"
LOCALES = tuple(LANGUAGES)

_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)\b[^>]*>")


@cache
def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("update_catalogues", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def extracted() -> Catalog:
    """Every message in the code, as the catalogue script sees it."""
    return _script().extract()


@cache
def catalogue(locale: str) -> Catalog:
    path = LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as po_file:
        return read_po(po_file, locale=locale, domain=DOMAIN)


def _key(message: Message) -> object:
    return (message.id, message.context)


def _entries(cat: Catalog) -> Iterator[Message]:
    return (m for m in cat if m.id)  # skip the header


def _forms(value: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _where(message: Message) -> str:
    places = ", ".join(f"{file}:{line}" for file, line in message.locations) or "?"
    return f"{places}: {message.id!r}"


def placeholders(text: str) -> set[str]:
    """The `{names}` of a str.format template (their field names, spec included)."""
    fields = set()
    for _literal, name, spec, conversion in string.Formatter().parse(text):
        if name is not None:
            fields.add(
                name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            )
    return fields


def _field_names(text: str) -> set[str]:
    return {name for _l, name, _s, _c in string.Formatter().parse(text) if name is not None}


def html_tags(text: str) -> Counter[str]:
    return Counter(f"{slash}{name.lower()}" for slash, name in _TAG.findall(text))


def _dummy_params(*texts: str) -> dict[str, object]:
    params: dict[str, object] = {"n": 2}
    for text in texts:
        for name in _field_names(text):
            params[re.split(r"[.\[]", name, maxsplit=1)[0]] = "x"
    return params


# --- The catalogues hold every message of the code, translated --------------------------------


def test_extraction_finds_messages() -> None:
    ids = {m.id for m in _entries(extracted())}
    assert len(ids) > 50
    assert "Aide" in ids
    assert "2de professionnelle" in ids


def test_every_language_has_a_catalogue() -> None:
    for locale in LOCALES:
        assert (LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po").is_file(), locale


@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_is_translated(locale: str) -> None:
    cat = catalogue(locale)
    missing = []
    for message in _entries(extracted()):
        entry = cat.get(message.id, context=message.context)
        if entry is None:
            missing.append(f"{_where(message)} (not in the catalogue)")
        elif entry.fuzzy:
            missing.append(f"{_where(message)} (marked fuzzy, so not used)")
        elif not _forms(entry.string) or not all(_forms(entry.string)):
            missing.append(f"{_where(message)} (empty translation)")
    assert not missing, f"{len(missing)} message(s) without a {locale} translation:\n" + "\n".join(
        missing
    )


@pytest.mark.parametrize("locale", LOCALES)
def test_no_obsolete_entry(locale: str) -> None:
    cat = catalogue(locale)
    in_code = {_key(m) for m in _entries(extracted())}
    unused = [repr(m.id) for m in _entries(cat) if _key(m) not in in_code]
    unused += [f"{m.id!r} (#~ obsolete)" for m in cat.obsolete.values()]
    assert not unused, (
        f"{len(unused)} {locale} entries no longer in the code "
        "(run scripts/update_catalogues.py):\n" + "\n".join(unused)
    )


# --- Each translation fits its message ---------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_placeholders_match(locale: str) -> None:
    problems = []
    for entry in _entries(catalogue(locale)):
        ids = _forms(entry.id)
        expected = set().union(*(placeholders(i) for i in ids))
        for form in _forms(entry.string):
            if not form:
                continue
            try:
                got = placeholders(form)
            except ValueError as exc:
                problems.append(f"{_where(entry)}\n    {form!r}: {exc}")
                continue
            # A plural form may say "one" instead of showing the count.
            if got != expected and not (len(ids) > 1 and got | {"n"} == expected | {"n"}):
                problems.append(
                    f"{_where(entry)}\n    expected {sorted(expected)}, got {sorted(got)}"
                    f" in {form!r}"
                )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("locale", LOCALES)
def test_html_tags_match(locale: str) -> None:
    problems = []
    for entry in _entries(catalogue(locale)):
        expected = html_tags(_forms(entry.id)[0])
        for form in _forms(entry.string):
            if form and html_tags(form) != expected:
                problems.append(
                    f"{_where(entry)}\n    expected tags {dict(expected)}, got "
                    f"{dict(html_tags(form))} in {form!r}"
                )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("locale", LOCALES)
def test_translations_format(locale: str) -> None:
    problems = []
    for entry in _entries(catalogue(locale)):
        for text in (*_forms(entry.id), *_forms(entry.string)):
            if not text:
                continue
            try:
                text.format(**_dummy_params(*_forms(entry.id), text))
            except (KeyError, IndexError, ValueError, AttributeError) as exc:
                problems.append(f"{_where(entry)}\n    {text!r}: {exc!r}")
    assert not problems, "\n".join(problems)


def test_french_is_the_source() -> None:
    assert SOURCE_LOCALE == "fr"
    assert SOURCE_LOCALE in LOCALES


# --- The translator ----------------------------------------------------------------------------


def test_translator_returns_english() -> None:
    expected = catalogue("en").get("Aide")
    assert expected is not None
    assert translator("en")("Aide") == expected.string == "Help"
    assert translator("en")("2de professionnelle") != "2de professionnelle"
    assert translator("fr")("Aide") == "Aide"


def test_unknown_language_falls_back_to_french() -> None:
    assert translator("de")("Aide") == "Aide"
    assert translator(None)("Aide") == "Aide"


def test_parameters_are_escaped_for_html() -> None:
    name = "<b>Zoé & Léa</b>"
    msgid = "Bonjour {name} ! Votre compte Telegram est maintenant relié."
    text = translator("en")(msgid, name=name)
    assert "&lt;b&gt;Zoé &amp; Léa&lt;/b&gt;" in text
    assert name not in text
    assert text.startswith("Hello")
    assert translator("fr")(msgid, name=name) == (
        "Bonjour &lt;b&gt;Zoé &amp; Léa&lt;/b&gt; ! Votre compte Telegram est maintenant relié."
    )


def test_plain_text_translator_does_not_escape() -> None:
    name = "<b>Zoé & Léa</b>"
    msgid = "Bonjour {name} ! Votre compte Telegram est maintenant relié."
    text = translator("en", html=False)(msgid, name=name)
    assert name in text
    assert "&amp;" not in text
    assert translator("fr", html=False)("{pupil} ({classe})", pupil="A & B", classe="3e<1>") == (
        "A & B (3e<1>)"
    )


def test_message_html_is_kept_while_parameters_are_escaped() -> None:
    text = translator("en")("Désaccord signalé pour {pupil}", pupil="Tom & <i>Jerry</i>")
    assert text == "Disagreement reported for Tom &amp; &lt;i&gt;Jerry&lt;/i&gt;"
    text = translator("en")("📅 <b>Calendrier de l'orientation — {school}</b>", school="A&B")
    assert text.startswith("📅 <b>") and text.endswith("</b>")
    assert "A&amp;B" in text


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("en-GB", "en"),
        ("en_US", "en"),
        ("EN", "en"),
        ("en", "en"),
        ("fr", "fr"),
        ("fr-CA", "fr"),
        ("de", "fr"),
        ("pt-BR", "fr"),
        ("", "fr"),
        (None, "fr"),
    ],
)
def test_normalize_locale(given: str | None, expected: str) -> None:
    assert normalize_locale(given) == expected
