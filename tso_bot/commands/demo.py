"""`tso-bot demo`: the offline sandbox (the bot, the Bot API emulator, a mail catcher and
the page), until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import signal
from pathlib import Path

from tso_bot.commands.base import CliError, Subparsers
from tso_bot.config import Settings
from tso_bot.i18n import N_, translator


async def demo(args: argparse.Namespace, settings: Settings) -> None:
    # Imported here: `tso-bot --help` and the school's commands need none of the sandbox.
    from tso_bot.sandbox.demo import start_demo

    if not args.verbose:  # the banner, not the bot's log lines, is what a visitor reads
        logging.getLogger().setLevel(logging.WARNING)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        server = await start_demo(port=args.port, data_dir=Path(args.data))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise CliError(
                N_(
                    "impossible d'écouter sur 127.0.0.1:{port} : port déjà utilisé (essayez --port)"
                ),
                port=args.port,
            ) from exc
        raise CliError(
            N_("impossible d'écouter sur 127.0.0.1:{port} : {reason}"),
            port=args.port,
            reason=str(exc),
        ) from exc
    _ = translator(settings.default_locale, html=False)
    print(_("TSO bot — démo : {url} (Ctrl-C pour arrêter)", url=server.url), flush=True)
    try:
        await stop.wait()
    finally:
        print("Arrêt de la démo…", flush=True)
        await server.stop()


def register(sub: Subparsers[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo", help="the offline sandbox: the bot, its chats and e-mails in a web page"
    )
    p.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (default 8080)")
    p.add_argument(
        "--data", default="demo-data", help="folder for the demo's database (default demo-data)"
    )
    p.set_defaults(handler=demo)
