"""The school's data: database, roster and staff imports, invites, exports, status."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

from tso_bot.commands.base import (
    CliError,
    Subparsers,
    open_context,
    read_file,
    reject,
    write_file,
)
from tso_bot.config import Settings
from tso_bot.i18n import N_, translator
from tso_bot.services import invites as invites_service
from tso_bot.services import roster
from tso_bot.services.context import AppContext
from tso_bot.staff import export, parsing
from tso_bot.store.migrate import upgrade


async def db_upgrade(args: argparse.Namespace, settings: Settings) -> None:
    await upgrade(settings.database_url)
    print("database up to date")


async def import_file(
    args: argparse.Namespace,
    settings: Settings,
    parse: Callable[[bytes], parsing.ParseResult[Any]],
    store: Callable[[AppContext, list[Any], str], Awaitable[roster.ImportSummary]],
) -> None:
    """Parse, reject with every issue, or store in one transaction."""
    locale = settings.default_locale
    result = parse(read_file(args.file))
    if result.issues:
        reject(result.issues, args.file, locale)
    _ = translator(locale, html=False)
    if args.dry_run:
        print(
            _(
                "{path} : {count} ligne(s) valide(s) (vérification seule, rien n'a été importé).",
                path=args.file,
                count=len(result.rows),
            )
        )
        return
    ctx = await open_context(settings)
    try:
        summary = await store(ctx, result.rows, locale)
    finally:
        await ctx.db.dispose()
    print(
        _(
            "{path} : {created} créé(s), {updated} mis à jour.",
            path=args.file,
            created=summary.created,
            updated=summary.updated,
        )
    )


async def roster_import(args: argparse.Namespace, settings: Settings) -> None:
    await import_file(args, settings, parsing.parse_roster, roster.import_roster)


async def staff_import(args: argparse.Namespace, settings: Settings) -> None:
    await import_file(args, settings, parsing.parse_staff, roster.import_staff)


async def bot_username(settings: Settings) -> str:
    if settings.bot_username:
        return settings.bot_username
    if settings.telegram_token:
        from telegram import Bot

        async with Bot(settings.telegram_token, base_url=settings.telegram_api_url) as bot:
            return bot.username
    raise CliError(
        N_(
            "indiquez TSO_BOT_USERNAME (ou TSO_TELEGRAM_TOKEN) pour construire "
            "les liens d'invitation"
        )
    )


async def invites(args: argparse.Namespace, settings: Settings) -> None:
    username = await bot_username(settings)
    ctx = await open_context(settings)
    try:
        rows = await invites_service.issue_invites(ctx, username)
    finally:
        await ctx.db.dispose()
    write_file(
        args.file, export.write_csv(invites_service.INVITE_COLUMNS, (r.as_list() for r in rows))
    )
    print(f"{args.file}: {len(rows)}")


async def export_dossiers(args: argparse.Namespace, settings: Settings) -> None:
    ctx = await open_context(settings)
    try:
        write_file(args.file, await export.export_dossiers(ctx))
    finally:
        await ctx.db.dispose()


async def export_audit(args: argparse.Namespace, settings: Settings) -> None:
    ctx = await open_context(settings)
    try:
        write_file(args.file, await export.export_audit(ctx))
    finally:
        await ctx.db.dispose()


async def status(args: argparse.Namespace, settings: Settings) -> None:
    ctx = await open_context(settings)
    try:
        rows = await export.status(ctx, args.classe)
    finally:
        await ctx.db.dispose()
    _ = translator(settings.default_locale, html=False)
    print(_("classe\télèves\tintentions\tchoix définitifs\tresponsables injoignables"))
    for r in rows:
        print(f"{r.classe}\t{r.pupils}\t{r.intentions}\t{r.choices}\t{len(r.unreachable)}")
    unreachable = [label for r in rows for label in r.unreachable]
    if unreachable:
        print(
            _(
                "Sans Telegram ni courriel, ces responsables ne reçoivent aucun rappel : {who}",
                who=", ".join(unreachable),
            )
        )


def add_import(
    sub: Subparsers[argparse.ArgumentParser], name: str, what: str, handler: Any
) -> None:
    """`tso-bot NAME import FILE [--dry-run]`."""
    group = sub.add_parser(name, help=what).add_subparsers(dest=f"{name}_command", required=True)
    imp = group.add_parser("import", help=f"import {what} from a CSV file (atomic)")
    imp.add_argument("file")
    imp.add_argument("--dry-run", action="store_true", help="validate only")
    imp.set_defaults(handler=handler)


def register(sub: Subparsers[argparse.ArgumentParser]) -> None:
    db = sub.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply migrations").set_defaults(handler=db_upgrade)
    add_import(sub, "roster", "pupils, guardians, classes", roster_import)
    add_import(sub, "staff", "staff members", staff_import)
    for name, what, handler in (
        ("invites", "invitation codes and links (CSV)", invites),
        ("export", "every pupil's dossier (CSV)", export_dossiers),
        ("audit", "the audit log (CSV)", export_audit),
    ):
        p = sub.add_parser(name, help=what)
        p.add_argument("file")
        p.set_defaults(handler=handler)
    st = sub.add_parser("status", help="completion per class and step")
    st.add_argument("--classe")
    st.set_defaults(handler=status)
