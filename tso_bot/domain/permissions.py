"""Who may do what, when (rules 2 and 3). Pure: the caller passes the facts.

Every check answers `None` (allowed) or a `Denial` that the bot turns into a polite,
specific answer. Callback data from Telegram is never trusted: handlers call these with
facts read from the database, not from the button.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from tso_bot.domain.calendar import SchoolCalendar, Step, WindowState


class Role(StrEnum):
    GUARDIAN = "guardian"
    PUPIL = "pupil"
    PP = "pp"
    CHEF = "chef"
    SECRETARIAT = "secretariat"


class Denial(StrEnum):
    NOT_LINKED = "not_linked"  # the person is not related to this pupil
    READ_ONLY = "read_only"  # the pupil, or staff who never enters for a family
    NOT_ENTERING = "not_entering"  # the other guardian already entered the dossier
    NOT_YET_OPEN = "not_yet_open"
    CLOSED = "closed"
    ENTERING_CANNOT_DISAGREE = "entering_cannot_disagree"


@dataclass(frozen=True)
class Relation:
    """How one person stands to one pupil's dossier."""

    role: Role
    is_guardian_of_pupil: bool
    entering_guardian_id: int | None
    person_id: int


def _window_denial(calendar: SchoolCalendar, step: Step, now: datetime) -> Denial | None:
    state = calendar.state(step, now)
    if state is WindowState.NOT_YET:
        return Denial.NOT_YET_OPEN
    if state is WindowState.CLOSED:
        return Denial.CLOSED
    return None


def may_enter_choices(
    rel: Relation, calendar: SchoolCalendar, step: Step, now: datetime
) -> Denial | None:
    """Intentions or final choices: only a guardian, only the entering one once set."""
    if rel.role is not Role.GUARDIAN:
        return Denial.READ_ONLY
    if not rel.is_guardian_of_pupil:
        return Denial.NOT_LINKED
    if rel.entering_guardian_id is not None and rel.entering_guardian_id != rel.person_id:
        return Denial.NOT_ENTERING
    return _window_denial(calendar, step, now)


def may_answer_council(
    rel: Relation, calendar: SchoolCalendar, step: Step, now: datetime
) -> Denial | None:
    """Acknowledgement or response: either guardian, within the window."""
    if rel.role is not Role.GUARDIAN:
        return Denial.READ_ONLY
    if not rel.is_guardian_of_pupil:
        return Denial.NOT_LINKED
    return _window_denial(calendar, step, now)


def may_flag_disagreement(rel: Relation) -> Denial | None:
    """Only the guardian who did not enter the dossier may say they disagree."""
    if rel.role is not Role.GUARDIAN:
        return Denial.READ_ONLY
    if not rel.is_guardian_of_pupil:
        return Denial.NOT_LINKED
    if rel.entering_guardian_id is None or rel.entering_guardian_id == rel.person_id:
        return Denial.ENTERING_CANNOT_DISAGREE
    return None
