"""`tso-bot council import` and `tso-bot decisions import`: the staff's answers from a file.

Unlike the roster, these files are checked against the database (unknown pupils, voies not
requested, windows, what is already recorded), so `--dry-run` opens the database too: it
runs every check, then writes nothing.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

from tso_bot.commands.base import Subparsers, open_context, read_file, reject
from tso_bot.commands.school import add_import
from tso_bot.config import Settings
from tso_bot.i18n import translator
from tso_bot.services import council, decisions
from tso_bot.services.context import AppContext
from tso_bot.staff import parsing

Store = Callable[[AppContext, list[Any], bool], Awaitable[Any]]


async def checked_import(
    args: argparse.Namespace,
    settings: Settings,
    parse: Callable[[bytes], parsing.ParseResult[Any]],
    store: Store,
) -> Any | None:
    """Parse, check against the database, then store (or only check with --dry-run).
    Returns the service's outcome, or None after a dry run; fails naming every bad line."""
    locale = settings.default_locale
    parsed = parse(read_file(args.file))
    if parsed.issues:
        reject(parsed.issues, args.file, locale)
    ctx = await open_context(settings)
    try:
        outcome = await store(ctx, parsed.rows, args.dry_run)
    finally:
        await ctx.db.dispose()
    if outcome.issues:
        reject(outcome.issues, args.file, locale)
    if args.dry_run:
        print(_dry_run(locale, args.file, len(parsed.rows)))
        return None
    return outcome


async def council_import(args: argparse.Namespace, settings: Settings) -> None:
    outcome = await checked_import(
        args,
        settings,
        parsing.parse_council,
        lambda ctx, rows, dry: council.import_council(ctx, rows, dry_run=dry),
    )
    if outcome is not None:
        _ = translator(settings.default_locale, html=False)
        print(
            _(
                "{path} : avis du conseil enregistré pour {answers} élève(s) et phase(s), "
                "{lines} ligne(s).",
                path=args.file,
                answers=outcome.answers,
                lines=outcome.lines,
            )
        )


async def decisions_import(args: argparse.Namespace, settings: Settings) -> None:
    outcome = await checked_import(
        args,
        settings,
        parsing.parse_decisions,
        lambda ctx, rows, dry: decisions.import_decisions(ctx, rows, dry_run=dry),
    )
    if outcome is not None:
        _ = translator(settings.default_locale, html=False)
        print(
            _(
                "{path} : {count} décision(s) enregistrée(s), familles prévenues.",
                path=args.file,
                count=outcome.decisions,
            )
        )


def _dry_run(locale: str, path: str, count: int) -> str:
    _ = translator(locale, html=False)
    return _(
        "{path} : {count} ligne(s) valide(s) (vérification seule, rien n'a été importé).",
        path=path,
        count=count,
    )


def register(sub: Subparsers[argparse.ArgumentParser]) -> None:
    add_import(sub, "council", "the class council's answers", council_import)
    add_import(sub, "decisions", "the chef d'établissement's decisions", decisions_import)
