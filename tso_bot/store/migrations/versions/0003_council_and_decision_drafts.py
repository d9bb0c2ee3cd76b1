"""council and decision drafts (the staff's answers being entered in Telegram)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 20:17:49.588379
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "council_drafts",
        sa.Column("pupil_id", sa.String(length=64), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("voie", sa.String(length=8), nullable=False),
        sa.Column("avis", sa.String(length=16), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_council_drafts_person_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["pupil_id"], ["pupils.id"], name=op.f("fk_council_drafts_pupil_id_pupils")
        ),
        sa.PrimaryKeyConstraint("pupil_id", "phase", "voie", name=op.f("pk_council_drafts")),
    )
    op.create_table(
        "decision_drafts",
        sa.Column("pupil_id", sa.String(length=64), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("motif", sa.Text(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_decision_drafts_person_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["pupil_id"], ["pupils.id"], name=op.f("fk_decision_drafts_pupil_id_pupils")
        ),
        sa.PrimaryKeyConstraint("pupil_id", name=op.f("pk_decision_drafts")),
    )


def downgrade() -> None:
    op.drop_table("decision_drafts")
    op.drop_table("council_drafts")
