"""Rule 1: ranked voies — at least one, at most three, each once, rank 1 preferred."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tso_bot.domain.ranking import MAX_VOIES, Ranking, RankingError
from tso_bot.domain.voies import Voie, parse_voie

edits = st.lists(
    st.tuples(st.sampled_from(["add", "rm", "up"]), st.sampled_from(list(Voie))), max_size=30
)


def apply(ranking: Ranking, op: str, voie: Voie) -> Ranking:
    return {"add": ranking.add, "rm": ranking.remove, "up": ranking.move_up}[op](voie)


@given(edits)
def test_any_sequence_of_edits_keeps_the_rules(ops: list[tuple[str, Voie]]) -> None:
    ranking = Ranking()
    for op, voie in ops:
        with contextlib.suppress(RankingError):  # a refused edit leaves it as it was
            ranking = apply(ranking, op, voie)
        assert len(ranking.voies) <= MAX_VOIES
        assert len(set(ranking.voies)) == len(ranking.voies)
        assert set(ranking.available()) | set(ranking.voies) == set(Voie)


@given(st.permutations(list(Voie)), st.integers(min_value=0, max_value=3))
def test_encode_decode_round_trip(voies: list[Voie], n: int) -> None:
    ranking = Ranking(tuple(voies[:n]))
    assert Ranking.decode(ranking.encode()) == ranking
    assert ranking.can_validate == (n >= 1)


@given(st.permutations(list(Voie)))
def test_move_up_swaps_with_the_rank_above(voies: list[Voie]) -> None:
    ranking = Ranking(tuple(voies))
    moved = ranking.move_up(voies[2])
    assert moved.voies == (voies[0], voies[2], voies[1])
    assert ranking.move_up(voies[0]) == ranking  # rank 1 stays first


def test_contract_encoding() -> None:
    ranking = Ranking().add(Voie.SECONDE_GT).add(Voie.SECONDE_PRO).add(Voie.CAP)
    assert ranking.encode() == "2GT>2PRO>CAP"


@pytest.mark.parametrize(
    ("start", "op", "voie", "reason"),
    [
        ((Voie.CAP,), "add", Voie.CAP, "duplicate"),
        ((Voie.CAP, Voie.SECONDE_GT, Voie.SECONDE_PRO), "add", Voie.CAP, "duplicate"),
        ((), "rm", Voie.CAP, "absent"),
    ],
)
def test_refused_edits_say_why(start: tuple[Voie, ...], op: str, voie: Voie, reason: str) -> None:
    with pytest.raises(RankingError) as err:
        apply(Ranking(start), op, voie)
    assert err.value.reason == reason


def test_invalid_values_cannot_be_built() -> None:
    with pytest.raises(RankingError):
        Ranking((Voie.CAP, Voie.CAP))
    with pytest.raises(RankingError):
        Ranking.decode("2GT>BAC")


def test_voie_codes_and_labels() -> None:
    assert parse_voie(" 2pro ") is Voie.SECONDE_PRO
    assert parse_voie("BAC") is None
    assert Voie.SECONDE_GT.label == "2de générale et technologique ou 2de STHR"
    assert Voie.CAP.label == "1re année de CAP"
