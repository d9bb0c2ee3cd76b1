"""Rules 4 and 6, pure: the council's answer against the request, who on the staff may
record what and when, the staff's buttons, and how a bad file line is named."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from tests.support import paris, seed_calendar
from tso_bot.bot.callbacks import CouncilAction, DecisionAction, parse_council, parse_decision
from tso_bot.domain.calendar import Step
from tso_bot.domain.council import Avis, CouncilLine, CouncilProblem, check_council
from tso_bot.domain.permissions import (
    Denial,
    Role,
    StaffRefusal,
    council_refusal,
    council_window_denial,
    decision_refusal,
    is_staff,
    may_decide,
    may_record_council,
    staff_refusal,
)
from tso_bot.domain.phases import Phase
from tso_bot.domain.ranking import Ranking
from tso_bot.domain.voies import Voie
from tso_bot.services.council import (
    awaiting_comment,
    class_key,
    ordered,
    parse_awaiting_comment,
)
from tso_bot.services.decisions import awaiting_motif, parse_awaiting_motif
from tso_bot.staff.council_checks import council_problems, motif_required
from tso_bot.staff.parsing import CouncilRow, DecisionRow

CAL = seed_calendar()
START, END = paris(2024, 1, 1), paris(2024, 8, 1)
moments = st.integers(0, int((END - START).total_seconds())).map(
    lambda s: START + timedelta(seconds=s)
)
rankings = st.permutations(list(Voie)).flatmap(
    lambda voies: st.integers(0, 3).map(lambda n: Ranking(tuple(voies[:n])))
)
lines = st.lists(
    st.builds(
        CouncilLine,
        voie=st.sampled_from(list(Voie)),
        avis=st.sampled_from(list(Avis)),
        comment=st.one_of(st.none(), st.text(max_size=5)),
    ),
    max_size=5,
)
classes = st.sampled_from(["3eA", "3eB", None])
pupil_ids = st.from_regex(r"[A-Za-z0-9._-]{1,40}", fullmatch=True)


# --- check_council --------------------------------------------------------------------------


def _acceptable(requested: Ranking, answer: list[CouncilLine]) -> bool:
    """What an answer must be, said differently from the implementation."""
    voies = [x.voie for x in answer]
    return (
        bool(requested.voies)
        and len(set(voies)) == len(voies)
        and set(requested.voies) <= set(voies)
        and all((x.avis is Avis.PROPOSITION) == (x.voie not in requested.voies) for x in answer)
    )


@given(rankings, lines)
def test_a_complete_answer_has_no_problem_exactly_when_acceptable(requested, answer) -> None:  # type: ignore[no-untyped-def]
    problems = check_council(requested, answer, complete=True)
    assert (problems == []) == _acceptable(requested, answer)


@given(rankings, lines)
def test_voie_by_voie_only_the_missing_ones_are_forgiven(requested, answer) -> None:  # type: ignore[no-untyped-def]
    partial = check_council(requested, answer, complete=False)
    complete = check_council(requested, answer, complete=True)
    assert partial == [p for p in complete if p[1] is not CouncilProblem.MISSING]
    missing = {v for v, p in complete if p is CouncilProblem.MISSING}
    assert missing == set(requested.voies) - {x.voie for x in answer}


@given(lines)
def test_nothing_requested_nothing_to_answer(answer) -> None:  # type: ignore[no-untyped-def]
    assert check_council(Ranking(), answer) == [(None, CouncilProblem.NO_REQUEST)]


@given(rankings, lines)
def test_answers_are_shown_requested_first_in_rank_order(requested, answer) -> None:  # type: ignore[no-untyped-def]
    shown = ordered(requested, answer)
    assert sorted(map(repr, shown)) == sorted(map(repr, answer))  # a permutation
    first = [x.voie for x in shown if x.voie in requested.voies]
    assert first == sorted(first, key=requested.voies.index)
    seen_other = False
    for x in shown:
        seen_other = seen_other or x.voie not in requested.voies
        assert not (seen_other and x.voie in requested.voies)


# --- Staff permissions ----------------------------------------------------------------------


@given(st.sampled_from(list(Role)), classes, st.sampled_from(["3eA", "3eB"]))
def test_the_council_is_recorded_by_the_pp_of_the_class_or_the_chef(role, mine, theirs) -> None:  # type: ignore[no-untyped-def]
    allowed = may_record_council(role, mine, theirs) is None
    assert allowed == (role is Role.CHEF or (role is Role.PP and mine == theirs))
    if role in (Role.SECRETARIAT, Role.PUPIL, Role.GUARDIAN):
        assert staff_refusal(may_record_council(role, mine, theirs)) is StaffRefusal.READ_ONLY


@given(st.sampled_from(list(Role)))
def test_only_the_chef_decides(role) -> None:  # type: ignore[no-untyped-def]
    assert (may_decide(role) is None) == (role is Role.CHEF)
    assert is_staff(role) == (role in (Role.PP, Role.CHEF, Role.SECRETARIAT))


@given(st.sampled_from(list(Phase)), moments)
def test_the_council_period_is_between_the_entry_close_and_the_answer_close(phase, now) -> None:  # type: ignore[no-untyped-def]
    entry, answer = CAL.windows[phase.entry_step], CAL.windows[phase.answer_step]
    denial = council_window_denial(CAL, phase, now)
    assert (denial is None) == (entry.closes < now <= answer.closes)
    if now <= entry.closes:
        assert denial is Denial.NOT_YET_OPEN
    if now > answer.closes:
        assert denial is Denial.CLOSED


@given(st.sampled_from(list(Phase)), moments, st.booleans(), st.booleans(), st.booleans())
def test_a_council_answer_never_changes_once_the_family_saw_or_answered(  # type: ignore[no-untyped-def]
    phase, now, requested, answered, released
) -> None:
    refusal = council_refusal(
        CAL, phase, now, requested=requested, family_answered=answered, released=released
    )
    window = staff_refusal(council_window_denial(CAL, phase, now))
    if window is not None:
        assert refusal is window
    elif answered:
        assert refusal is StaffRefusal.FAMILY_ANSWERED
    elif released:
        assert refusal is StaffRefusal.RELEASED
    else:
        assert refusal is (None if requested else StaffRefusal.NO_REQUEST)


@given(moments, st.booleans())
def test_a_decision_comes_once_after_the_final_choices(now, decided) -> None:  # type: ignore[no-untyped-def]
    refusal = decision_refusal(CAL, now, decided=decided)
    if now <= CAL.windows[Step.CHOICES].closes:
        assert refusal is StaffRefusal.NOT_YET
    else:
        assert refusal is (StaffRefusal.ALREADY_DECIDED if decided else None)


# --- The staff's buttons and prompts --------------------------------------------------------


council_actions = st.one_of(
    st.just(CouncilAction("h")),
    st.sampled_from(["3eA", "3e Bilingue allemand-anglais", "Troisième É"]).map(
        lambda c: CouncilAction("l", class_key=class_key(c))
    ),
    st.builds(CouncilAction, st.sampled_from(["o", "s"]), st.sampled_from(list(Phase)), pupil_ids),
    st.builds(
        CouncilAction,
        st.sampled_from(["y", "n", "p", "m"]),
        st.sampled_from(list(Phase)),
        pupil_ids,
        st.sampled_from(list(Voie)),
    ),
)
decision_actions = st.one_of(
    st.integers(0, 999).map(lambda n: DecisionAction("t", page=n)),
    st.builds(DecisionAction, st.sampled_from(["o", "m", "s"]), pupil_ids),
    st.builds(
        DecisionAction,
        st.just("v"),
        pupil_ids,
        st.sampled_from([*(v.value for v in Voie), "maintien"]),
    ),
)


@given(council_actions, decision_actions)
def test_staff_buttons_round_trip_and_fit_telegram(council, decision) -> None:  # type: ignore[no-untyped-def]
    for action, parse in ((council, parse_council), (decision, parse_decision)):
        data = action.encode()
        assert len(data.encode()) <= 64
        assert parse(data) == action


@given(st.text(max_size=80))
def test_random_staff_button_data_decodes_to_nothing_or_an_action(data: str) -> None:
    assert parse_council(data) is None or isinstance(parse_council(data), CouncilAction)
    assert parse_decision(data) is None or isinstance(parse_decision(data), DecisionAction)


def test_malformed_staff_buttons_are_rejected() -> None:
    for data in (
        "c:y:p:E001",  # no voie
        "c:y:p:E001:BAC",
        "c:o:x:E001",
        "c:o:p:",
        "c:s:p:E001:2GT",
        "c:l:3eA",  # a class name instead of its key
        "c:z:p:E001",
        "k:v:E001:BAC",
        "k:v:E001",
        "k:t:-1",
        "k:t:１",  # a full-width digit
        "k:o:",
        "k:o:E001:2GT",
    ):
        assert parse_council(data) is None and parse_decision(data) is None, data


@given(pupil_ids, st.sampled_from(list(Phase)), st.sampled_from(list(Voie)))
def test_prompts_fit_the_column_and_round_trip(pupil, phase, voie) -> None:  # type: ignore[no-untyped-def]
    comment = awaiting_comment(pupil, phase, voie)
    assert len(comment) <= 64 and parse_awaiting_comment(comment) == (pupil, phase, voie)
    assert parse_awaiting_motif(awaiting_motif(pupil)) == pupil
    assert (
        parse_awaiting_motif(comment) is None
        and parse_awaiting_comment(awaiting_motif(pupil)) is None
    )


# --- Naming the bad lines of a file ---------------------------------------------------------


def test_each_problem_is_named_on_its_own_line_and_column() -> None:
    rows = [
        CouncilRow(2, "E001", "provisoire", Voie.CAP, "oui", None),
        CouncilRow(4, "E001", "provisoire", Voie.SECONDE_PRO, "proposition", None),
    ]
    requested = (Voie.SECONDE_PRO, Voie.SECONDE_GT)
    problems = check_council(Ranking(requested), [CouncilLine(r.voie, Avis(r.avis)) for r in rows])
    issues = council_problems(rows, Phase.PROVISOIRE, requested, problems)
    # 2PRO is answered, wrongly: only 2GT is missing, reported on the pupil's first line.
    assert [(i.line, i.column) for i in issues] == [(2, "avis"), (4, "avis"), (2, "voie")]
    assert issues[0].params["requested"] == "2PRO>2GT"
    missing = [i for i in issues if i.params.get("voie") == "2GT"]
    assert missing[0].params["rank"] == "2" and missing[0].params["lines"] == "2, 4"
    issue = motif_required(DecisionRow(3, "E001", "maintien", None), Voie.CAP)
    assert (issue.line, issue.column, dict(issue.params)) == (
        3,
        "motif",
        {"decision": "maintien", "request": "CAP"},
    )
