"""`tso-bot`: the command line of CONTRACT.md.

Exit status 0 on success; otherwise non-zero with a one-line reason on stderr (a rejected
import first names every bad line and column).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from tso_bot.config import ConfigError, Settings
from tso_bot.i18n import translator
from tso_bot.runtime import Runtime, Webhook, build_context
from tso_bot.services import invites as invites_service
from tso_bot.services import roster
from tso_bot.services.context import AppContext
from tso_bot.staff import export, parsing
from tso_bot.store.migrate import upgrade

log = logging.getLogger("tso_bot")


class CliError(Exception):
    """A failure to report on one line of stderr."""


Command = Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, None]]
COMMANDS: dict[str, Command] = {}


def command(name: str) -> Callable[[Command], Command]:
    def register(fn: Command) -> Command:
        COMMANDS[name] = fn
        return fn

    return register


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CliError(f"{path}: {exc.strerror}") from exc


def _write(path: str, data: bytes) -> None:
    try:
        Path(path).write_bytes(data)
    except OSError as exc:
        raise CliError(f"{path}: {exc.strerror}") from exc


async def _context(settings: Settings) -> AppContext:
    try:
        ctx = build_context(settings)
    except ConfigError as exc:
        raise CliError(str(exc)) from exc
    await upgrade(settings.database_url)
    return ctx


def _reject(issues: Sequence[parsing.ImportIssue], path: str, locale: str) -> None:
    for issue in issues:
        print(f"{path}: {issue.render(locale)}", file=sys.stderr)
    _ = translator(locale, html=False)
    raise CliError(
        _("{path} : {count} erreur(s), rien n'a été importé.", path=path, count=len(issues))
    )


@command("db upgrade")
async def _db_upgrade(args: argparse.Namespace, settings: Settings) -> None:
    await upgrade(settings.database_url)
    print("database up to date")


async def _import(
    args: argparse.Namespace,
    settings: Settings,
    parse: Callable[[bytes], parsing.ParseResult[Any]],
    store: Callable[[AppContext, list[Any], str], Awaitable[roster.ImportSummary]],
) -> None:
    locale = settings.default_locale
    result = parse(_read(args.file))
    if result.issues:
        _reject(result.issues, args.file, locale)
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
    ctx = await _context(settings)
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


@command("roster import")
async def _roster_import(args: argparse.Namespace, settings: Settings) -> None:
    await _import(args, settings, parsing.parse_roster, roster.import_roster)


@command("staff import")
async def _staff_import(args: argparse.Namespace, settings: Settings) -> None:
    await _import(args, settings, parsing.parse_staff, roster.import_staff)


async def _bot_username(settings: Settings) -> str:
    if settings.bot_username:
        return settings.bot_username
    if settings.telegram_token:
        from telegram import Bot

        async with Bot(settings.telegram_token, base_url=settings.telegram_api_url) as bot:
            return bot.username
    raise CliError("set TSO_BOT_USERNAME (or TSO_TELEGRAM_TOKEN) to build the invitation links")


@command("invites")
async def _invites(args: argparse.Namespace, settings: Settings) -> None:
    username = await _bot_username(settings)
    ctx = await _context(settings)
    try:
        rows = await invites_service.issue_invites(ctx, username)
    finally:
        await ctx.db.dispose()
    _write(args.file, export.write_csv(invites_service.INVITE_COLUMNS, (r.as_list() for r in rows)))
    print(f"{args.file}: {len(rows)}")


@command("export")
async def _export(args: argparse.Namespace, settings: Settings) -> None:
    ctx = await _context(settings)
    try:
        _write(args.file, await export.export_dossiers(ctx))
    finally:
        await ctx.db.dispose()


@command("audit")
async def _audit(args: argparse.Namespace, settings: Settings) -> None:
    ctx = await _context(settings)
    try:
        _write(args.file, await export.export_audit(ctx))
    finally:
        await ctx.db.dispose()


@command("status")
async def _status(args: argparse.Namespace, settings: Settings) -> None:
    ctx = await _context(settings)
    try:
        rows = await export.status(ctx, args.classe)
    finally:
        await ctx.db.dispose()
    _ = translator(settings.default_locale, html=False)
    print(_("classe\télèves\tintentions\tchoix définitifs"))
    for r in rows:
        print(f"{r.classe}\t{r.pupils}\t{r.intentions}\t{r.choices}")


async def _serve(runtime: Runtime, webhook: Webhook | None = None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await runtime.start(webhook)
    try:
        await stop.wait()
    finally:
        await runtime.stop()
        await runtime.ctx.db.dispose()


def _webhook(args: argparse.Namespace) -> Webhook | None:
    if not args.webhook:
        return None
    host, _sep, port = (args.listen or "127.0.0.1:8443").rpartition(":")
    try:
        return Webhook(args.webhook, host or "127.0.0.1", int(port))
    except ValueError as exc:
        raise CliError(f"--listen HOST:PORT expected, got {args.listen!r}") from exc


@command("run")
async def _run(args: argparse.Namespace, settings: Settings) -> None:
    if not settings.telegram_token:
        raise CliError("TSO_TELEGRAM_TOKEN is required (or try `tso-bot demo`)")
    ctx = await _context(settings)
    await _serve(Runtime(ctx, settings, worker=not args.no_worker), _webhook(args))


@command("worker")
async def _worker(args: argparse.Namespace, settings: Settings) -> None:
    if not settings.telegram_token:
        raise CliError("TSO_TELEGRAM_TOKEN is required")
    ctx = await _context(settings)
    await _serve(Runtime(ctx, settings, bot=False, worker=True))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tso-bot", description="TSO bot: l'orientation en 3e.")
    p.add_argument("--config", help="TOML file with the settings (the environment wins)")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="the bot (long polling, or --webhook)")
    run.add_argument("--webhook", metavar="URL")
    run.add_argument("--listen", metavar="HOST:PORT")
    run.add_argument("--no-worker", action="store_true")
    sub.add_parser("worker", help="outbox dispatcher and reminder planner only")
    db = sub.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply migrations")
    for name, what in (("roster", "pupils, guardians, classes"), ("staff", "staff members")):
        group = sub.add_parser(name, help=what).add_subparsers(
            dest=f"{name}_command", required=True
        )
        imp = group.add_parser("import", help=f"import {what} from a CSV file (atomic)")
        imp.add_argument("file")
        imp.add_argument("--dry-run", action="store_true", help="validate only")
    for name, what in (
        ("invites", "invitation codes and links (CSV)"),
        ("export", "every pupil's dossier (CSV)"),
        ("audit", "the audit log (CSV)"),
    ):
        sub.add_parser(name, help=what).add_argument("file")
    sub.add_parser("status", help="completion per class and step").add_argument("--classe")
    return p


def _command_name(args: argparse.Namespace) -> str:
    sub = getattr(args, f"{args.command}_command", None)
    return f"{args.command} {sub}" if sub else args.command


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        settings = Settings.load(args.config)
        asyncio.run(COMMANDS[_command_name(args)](args, settings))
    except (CliError, ConfigError) as exc:
        print(f"tso-bot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
