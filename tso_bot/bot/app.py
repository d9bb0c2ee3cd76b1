"""The python-telegram-bot application: builder, defaults, handlers, commands menu."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from telegram import BotCommand, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    Defaults,
    MessageHandler,
    filters,
)

from tso_bot.bot.common import CTX_KEY, Context
from tso_bot.bot.handlers import (
    account,
    answers,
    calendar,
    choices,
    dossier,
    fallback,
    help,
    staff,
    start,
)
from tso_bot.i18n import N_, translator
from tso_bot.services.context import AppContext

# (French command, English command, description). French first; every locale gets its
# own menu with its own command names, and both names work everywhere.
COMMANDS = (
    ("start", "start", N_("Commencer, ou relier votre compte")),
    ("dossier", "file", N_("Voir le dossier et agir")),
    ("calendrier", "calendar", N_("Les dates de chaque étape")),
    ("langue", "language", N_("Changer de langue")),
    ("oublier", "forget", N_("Délier ce compte Telegram")),
    ("aide", "help", N_("Aide")),
)
Callback = Callable[[Update, Context], Coroutine[Any, Any, None]]


def _menu(locale: str) -> list[BotCommand]:
    _ = translator(locale, html=False)
    return [BotCommand(fr if locale == "fr" else en, _(msg)) for fr, en, msg in COMMANDS]


async def _post_init(application: Application) -> None:
    ctx: AppContext = application.bot_data[CTX_KEY]
    ctx.bot_username = application.bot.username
    await application.bot.set_my_commands(_menu("fr"))
    for locale in ("fr", "en"):
        await application.bot.set_my_commands(_menu(locale), language_code=locale)


def register_handlers(application: Application) -> None:
    def command(fr: str, en: str, callback: Callback) -> None:
        names = [fr] if fr == en else [fr, en]
        application.add_handler(CommandHandler(names, callback))

    callbacks: dict[str, Callback] = {
        "start": start.on_start,
        "dossier": dossier.on_dossier,
        "calendrier": calendar.on_calendar,
        "langue": account.on_language,
        "oublier": account.on_forget,
        "aide": help.on_help,
    }
    # Before any command (its own group, so the command's handler still runs after it):
    # a command ends a pending free-text prompt.
    application.add_handler(MessageHandler(filters.COMMAND, staff.end_prompt_on_command), -1)
    for fr, en, _msg in COMMANDS:
        command(fr, en, callbacks[fr])
    add = application.add_handler
    add(CallbackQueryHandler(choices.on_edit_button, pattern=r"^e:"))
    add(CallbackQueryHandler(dossier.on_dossier_button, pattern=r"^d:"))
    add(CallbackQueryHandler(answers.on_answer_button, pattern=r"^a:"))
    add(CallbackQueryHandler(answers.on_appeal_button, pattern=r"^r:"))
    add(CallbackQueryHandler(account.on_language_button, pattern=r"^l:"))
    add(CallbackQueryHandler(account.on_forget_button, pattern=r"^o:"))
    add(CallbackQueryHandler(help.on_help_button, pattern=r"^h:"))
    add(CallbackQueryHandler(staff.on_council_button, pattern=r"^c:"))
    add(CallbackQueryHandler(staff.on_decision_button, pattern=r"^k:"))
    add(CallbackQueryHandler(fallback.on_stale_button))
    add(MessageHandler(filters.COMMAND, fallback.on_unknown_command))
    add(MessageHandler(filters.TEXT, fallback.on_text))
    add(MessageHandler(filters.ALL, fallback.on_other_message))
    application.add_error_handler(fallback.on_error)


def file_url(api_url: str) -> str:
    """Telegram's file URL beside its API URL: `…/bot` → `…/file/bot`."""
    base = api_url.removesuffix("/bot")
    return f"{base}/file/bot"


def build_application(
    ctx: AppContext, token: str, api_url: str, *, updater: bool = True
) -> Application:
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(api_url)
        .base_file_url(file_url(api_url))
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)
            )
        )
        # State lives in our tables, so updates may be handled concurrently.
        .concurrent_updates(True)
        .post_init(_post_init)
    )
    if not updater:
        builder = builder.updater(None)
    application = builder.build()
    application.bot_data[CTX_KEY] = ctx
    register_handlers(application)
    return application
