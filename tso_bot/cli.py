"""`tso-bot`: the command line of CONTRACT.md.

Exit status 0 on success; otherwise non-zero with a one-line reason on stderr (a rejected
import first names every bad line and column). Each area's subcommands live in
`tso_bot.commands.<area>`; this module only assembles them.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence

from tso_bot.commands import council, demo, notify, school, serve
from tso_bot.config import Settings
from tso_bot.i18n import SOURCE_LOCALE, LocalizedError

# Each module adds its subcommands; the order is the order of `tso-bot --help`.
COMMAND_MODULES = (serve, school, council, notify, demo)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tso-bot", description="TSO bot: l'orientation en 3e.")
    p.add_argument("--config", help="TOML file with the settings (the environment wins)")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        module.register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings: Settings | None = None
    try:
        settings = Settings.load(args.config)
        asyncio.run(args.handler(args, settings))
    except LocalizedError as exc:  # CliError, ConfigError, CalendarError
        locale = (
            settings.default_locale
            if settings
            else os.environ.get("TSO_DEFAULT_LOCALE", SOURCE_LOCALE)
        )
        print(f"tso-bot: {exc.render(locale)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
