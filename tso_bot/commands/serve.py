"""`tso-bot run` and `tso-bot worker`: the long-running processes."""

from __future__ import annotations

import argparse
import asyncio
import signal

from tso_bot.commands.base import CliError, Subparsers, open_context
from tso_bot.config import Settings
from tso_bot.i18n import N_
from tso_bot.runtime import Runtime, Webhook


async def serve(runtime: Runtime, webhook: Webhook | None = None) -> None:
    """Run until SIGINT or SIGTERM, then stop cleanly."""
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


def parse_webhook(args: argparse.Namespace) -> Webhook | None:
    if not args.webhook:
        return None
    host, _sep, port = (args.listen or "127.0.0.1:8443").rpartition(":")
    try:
        return Webhook(args.webhook, host or "127.0.0.1", int(port))
    except ValueError as exc:
        raise CliError(
            N_("--listen : HÔTE:PORT attendu, reçu « {value} »"), value=args.listen
        ) from exc


async def run(args: argparse.Namespace, settings: Settings) -> None:
    if not settings.telegram_token:
        raise CliError(N_("TSO_TELEGRAM_TOKEN est requis (sans jeton : tso-bot demo)"))
    webhook = parse_webhook(args)
    ctx = await open_context(settings)
    await serve(Runtime(ctx, settings, worker=not args.no_worker), webhook)


async def worker(args: argparse.Namespace, settings: Settings) -> None:
    if not settings.telegram_token:
        raise CliError(N_("TSO_TELEGRAM_TOKEN est requis"))
    ctx = await open_context(settings)
    await serve(Runtime(ctx, settings, bot=False, worker=True))


def register(sub: Subparsers[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="the bot (long polling, or --webhook)")
    p.add_argument("--webhook", metavar="URL")
    p.add_argument("--listen", metavar="HOST:PORT")
    p.add_argument("--no-worker", action="store_true")
    p.set_defaults(handler=run)
    sub.add_parser("worker", help="outbox dispatcher and reminder planner only").set_defaults(
        handler=worker
    )
