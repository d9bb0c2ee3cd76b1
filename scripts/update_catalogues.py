"""Extract every message from the code and update `locales/*/LC_MESSAGES/tso_bot.po`.

Existing translations are kept; new messages arrive untranslated (the catalogue test then
fails until they are translated), and messages gone from the code are dropped.
Run: `.venv/bin/python scripts/update_catalogues.py`.
"""

from __future__ import annotations

import copy
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from tso_bot.i18n import DOMAIN, EXTRACT_KEYWORDS, LANGUAGES, LOCALES_DIR, SOURCE_LOCALE

ROOT = Path(__file__).resolve().parent.parent


def extract() -> Catalog:
    template = Catalog(project="tso-bot", domain=DOMAIN, charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT / "tso_bot"), method_map=[("**.py", "python")],
        keywords=dict(EXTRACT_KEYWORDS), comment_tags=("Translators:",),
    ):
        template.add(message, None, [(f"tso_bot/{filename}", lineno)],
                     auto_comments=comments, context=context)
    return template


def update(template: Catalog, locale: str) -> Path:
    path = LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        with path.open("rb") as f:
            catalog = read_po(f, locale=locale, domain=DOMAIN)
    else:
        catalog = Catalog(locale=locale, domain=DOMAIN, project="tso-bot", charset="utf-8")
    catalog.update(copy.deepcopy(template), no_fuzzy_matching=True)
    catalog.fuzzy = False
    catalog.obsolete.clear()
    if locale == SOURCE_LOCALE:  # French is the source: the id is the text
        for message in catalog:
            if message.id and not message.string:
                message.string = message.id
    with path.open("wb") as f:
        write_po(f, catalog, width=100, omit_header=False, sort_output=False)
    return path


def main() -> None:
    template = extract()
    for locale in LANGUAGES:
        path = update(template, locale)
        print(f"{path.relative_to(ROOT)}: {len(template)} messages")


if __name__ == "__main__":
    main()
