"""Adverse events (with the product lots involved) and outcome scores; a closed adverse
event and its lots are protected by triggers, so even SQL typed by hand cannot rewrite them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _timestamps() -> list[sa.Column[Any]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


EVENT_TYPES = (
    "bruising",
    "infection",
    "granuloma",
    "hyperpigmentation",
    "necrosis",
    "allergic_reaction",
    "nerve_injury",
    "scarring",
    "other",
)
SEVERITIES = ("mild", "moderate", "severe", "life_threatening")
CAUSALITIES = ("certain", "probable", "possible", "unlikely", "unclassified")
OUTCOMES = (
    "recovered",
    "recovering",
    "not_recovered",
    "recovered_with_sequelae",
    "fatal",
    "unknown",
)
SCALES = ("gais", "goodman_baron_qualitative", "patient_satisfaction", "mmasi", "cr_smfrs")


def upgrade() -> None:
    op.create_table(
        "adverse_event",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("event_type", sa.String(30), nullable=False),
        sa.Column("severity", sa.String(30), nullable=False),
        sa.Column("onset_date", sa.Date(), nullable=False),
        sa.Column("causality", sa.String(30), nullable=False),
        sa.Column("treatment_given", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(30), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("reporter_id", sa.Uuid(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(200), nullable=True),
        sa.Column("follows_id", sa.Uuid(), nullable=True),
        sa.Column("follow_up_reason", sa.Text(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(
            _one_of("status", ("open", "closed", "superseded")),
            name=op.f("ck_adverse_event_status"),
        ),
        sa.CheckConstraint(
            _one_of("event_type", EVENT_TYPES), name=op.f("ck_adverse_event_event_type")
        ),
        sa.CheckConstraint(_one_of("severity", SEVERITIES), name=op.f("ck_adverse_event_severity")),
        sa.CheckConstraint(
            _one_of("causality", CAUSALITIES), name=op.f("ck_adverse_event_causality")
        ),
        sa.CheckConstraint(_one_of("outcome", OUTCOMES), name=op.f("ck_adverse_event_outcome")),
        sa.CheckConstraint(
            "status <> 'closed' OR closed_at IS NOT NULL",
            name=op.f("ck_adverse_event_closed_has_time"),
        ),
        sa.CheckConstraint(
            "(follows_id IS NULL) = (follow_up_reason IS NULL)",
            name=op.f("ck_adverse_event_follow_up_has_reason"),
        ),
        sa.CheckConstraint("follows_id <> id", name=op.f("ck_adverse_event_not_self_following")),
        sa.ForeignKeyConstraint(
            ["follows_id"],
            ["adverse_event.id"],
            name=op.f("fk_adverse_event_follows_id_adverse_event"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_adverse_event_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"], ["staff.id"], name=op.f("fk_adverse_event_reporter_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["treatment_session.id"],
            name=op.f("fk_adverse_event_session_id_treatment_session"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adverse_event")),
        sa.UniqueConstraint("follows_id", name=op.f("uq_adverse_event_follows_id")),
    )
    op.create_index(op.f("ix_adverse_event_patient_id"), "adverse_event", ["patient_id"])
    op.create_table(
        "adverse_event_lot",
        sa.Column("adverse_event_id", sa.Uuid(), nullable=False),
        sa.Column("lot_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["adverse_event_id"],
            ["adverse_event.id"],
            name=op.f("fk_adverse_event_lot_adverse_event_id_adverse_event"),
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["product_lot.id"], name=op.f("fk_adverse_event_lot_lot_id_product_lot")
        ),
        sa.PrimaryKeyConstraint("adverse_event_id", "lot_id", name=op.f("pk_adverse_event_lot")),
    )
    op.create_index(op.f("ix_adverse_event_lot_lot_id"), "adverse_event_lot", ["lot_id"])
    op.create_table(
        "outcome",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=True),
        sa.Column("consult_id", sa.Uuid(), nullable=True),
        sa.Column("scale", sa.String(30), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("assessed_on", sa.Date(), nullable=False),
        sa.Column("assessor_id", sa.Uuid(), nullable=True),
        sa.Column("patient_reported", sa.Boolean(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        *_timestamps(),
        sa.CheckConstraint(_one_of("scale", SCALES), name=op.f("ck_outcome_scale")),
        sa.CheckConstraint(
            "(assessor_id IS NOT NULL) <> patient_reported",
            name=op.f("ck_outcome_assessor_or_patient"),
        ),
        sa.ForeignKeyConstraint(
            ["assessor_id"], ["staff.id"], name=op.f("fk_outcome_assessor_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["consult_id"], ["consult.id"], name=op.f("fk_outcome_consult_id_consult")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_outcome_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["treatment_session.id"],
            name=op.f("fk_outcome_session_id_treatment_session"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outcome")),
    )
    op.create_index(op.f("ix_outcome_patient_id"), "outcome", ["patient_id"])
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_guards()
    else:
        _sqlite_guards()


# Columns a closed adverse event keeps when a follow-up supersedes it; a new column must be
# added here (SQLite only: the PostgreSQL guard compares whole rows).
FROZEN_EVENT_COLUMNS = (
    "id",
    "patient_id",
    "session_id",
    "event_type",
    "severity",
    "onset_date",
    "causality",
    "treatment_given",
    "outcome",
    "description",
    "reporter_id",
    "created_by",
    "closed_at",
    "closed_by",
    "follows_id",
    "follow_up_reason",
    "created_at",
)
FROZEN = "a closed adverse event is immutable: record a follow-up instead"


def _sqlite_guards() -> None:
    unchanged = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in FROZEN_EVENT_COLUMNS)
    parent_frozen = "(SELECT status FROM adverse_event WHERE id = {row}.adverse_event_id) <> 'open'"
    statements = [
        f"""CREATE TRIGGER adverse_event_frozen_update BEFORE UPDATE ON adverse_event
        WHEN OLD.status <> 'open' AND NOT (
            OLD.status = 'closed' AND NEW.status = 'superseded' AND {unchanged})
        BEGIN SELECT RAISE(ABORT, '{FROZEN}'); END""",
        f"""CREATE TRIGGER adverse_event_frozen_delete BEFORE DELETE ON adverse_event
        WHEN OLD.status <> 'open'
        BEGIN SELECT RAISE(ABORT, '{FROZEN}'); END""",
        f"""CREATE TRIGGER adverse_event_lot_frozen_insert BEFORE INSERT ON adverse_event_lot
        WHEN {parent_frozen.format(row="NEW")}
        BEGIN SELECT RAISE(ABORT, '{FROZEN}'); END""",
        f"""CREATE TRIGGER adverse_event_lot_frozen_update BEFORE UPDATE ON adverse_event_lot
        WHEN {parent_frozen.format(row="OLD")} OR {parent_frozen.format(row="NEW")}
        BEGIN SELECT RAISE(ABORT, '{FROZEN}'); END""",
        f"""CREATE TRIGGER adverse_event_lot_frozen_delete BEFORE DELETE ON adverse_event_lot
        WHEN {parent_frozen.format(row="OLD")}
        BEGIN SELECT RAISE(ABORT, '{FROZEN}'); END""",
    ]
    for statement in statements:
        op.execute(statement)


def _postgresql_guards() -> None:
    statements = [
        f"""CREATE FUNCTION adverse_event_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF OLD.status = 'open' THEN
                RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
            END IF;
            IF TG_OP = 'UPDATE' AND OLD.status = 'closed' AND NEW.status = 'superseded'
                AND to_jsonb(NEW) - 'status' - 'updated_at'
                    = to_jsonb(OLD) - 'status' - 'updated_at' THEN
                RETURN NEW;
            END IF;
            RAISE EXCEPTION '{FROZEN}' USING ERRCODE = 'integrity_constraint_violation';
        END $$""",
        """CREATE TRIGGER adverse_event_frozen BEFORE UPDATE OR DELETE ON adverse_event
        FOR EACH ROW EXECUTE FUNCTION adverse_event_frozen()""",
        f"""CREATE FUNCTION adverse_event_lot_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF (TG_OP <> 'INSERT' AND EXISTS (SELECT 1 FROM adverse_event
                    WHERE id = OLD.adverse_event_id AND status <> 'open'))
                OR (TG_OP <> 'DELETE' AND EXISTS (SELECT 1 FROM adverse_event
                    WHERE id = NEW.adverse_event_id AND status <> 'open')) THEN
                RAISE EXCEPTION '{FROZEN}' USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
        END $$""",  # noqa: S608 (the message is this module's constant, not input)
        """CREATE TRIGGER adverse_event_lot_frozen
        BEFORE INSERT OR UPDATE OR DELETE ON adverse_event_lot
        FOR EACH ROW EXECUTE FUNCTION adverse_event_lot_frozen()""",
    ]
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    for table in ("outcome", "adverse_event_lot", "adverse_event"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION adverse_event_lot_frozen()")
        op.execute("DROP FUNCTION adverse_event_frozen()")
