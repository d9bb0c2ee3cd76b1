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
from tso_bot.domain.phases import Phase


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


# --- Staff (rules 4 and 6) ------------------------------------------------------------------
# Staff rights come from the person's role and class as stored in the database, never from a
# button: callers pass what they read.

_STAFF_ROLES = frozenset({Role.PP, Role.CHEF, Role.SECRETARIAT})


def is_staff(role: Role) -> bool:
    return role in _STAFF_ROLES


def may_record_council(role: Role, staff_classe: str | None, pupil_classe: str) -> Denial | None:
    """The council's answer: the PP of the pupil's class, or the chef d'établissement.
    The secrétariat reads and helps but never enters; families never do."""
    if role is Role.CHEF:
        return None
    if role is Role.PP:
        return None if staff_classe == pupil_classe else Denial.NOT_LINKED
    return Denial.READ_ONLY


def may_decide(role: Role) -> Denial | None:
    """The orientation decision is the chef d'établissement's alone."""
    return None if role is Role.CHEF else Denial.READ_ONLY


def council_window_denial(calendar: SchoolCalendar, phase: Phase, now: datetime) -> Denial | None:
    """The council answers a phase once the family's entry window has closed (the council
    meets after it) and until the family's answer window closes (after that, nobody could
    acknowledge or respond). Without both windows in the calendar it cannot be placed."""
    entry = calendar.window(phase.entry_step)
    answer = calendar.window(phase.answer_step)
    if entry is None or answer is None or now <= entry.closes:
        return Denial.NOT_YET_OPEN
    if now > answer.closes:
        return Denial.CLOSED
    return None


def decision_window_denial(calendar: SchoolCalendar, now: datetime) -> Denial | None:
    """The decision comes after the final choices are closed; the appeal window that follows
    is computed from the decision's own notification, so there is no upper bound here."""
    choices = calendar.window(Step.CHOICES)
    if choices is None or now <= choices.closes:
        return Denial.NOT_YET_OPEN
    return None


class StaffRefusal(StrEnum):
    """Why a council answer or a decision cannot be recorded (import or Telegram alike)."""

    NOT_LINKED = "not_linked"  # no such person or pupil: a forged button or a stale id
    READ_ONLY = "read_only"  # the secrétariat, a family, or not the chef for a decision
    OTHER_CLASS = "other_class"  # a PP, for a pupil of another class
    NOT_YET = "not_yet"  # the family's entry window has not closed yet (or is not dated)
    CLOSED = "closed"  # the family's answer window has closed
    NO_REQUEST = "no_request"  # the family validated no voie in that phase
    FAMILY_ANSWERED = "family_answered"  # the family already acknowledged or responded
    RELEASED = "released"  # the family has (or may have) seen the answer already
    ALREADY_DECIDED = "already_decided"


_WINDOW_REFUSALS = {Denial.NOT_YET_OPEN: StaffRefusal.NOT_YET, Denial.CLOSED: StaffRefusal.CLOSED}
_RIGHT_REFUSALS = {Denial.NOT_LINKED: StaffRefusal.OTHER_CLASS}


def staff_refusal(denial: Denial | None) -> StaffRefusal | None:
    """A rights or window denial in the staff's terms."""
    if denial is None:
        return None
    return _WINDOW_REFUSALS.get(denial) or _RIGHT_REFUSALS.get(denial) or StaffRefusal.READ_ONLY


def council_refusal(
    calendar: SchoolCalendar,
    phase: Phase,
    now: datetime,
    *,
    requested: bool,
    family_answered: bool,
    released: bool,
) -> StaffRefusal | None:
    """Whether the council's answer for one pupil and phase may be (re)recorded now.

    Once the family has answered, or could have seen the answer, it must not change under
    their feet: the answer they acted on is the one on record."""
    window = staff_refusal(council_window_denial(calendar, phase, now))
    if window is not None:
        return window
    if family_answered:
        return StaffRefusal.FAMILY_ANSWERED
    if released:
        return StaffRefusal.RELEASED
    if not requested:
        return StaffRefusal.NO_REQUEST
    return None


def decision_refusal(
    calendar: SchoolCalendar, now: datetime, *, decided: bool
) -> StaffRefusal | None:
    """Once per pupil, after the final choices closed."""
    window = staff_refusal(decision_window_denial(calendar, now))
    if window is not None:
        return window
    return StaffRefusal.ALREADY_DECIDED if decided else None
