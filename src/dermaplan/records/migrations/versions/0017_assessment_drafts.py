"""Assessment drafts: an assessment being filled in on the web, kept as it is typed, so it
can be resumed; once stored as a consult the draft names it and no longer changes.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "assessment_draft",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=False),
        sa.Column("corrects_id", sa.Uuid(), nullable=True),
        sa.Column("data", _json(), nullable=False),
        sa.Column("consult_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_assessment_draft_clinic_id_clinic")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_assessment_draft_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["staff.id"], name=op.f("fk_assessment_draft_created_by_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["corrects_id"], ["consult.id"], name=op.f("fk_assessment_draft_corrects_id_consult")
        ),
        sa.ForeignKeyConstraint(
            ["consult_id"], ["consult.id"], name=op.f("fk_assessment_draft_consult_id_consult")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment_draft")),
    )
    op.create_index(
        op.f("ix_assessment_draft_patient_id"), "assessment_draft", ["patient_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_assessment_draft_patient_id"), table_name="assessment_draft")
    op.drop_table("assessment_draft")
