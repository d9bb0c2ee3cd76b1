"""Ranked voies (rule 1): at least one, at most three, each voie once, rank 1 preferred.

`Ranking` is immutable: every edit returns a new value or raises `RankingError`, so a
draft kept in the database can never hold an invalid list.
"""

from __future__ import annotations

from dataclasses import dataclass

from tso_bot.domain.voies import Voie, parse_voie

MAX_VOIES = 3
SEPARATOR = ">"


class RankingError(ValueError):
    """An edit that would break the ranking rules; `reason` is a stable code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Ranking:
    voies: tuple[Voie, ...] = ()

    def __post_init__(self) -> None:
        if len(self.voies) > MAX_VOIES:
            raise RankingError("too_many")
        if len(set(self.voies)) != len(self.voies):
            raise RankingError("duplicate")

    def add(self, voie: Voie) -> Ranking:
        if voie in self.voies:
            raise RankingError("duplicate")
        if len(self.voies) >= MAX_VOIES:
            raise RankingError("too_many")
        return Ranking((*self.voies, voie))

    def remove(self, voie: Voie) -> Ranking:
        if voie not in self.voies:
            raise RankingError("absent")
        return Ranking(tuple(v for v in self.voies if v != voie))

    def move_up(self, voie: Voie) -> Ranking:
        """Swap the voie with the one ranked just above it (no-op for rank 1)."""
        if voie not in self.voies:
            raise RankingError("absent")
        i = self.voies.index(voie)
        if i == 0:
            return self
        items = list(self.voies)
        items[i - 1], items[i] = items[i], items[i - 1]
        return Ranking(tuple(items))

    def available(self) -> tuple[Voie, ...]:
        """Voies that may still be added, in the official order."""
        return tuple(v for v in Voie if v not in self.voies)

    @property
    def can_validate(self) -> bool:
        return 1 <= len(self.voies) <= MAX_VOIES

    def encode(self) -> str:
        """The contract's form, e.g. ``2GT>2PRO>CAP``."""
        return SEPARATOR.join(v.value for v in self.voies)

    @classmethod
    def decode(cls, text: str | None) -> Ranking:
        if not text:
            return cls()
        voies = []
        for code in text.split(SEPARATOR):
            voie = parse_voie(code)
            if voie is None:
                raise RankingError("unknown_voie")
            voies.append(voie)
        return cls(tuple(voies))

    def __len__(self) -> int:
        return len(self.voies)
