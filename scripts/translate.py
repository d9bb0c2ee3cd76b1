"""Fill translations from a Python file holding a dict `T = {msgid: translation}`.

Usage: `.venv/bin/python scripts/translate.py en translations.py`; with no file, list the
untranslated messages of that language. Used when many messages are added at once.
"""

from __future__ import annotations

import runpy
import sys

from babel.messages.pofile import read_po, write_po

from tso_bot.i18n import DOMAIN, LOCALES_DIR


def main(locale: str, source: str | None = None) -> None:
    path = LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as f:
        catalog = read_po(f, locale=locale, domain=DOMAIN)
    table: dict[str, str] = runpy.run_path(source)["T"] if source else {}
    for message in catalog:
        if not message.id:
            continue
        if message.id in table:
            message.string = table[message.id]
            message.flags.discard("fuzzy")
        elif not message.string:
            print(repr(message.id))
    if source:
        with path.open("wb") as f:
            write_po(f, catalog, width=100, sort_output=False)


if __name__ == "__main__":
    main(*sys.argv[1:3])
