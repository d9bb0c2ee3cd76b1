"""Rule 6: the chef d'établissement's decision, and the family's appeal."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tso_bot.domain.voies import Voie

MAINTIEN = "maintien"


class AppealKind(StrEnum):
    APPEL = "appel"  # the family contests the decision (commission d'appel)
    MAINTIEN = "maintien"  # the family asks that the pupil stay in 3e instead


@dataclass(frozen=True)
class Decision:
    """A voie, or None for *maintien* (the pupil stays in 3e)."""

    voie: Voie | None
    motif: str | None = None

    @property
    def code(self) -> str:
        return self.voie.value if self.voie else MAINTIEN

    @classmethod
    def from_code(cls, code: str, motif: str | None = None) -> Decision:
        return cls(None if code == MAINTIEN else Voie(code), motif)


def family_request(accepted: Voie | None, final_choices: tuple[Voie, ...]) -> Voie | None:
    """What the family asked for in the end: the voie accepted in the response, else the
    first of the final choices."""
    if accepted is not None:
        return accepted
    return final_choices[0] if final_choices else None


def differs_from_request(decision: Decision, request: Voie | None) -> bool:
    """A decision other than the family's request opens the appeal (and needs a reason)."""
    return decision.voie is None or decision.voie != request
