"""The two phases of the procedure and the steps that belong to each."""

from __future__ import annotations

from enum import StrEnum

from tso_bot.domain.calendar import Step
from tso_bot.i18n import N_


class Phase(StrEnum):
    PROVISOIRE = "provisoire"
    DEFINITIVE = "definitive"

    @property
    def entry_step(self) -> Step:
        """The step in which the entering guardian ranks voies."""
        return Step.INTENTIONS if self is Phase.PROVISOIRE else Step.CHOICES

    @property
    def answer_step(self) -> Step:
        """The step in which either guardian answers the council."""
        return Step.ACK if self is Phase.PROVISOIRE else Step.RESPONSE

    @property
    def choices_label(self) -> str:
        return _CHOICES_LABELS[self]


_CHOICES_LABELS = {
    Phase.PROVISOIRE: N_("intentions provisoires"),
    Phase.DEFINITIVE: N_("choix définitifs"),
}


def phase_of(step: Step) -> Phase:
    return Phase.PROVISOIRE if step in (Step.INTENTIONS, Step.ACK) else Phase.DEFINITIVE
