"""Button data: short, and anything forged or malformed decodes to None."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tso_bot.bot.callbacks import DossierAction, EditAction, parse_dossier, parse_edit
from tso_bot.domain.phases import Phase
from tso_bot.domain.voies import Voie

# The roster accepts ASCII ids of at most 40 characters (see parse_roster).
pupil_ids = st.from_regex(r"[A-Za-z0-9._-]{1,40}", fullmatch=True)


@given(
    st.sampled_from(list(Phase)),
    st.sampled_from(["add", "rm", "up"]),
    pupil_ids,
    st.sampled_from(list(Voie)),
)
def test_edit_round_trip_fits_telegram(phase, op, pupil, voie) -> None:  # type: ignore[no-untyped-def]
    action = EditAction(phase, op, pupil, voie)
    data = action.encode()
    assert len(data.encode()) <= 64
    assert parse_edit(data) == action


@given(st.text(max_size=80))
def test_random_data_never_crashes(data: str) -> None:
    for parse in (parse_edit, parse_dossier):
        result = parse(data)
        assert result is None or isinstance(result, EditAction | DossierAction)


def test_malformed_buttons_are_rejected() -> None:
    assert parse_edit("e:p:add:E001:BAC") is None
    assert parse_edit("e:x:add:E001:2GT") is None
    assert parse_edit("e:p:add:E001") is None
    assert parse_edit("e:p:ok:E001:2GT") is None
    assert parse_dossier("d:sel") is None
    assert parse_dossier("d:pick") == DossierAction("pick")
    assert parse_dossier("d:admin:E001") is None
