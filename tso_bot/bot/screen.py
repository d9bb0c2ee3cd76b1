"""What a view returns — a message text (Telegram HTML) and its inline keyboard — and the
small builders every view uses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from tso_bot.domain.calendar import SchoolCalendar
from tso_bot.i18n import format_datetime


@dataclass(frozen=True)
class Screen:
    text: str
    keyboard: InlineKeyboardMarkup | None = None


def keyboard(rows: list[list[InlineKeyboardButton]]) -> InlineKeyboardMarkup | None:
    """An inline keyboard without empty rows, or none at all."""
    rows = [r for r in rows if r]
    return InlineKeyboardMarkup(rows) if rows else None


def button(label: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=data)


def school_time(cal: SchoolCalendar, moment: datetime, locale: str) -> str:
    """A moment as the reader sees it: in the school's time zone, in their language."""
    return format_datetime(moment, cal.timezone, locale)
