"""One module per area; importing them registers their renderers."""

from tso_bot.notify.messages import choices

__all__ = ["choices"]
