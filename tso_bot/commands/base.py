"""What every command shares: errors, files, the application context."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from tso_bot.config import Settings
from tso_bot.i18n import N_, LocalizedError
from tso_bot.runtime import build_context
from tso_bot.services.context import AppContext
from tso_bot.staff.csvio import ImportIssue
from tso_bot.store.migrate import upgrade

Handler = Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, None]]
# argparse's sub-parser collection, as typeshed types it (generic only when type-checking).
Subparsers = argparse._SubParsersAction


class CliError(LocalizedError):
    """A failure to report on one line of stderr, in the staff's language."""


def read_file(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CliError(
            N_("{path} : lecture impossible ({reason})"), path=path, reason=exc.strerror
        ) from exc


def write_file(path: str, data: bytes) -> None:
    try:
        Path(path).write_bytes(data)
    except OSError as exc:
        raise CliError(
            N_("{path} : écriture impossible ({reason})"), path=path, reason=exc.strerror
        ) from exc


async def open_context(settings: Settings) -> AppContext:
    """The context of a one-shot command, on an up-to-date database."""
    ctx = build_context(settings)  # a ConfigError is reported by `cli.main`
    await upgrade(settings.database_url)
    return ctx


def reject(issues: Sequence[ImportIssue], path: str, locale: str) -> None:
    """Print every issue, then fail with the one-line summary."""
    for issue in issues:
        print(f"{path}: {issue.render(locale)}", file=sys.stderr)
    raise CliError(
        N_("{path} : {count} erreur(s), rien n'a été importé."), path=path, count=len(issues)
    )
