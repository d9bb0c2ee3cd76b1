"""Notifications: `tso-bot remind --dry-run [--at ISO]`, the reminders due at a moment."""

from __future__ import annotations

import argparse
from collections import Counter
from datetime import datetime

from tso_bot.commands.base import CliError, Subparsers, open_context
from tso_bot.config import Settings
from tso_bot.i18n import N_, translator
from tso_bot.notify import planner
from tso_bot.services.context import AppContext


def parse_moment(text: str, ctx: AppContext) -> datetime:
    """An ISO date-time; without an offset it is the school's local time."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise CliError(N_("date et heure ISO attendues, reçu « {value} »"), value=text) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=ctx.calendar.timezone)


async def remind(args: argparse.Namespace, settings: Settings) -> None:
    if not args.dry_run:
        raise CliError(
            N_(
                "seul --dry-run est possible : les rappels sont envoyés par "
                "tso-bot worker (ou tso-bot run)"
            )
        )
    ctx = await open_context(settings)
    try:
        at = parse_moment(args.at, ctx) if args.at else ctx.clock.now()
        since = parse_moment(args.since, ctx) if args.since else None
        if since is not None and since >= at:
            raise CliError(N_("--since doit précéder --at"))
        since, items = await planner.preview(ctx, at, since)
    finally:
        await ctx.db.dispose()
    print_preview(ctx, settings.default_locale, since, at, items)


def print_preview(
    ctx: AppContext,
    locale: str,
    since: datetime,
    at: datetime,
    items: list[planner.PlannedReminder],
) -> None:
    _ = translator(locale, html=False)
    tz = ctx.calendar.timezone
    start, end = (m.astimezone(tz).strftime("%Y-%m-%d %H:%M") for m in (since, at))
    print(
        _(
            "Rappels dus entre le {since} et le {at} (heure de l'établissement) : {count}",
            since=start,
            at=end,
            count=len(items),
        )
    )
    if items:
        print(_("dû le\tétape\tmoment\télève\tdestinataire\trôle\tcanal"))
    roles = {planner.GUARDIAN: _("responsable"), planner.PUPIL: _("élève")}
    for item in items:
        r = item.reminder
        print(
            f"{r.due_at.astimezone(tz):%Y-%m-%d %H:%M}\t{r.step}\t{r.offset or _('ouverture')}"
            f"\t{r.pupil_id}\t{r.recipient}\t{roles[item.audience]}\t{item.channel or '-'}"
        )
    channels = Counter(item.channel or "-" for item in items)
    unreachable = sorted(
        {i.reminder.recipient for i in items if i.channel is None and i.audience == "guardian"}
    )
    print(
        _(
            "Par Telegram : {telegram} ; par courriel : {email} ; "
            "responsables injoignables (ni Telegram ni courriel) : {unreachable}",
            telegram=channels["telegram"],
            email=channels["email"],
            unreachable=len(unreachable),
        )
    )


def register(sub: Subparsers[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("remind", help="the reminders that would be due at a moment")
    p.add_argument("--dry-run", action="store_true", help="list them, send nothing")
    p.add_argument("--at", metavar="ISO_DATETIME", help="default: now (school time if no offset)")
    p.add_argument(
        "--since",
        metavar="ISO_DATETIME",
        help="default: where the planner stopped, or the start of that day",
    )
    p.set_defaults(handler=remind)
