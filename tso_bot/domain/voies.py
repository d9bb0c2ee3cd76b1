"""The voies d'orientation after 3e: stable codes, localised labels."""

from __future__ import annotations

from enum import StrEnum

from tso_bot.i18n import N_


class Voie(StrEnum):
    SECONDE_GT = "2GT"
    SECONDE_PRO = "2PRO"
    CAP = "CAP"

    @property
    def label(self) -> str:
        """The French label (a msgid): translate it where it is shown."""
        return _LABELS[self]


_LABELS = {
    Voie.SECONDE_GT: N_("2de générale et technologique ou 2de STHR"),
    Voie.SECONDE_PRO: N_("2de professionnelle"),
    Voie.CAP: N_("1re année de CAP"),
}


def parse_voie(code: str) -> Voie | None:
    """A voie from its code, whatever its case; None when it is not one."""
    try:
        return Voie(code.strip().upper())
    except ValueError:
        return None
