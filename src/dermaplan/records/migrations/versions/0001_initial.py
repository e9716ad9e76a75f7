"""Clinic, staff, patient, consult and the audit log; approved consults and audit events
are protected by triggers, so even SQL typed by hand cannot rewrite them.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _timestamps() -> list[sa.Column[Any]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def upgrade() -> None:
    op.create_table(
        "clinic",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinic")),
    )
    op.create_table(
        "staff",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("registration", sa.String(100), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        *_timestamps(),
        sa.CheckConstraint(_one_of("role", ("practitioner", "staff")), name=op.f("ck_staff_role")),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_staff_clinic_id_clinic")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff")),
    )
    op.create_index(op.f("ix_staff_clinic_id"), "staff", ["clinic_id"])
    op.create_table(
        "patient",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("family_name", sa.String(200), nullable=False),
        sa.Column("given_names", sa.String(200), nullable=False),
        sa.Column(
            "search_name",
            sa.String(400).with_variant(sa.String(400, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("sex", sa.String(20), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("phone", sa.String(40), nullable=True),
        sa.Column("identifiers", _json(), nullable=False),
        sa.Column("allergies", _json(), nullable=True),
        sa.Column("history", _json(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(200), nullable=True),
        sa.Column("deletion_reason", sa.Text(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(
            _one_of("sex", ("female", "male", "intersex")), name=op.f("ck_patient_sex")
        ),
        sa.CheckConstraint(
            "(deleted_at IS NULL) = (deletion_reason IS NULL)",
            name=op.f("ck_patient_deletion_has_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_patient_clinic_id_clinic")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient")),
    )
    op.create_index("ix_patient_search_name", "patient", ["clinic_id", "search_name", "id"])
    op.create_table(
        "consult",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("consult_date", sa.Date(), nullable=False),
        sa.Column("assessment_json", sa.Text(), nullable=False),
        sa.Column("plan_json", sa.Text(), nullable=False),
        sa.Column("knowledge_version", sa.String(100), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("approved_by_id", sa.Uuid(), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("supersedes_id", sa.Uuid(), nullable=True),
        sa.Column("correction_reason", sa.Text(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(
            _one_of("status", ("draft", "approved", "superseded")), name=op.f("ck_consult_status")
        ),
        sa.CheckConstraint(
            "(status = 'draft') = (approved_at IS NULL AND approved_by_id IS NULL)",
            name=op.f("ck_consult_approval_matches_status"),
        ),
        sa.CheckConstraint(
            "(supersedes_id IS NULL) = (correction_reason IS NULL)",
            name=op.f("ck_consult_correction_has_reason"),
        ),
        sa.CheckConstraint("supersedes_id <> id", name=op.f("ck_consult_not_self_superseding")),
        sa.ForeignKeyConstraint(
            ["approved_by_id"], ["staff.id"], name=op.f("fk_consult_approved_by_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_consult_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"], ["consult.id"], name=op.f("fk_consult_supersedes_id_consult")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consult")),
        sa.UniqueConstraint("supersedes_id", name=op.f("uq_consult_supersedes_id")),
    )
    op.create_index(op.f("ix_consult_patient_id"), "consult", ["patient_id"])
    op.create_table(
        "audit_event",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("record_type", sa.String(50), nullable=False),
        sa.Column("record_id", sa.String(36), nullable=True),
        sa.Column("patient_id", sa.Uuid(), nullable=True),
        sa.Column("before_digest", sa.String(64), nullable=True),
        sa.Column("after_digest", sa.String(64), nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_event")),
    )
    op.create_index(op.f("ix_audit_event_occurred_at"), "audit_event", ["occurred_at"])
    op.create_index(op.f("ix_audit_event_patient_id"), "audit_event", ["patient_id"])
    op.create_index(op.f("ix_audit_event_record_id"), "audit_event", ["record_id"])
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_guards()
    else:
        _sqlite_guards()


# Columns an approved consult keeps; a new consult column must be added here (SQLite only:
# the PostgreSQL guard compares whole rows).
FROZEN_CONSULT_COLUMNS = (
    "id",
    "patient_id",
    "consult_date",
    "assessment_json",
    "plan_json",
    "knowledge_version",
    "created_by",
    "approved_by_id",
    "approved_at",
    "supersedes_id",
    "correction_reason",
    "created_at",
)
APPEND_ONLY = "audit events are append-only"
FROZEN = "an approved consult is immutable: record a correction instead"


def _sqlite_guards() -> None:
    unchanged = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in FROZEN_CONSULT_COLUMNS)
    statements = [
        f"""CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
        BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END""",
        f"""CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
        BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END""",
        f"""CREATE TRIGGER consult_frozen_update BEFORE UPDATE ON consult
        WHEN OLD.status <> 'draft' AND NOT (
            OLD.status = 'approved' AND NEW.status = 'superseded' AND {unchanged})
        BEGIN SELECT RAISE(ABORT, '{FROZEN}'); END""",
        f"""CREATE TRIGGER consult_frozen_delete BEFORE DELETE ON consult
        WHEN OLD.status <> 'draft'
        BEGIN SELECT RAISE(ABORT, '{FROZEN}'); END""",
    ]
    for statement in statements:
        op.execute(statement)


def _postgresql_guards() -> None:
    statements = [
        f"""CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '{APPEND_ONLY}' USING ERRCODE = 'integrity_constraint_violation';
        END $$""",
        """CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
        FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()""",
        f"""CREATE FUNCTION consult_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF OLD.status = 'draft' THEN
                RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
            END IF;
            IF TG_OP = 'UPDATE' AND OLD.status = 'approved' AND NEW.status = 'superseded'
                AND to_jsonb(NEW) - 'status' - 'updated_at'
                    = to_jsonb(OLD) - 'status' - 'updated_at' THEN
                RETURN NEW;
            END IF;
            RAISE EXCEPTION '{FROZEN}' USING ERRCODE = 'integrity_constraint_violation';
        END $$""",
        """CREATE TRIGGER consult_frozen BEFORE UPDATE OR DELETE ON consult
        FOR EACH ROW EXECUTE FUNCTION consult_frozen()""",
    ]
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    for table in ("audit_event", "consult", "patient", "staff", "clinic"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION consult_frozen()")
        op.execute("DROP FUNCTION audit_event_append_only()")
