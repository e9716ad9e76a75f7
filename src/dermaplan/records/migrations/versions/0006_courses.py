"""Courses: a course of one modality started from an approved consult's plan, and its
planned sessions, each fulfilled by a recorded treatment session.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _timestamps() -> list[sa.Column[Any]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def upgrade() -> None:
    op.create_table(
        "course",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("consult_id", sa.Uuid(), nullable=False),
        sa.Column("modality", sa.String(20), nullable=False),
        sa.Column("sessions_planned", sa.Integer(), nullable=False),
        sa.Column("interval_days", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_by", sa.String(200), nullable=True),
        sa.Column("cancellation_reason", sa.Text(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(
            _one_of("modality", ("mesotherapy", "microneedling", "combined")),
            name=op.f("ck_course_modality"),
        ),
        sa.CheckConstraint(
            _one_of("status", ("planned", "completed", "cancelled")),
            name=op.f("ck_course_status"),
        ),
        sa.CheckConstraint(
            "(status = 'cancelled') = (cancellation_reason IS NOT NULL"
            " AND cancelled_at IS NOT NULL AND cancelled_by IS NOT NULL)",
            name=op.f("ck_course_cancellation_has_reason"),
        ),
        sa.CheckConstraint("sessions_planned >= 1", name=op.f("ck_course_sessions_positive")),
        sa.CheckConstraint("interval_days >= 0", name=op.f("ck_course_interval_not_negative")),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_course_clinic_id_clinic")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_course_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["consult_id"], ["consult.id"], name=op.f("fk_course_consult_id_consult")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_course")),
    )
    op.create_index(op.f("ix_course_patient_id"), "course", ["patient_id"])
    op.create_index(op.f("ix_course_consult_id"), "course", ["consult_id"])
    op.create_table(
        "planned_session",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("course_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("planned_on", sa.Date(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint("number >= 1", name=op.f("ck_planned_session_number_positive")),
        sa.ForeignKeyConstraint(
            ["course_id"], ["course.id"], name=op.f("fk_planned_session_course_id_course")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["treatment_session.id"],
            name=op.f("fk_planned_session_session_id_treatment_session"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_planned_session")),
        sa.UniqueConstraint(
            "course_id", "number", name=op.f("uq_planned_session_course_id_number")
        ),
        sa.UniqueConstraint("session_id", name=op.f("uq_planned_session_session_id")),
    )


def downgrade() -> None:
    op.drop_table("planned_session")
    op.drop_table("course")
