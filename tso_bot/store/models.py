"""Tables. Every state change is written with its audit row and outbox rows in one
transaction (see `tso_bot.store.uow`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.expression import false

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no time zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


class Person(Base):
    """Anyone who may link a Telegram account: guardian, pupil or staff member."""

    __tablename__ = "people"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    nom: Mapped[str] = mapped_column(String(200))
    prenom: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    classe: Mapped[str | None] = mapped_column(String(32))  # a PP's class
    locale: Mapped[str] = mapped_column(String(8), default="fr")
    chat_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    telegram_reachable: Mapped[bool] = mapped_column(Boolean, default=True)
    current_pupil_id: Mapped[str | None] = mapped_column(String(64))
    # What the next free text from this person answers (e.g. a council comment), kept in
    # the database like every other state, never in PTB's memory.
    awaiting: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]

    @property
    def full_name(self) -> str:
        return f"{self.prenom} {self.nom}".strip()


class Pupil(Base):
    __tablename__ = "pupils"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # eleve_id
    classe: Mapped[str] = mapped_column(String(32), index=True)
    nom: Mapped[str] = mapped_column(String(200))
    prenom: Mapped[str] = mapped_column(String(200))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), unique=True)

    @property
    def full_name(self) -> str:
        return f"{self.prenom} {self.nom}".strip()


class Guardianship(Base):
    """RL1 / RL2 of a pupil."""

    __tablename__ = "guardianships"
    pupil_id: Mapped[str] = mapped_column(ForeignKey("pupils.id"), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    __table_args__ = (UniqueConstraint("pupil_id", "person_id"),)


class Invite(Base):
    __tablename__ = "invites"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    created_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class LinkFailure(Base):
    """A wrong invitation code typed in a chat (lock-out after five in an hour)."""

    __tablename__ = "link_failures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    at: Mapped[datetime]


class EnteringGuardian(Base):
    """Rule 2: the primary key makes the first validation win a race, in the database."""

    __tablename__ = "entering_guardians"
    pupil_id: Mapped[str] = mapped_column(ForeignKey("pupils.id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    at: Mapped[datetime]


class Draft(Base):
    """Voies being ranked, before validation."""

    __tablename__ = "drafts"
    pupil_id: Mapped[str] = mapped_column(ForeignKey("pupils.id"), primary_key=True)
    phase: Mapped[str] = mapped_column(String(16), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    voies: Mapped[str] = mapped_column(String(32), default="")
    updated_at: Mapped[datetime]


class ChoiceVersion(Base):
    """A validated list of ranked voies; every validation is a new version."""

    __tablename__ = "choice_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pupil_id: Mapped[str] = mapped_column(ForeignKey("pupils.id"))
    phase: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    voies: Mapped[str] = mapped_column(String(32))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    at: Mapped[datetime]
    __table_args__ = (UniqueConstraint("pupil_id", "phase", "version"),)


class AuditEntry(Base):
    """Append-only (rule 7): who, what, when, before → after."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    pupil_id: Mapped[str | None] = mapped_column(String(64), index=True)
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]


class OutboxMessage(Base):
    """A notification to deliver, written in the same transaction as the change."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)  # idempotency key
    kind: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))  # telegram | email
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    params: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # Reminders: dropped (status "expired") once their window has closed, and held while
    # the school's quiet hours last, however far behind the dispatcher is.
    expires_at: Mapped[datetime | None]
    quiet_hours: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Set just before the request goes out and cleared with its outcome: a row found with
    # it set was in flight when its dispatcher died, and may already have been delivered.
    sending_at: Mapped[datetime | None]
    __table_args__ = (Index("ix_outbox_due", "status", "not_before"),)


class CouncilAnswerRow(Base):
    """One line of the council's answer: a voie, its avis, an optional comment."""

    __tablename__ = "council_answers"
    pupil_id: Mapped[str] = mapped_column(ForeignKey("pupils.id"), primary_key=True)
    phase: Mapped[str] = mapped_column(String(16), primary_key=True)
    voie: Mapped[str] = mapped_column(String(8), primary_key=True)
    avis: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))  # None: import
    at: Mapped[datetime]


class FamilyAnswerRow(Base):
    """The acknowledgement (provisoire) or response (définitive). The primary key makes
    it once per pupil and phase, whichever guardian answers first."""

    __tablename__ = "family_answers"
    pupil_id: Mapped[str] = mapped_column(ForeignKey("pupils.id"), primary_key=True)
    phase: Mapped[str] = mapped_column(String(16), primary_key=True)
    accepted_voie: Mapped[str | None] = mapped_column(String(8))  # None: refuses all
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    at: Mapped[datetime]


class DecisionRow(Base):
    """The chef d'établissement's decision (a voie or `maintien`)."""

    __tablename__ = "decisions"
    pupil_id: Mapped[str] = mapped_column(ForeignKey("pupils.id"), primary_key=True)
    decision: Mapped[str] = mapped_column(String(16))
    motif: Mapped[str | None] = mapped_column(Text)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))  # None: import
    at: Mapped[datetime]
    appeal_deadline: Mapped[datetime | None]  # set when it differs from the request


class AppealRow(Base):
    """A family's *je fais appel* or *je demande le maintien*, once per pupil."""

    __tablename__ = "appeals"
    pupil_id: Mapped[str] = mapped_column(ForeignKey("pupils.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    at: Mapped[datetime]


class CouncilDraftRow(Base):
    """The council's answer being entered in Telegram, voie by voie, before it is recorded.

    Kept apart from `council_answers` so that families never see half an answer; shared by
    whoever may record it (the PP, the chef), since it is the council's answer, not theirs.
    """

    __tablename__ = "council_drafts"
    pupil_id: Mapped[str] = mapped_column(ForeignKey("pupils.id"), primary_key=True)
    phase: Mapped[str] = mapped_column(String(16), primary_key=True)
    voie: Mapped[str] = mapped_column(String(8), primary_key=True)
    avis: Mapped[str | None] = mapped_column(String(16))  # None: not answered yet
    comment: Mapped[str | None] = mapped_column(Text)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))  # the last to edit
    updated_at: Mapped[datetime]


class DecisionDraftRow(Base):
    """The chef's decision being prepared in Telegram: the choice, then the motif."""

    __tablename__ = "decision_drafts"
    pupil_id: Mapped[str] = mapped_column(ForeignKey("pupils.id"), primary_key=True)
    decision: Mapped[str] = mapped_column(String(16))
    motif: Mapped[str | None] = mapped_column(Text)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    updated_at: Mapped[datetime]


class PlannerMark(Base):
    """How far a periodic planner has planned: the next run covers (until, now]."""

    __tablename__ = "planner_marks"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    until: Mapped[datetime]
    updated_at: Mapped[datetime]
