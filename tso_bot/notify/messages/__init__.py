"""One module per area; importing them registers their renderers."""

from tso_bot.notify.messages import choices, council, reminders

__all__ = ["choices", "council", "reminders"]
