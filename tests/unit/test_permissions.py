"""Rules 2 and 3: who may do what, when."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from tests.support import paris, seed_calendar
from tso_bot.domain.calendar import Step, WindowState
from tso_bot.domain.permissions import (
    Denial,
    Relation,
    Role,
    may_answer_council,
    may_enter_choices,
    may_flag_disagreement,
)

CAL = seed_calendar()
START, END = paris(2024, 1, 1), paris(2024, 7, 1)
moments = st.integers(0, int((END - START).total_seconds())).map(
    lambda s: START + timedelta(seconds=s)
)
relations = st.builds(
    Relation,
    role=st.sampled_from(list(Role)),
    is_guardian_of_pupil=st.booleans(),
    entering_guardian_id=st.one_of(st.none(), st.integers(1, 3)),
    person_id=st.integers(1, 3),
)


@given(relations, moments, st.sampled_from([Step.INTENTIONS, Step.CHOICES]))
def test_only_the_entering_guardian_enters_and_only_in_the_window(rel, now, step) -> None:  # type: ignore[no-untyped-def]
    allowed = may_enter_choices(rel, CAL, step, now) is None
    expected = (
        rel.role is Role.GUARDIAN
        and rel.is_guardian_of_pupil
        and rel.entering_guardian_id in (None, rel.person_id)
        and CAL.state(step, now) is WindowState.OPEN
    )
    assert allowed == expected


@given(relations, moments, st.sampled_from([Step.ACK, Step.RESPONSE]))
def test_either_guardian_answers_the_council_in_the_window(rel, now, step) -> None:  # type: ignore[no-untyped-def]
    allowed = may_answer_council(rel, CAL, step, now) is None
    assert allowed == (
        rel.role is Role.GUARDIAN
        and rel.is_guardian_of_pupil
        and CAL.state(step, now) is WindowState.OPEN
    )


@given(relations)
def test_the_pupil_and_staff_never_act(rel) -> None:  # type: ignore[no-untyped-def]
    if rel.role is not Role.GUARDIAN:
        for step in Step:
            assert may_enter_choices(rel, CAL, step, paris(2024, 3, 1)) is Denial.READ_ONLY
            assert may_answer_council(rel, CAL, step, paris(2024, 4, 2)) is Denial.READ_ONLY
        assert may_flag_disagreement(rel) is Denial.READ_ONLY


def test_only_the_other_guardian_may_disagree() -> None:
    other = Relation(Role.GUARDIAN, True, entering_guardian_id=1, person_id=2)
    entering = Relation(Role.GUARDIAN, True, entering_guardian_id=1, person_id=1)
    nobody_yet = Relation(Role.GUARDIAN, True, entering_guardian_id=None, person_id=2)
    assert may_flag_disagreement(other) is None
    assert may_flag_disagreement(entering) is Denial.ENTERING_CANNOT_DISAGREE
    assert may_flag_disagreement(nobody_yet) is Denial.ENTERING_CANNOT_DISAGREE


def test_window_denials_name_the_reason() -> None:
    rel = Relation(Role.GUARDIAN, True, None, 1)
    assert may_enter_choices(rel, CAL, Step.INTENTIONS, paris(2024, 2, 25, 23, 59)) is (
        Denial.NOT_YET_OPEN
    )
    assert may_enter_choices(rel, CAL, Step.INTENTIONS, paris(2024, 2, 26, 0, 0)) is None
    # "jusqu'au 11/03/2024 minuit": open all of the 11th, closed on the 12th
    assert may_enter_choices(rel, CAL, Step.INTENTIONS, paris(2024, 3, 11, 23, 59)) is None
    assert may_enter_choices(rel, CAL, Step.INTENTIONS, paris(2024, 3, 12, 0, 0)) is (Denial.CLOSED)
