"""Product lots and treatment sessions; signed sessions and their products are protected by
triggers, so even SQL typed by hand cannot rewrite them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
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
        "product_lot",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("product", sa.String(200), nullable=False),
        sa.Column("lot_number", sa.String(100), nullable=False),
        sa.Column("expiry_date", sa.Date(), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_product_lot_clinic_id_clinic")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_lot")),
        sa.UniqueConstraint(
            "clinic_id",
            "product",
            "lot_number",
            name=op.f("uq_product_lot_clinic_id_product_lot_number"),
        ),
    )
    op.create_index("ix_product_lot_lot_number", "product_lot", ["clinic_id", "lot_number"])
    op.create_table(
        "treatment_session",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("practitioner_id", sa.Uuid(), nullable=False),
        sa.Column("consult_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("performed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modality", sa.String(20), nullable=False),
        sa.Column("areas", _json(), nullable=False),
        sa.Column("device", sa.String(200), nullable=True),
        sa.Column("needle_cartridge", sa.String(200), nullable=True),
        sa.Column("depths_mm", _json(), nullable=False),
        sa.Column("passes", _json(), nullable=False),
        sa.Column("injection_points", _json(), nullable=False),
        sa.Column("anaesthesia", sa.Text(), nullable=True),
        sa.Column("deviations", _json(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("overridden", _json(), nullable=True),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("signed_by_id", sa.Uuid(), nullable=True),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("missing_at_signing", _json(), nullable=True),
        sa.Column("incomplete_reason", sa.Text(), nullable=True),
        sa.Column("amends_id", sa.Uuid(), nullable=True),
        sa.Column("amendment_reason", sa.Text(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(
            _one_of("status", ("draft", "signed", "amended")),
            name=op.f("ck_treatment_session_status"),
        ),
        sa.CheckConstraint(
            _one_of("modality", ("mesotherapy", "microneedling", "combined")),
            name=op.f("ck_treatment_session_modality"),
        ),
        sa.CheckConstraint(
            "(status = 'draft') = (signed_at IS NULL AND signed_by_id IS NULL)",
            name=op.f("ck_treatment_session_signature_matches_status"),
        ),
        sa.CheckConstraint(
            "(amends_id IS NULL) = (amendment_reason IS NULL)",
            name=op.f("ck_treatment_session_amendment_has_reason"),
        ),
        sa.CheckConstraint("amends_id <> id", name=op.f("ck_treatment_session_not_self_amending")),
        sa.CheckConstraint(
            "(override_reason IS NULL) = (overridden IS NULL)",
            name=op.f("ck_treatment_session_override_has_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["amends_id"],
            ["treatment_session.id"],
            name=op.f("fk_treatment_session_amends_id_treatment_session"),
        ),
        sa.ForeignKeyConstraint(
            ["consult_id"], ["consult.id"], name=op.f("fk_treatment_session_consult_id_consult")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_treatment_session_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["staff.id"],
            name=op.f("fk_treatment_session_practitioner_id_staff"),
        ),
        sa.ForeignKeyConstraint(
            ["signed_by_id"], ["staff.id"], name=op.f("fk_treatment_session_signed_by_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_treatment_session")),
        sa.UniqueConstraint("amends_id", name=op.f("uq_treatment_session_amends_id")),
    )
    op.create_index(op.f("ix_treatment_session_patient_id"), "treatment_session", ["patient_id"])
    op.create_table(
        "session_product",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(200), nullable=False),
        sa.Column("lot_id", sa.Uuid(), nullable=True),
        sa.Column("volumes_ml", _json(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["product_lot.id"], name=op.f("fk_session_product_lot_id_product_lot")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["treatment_session.id"],
            name=op.f("fk_session_product_session_id_treatment_session"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_product")),
        sa.UniqueConstraint(
            "session_id", "position", name=op.f("uq_session_product_session_id_position")
        ),
    )
    op.create_index(op.f("ix_session_product_lot_id"), "session_product", ["lot_id"])
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_guards()
    else:
        _sqlite_guards()


# Columns a signed session keeps when a signed amendment replaces it; a new session column
# must be added here (SQLite only: the PostgreSQL guard compares whole rows).
FROZEN_SESSION_COLUMNS = (
    "id",
    "patient_id",
    "practitioner_id",
    "consult_id",
    "performed_at",
    "modality",
    "areas",
    "device",
    "needle_cartridge",
    "depths_mm",
    "passes",
    "injection_points",
    "anaesthesia",
    "deviations",
    "notes",
    "overridden",
    "override_reason",
    "created_by",
    "signed_by_id",
    "signed_at",
    "missing_at_signing",
    "incomplete_reason",
    "amends_id",
    "amendment_reason",
    "created_at",
)
FROZEN = "a signed session is immutable: record an amendment instead"


def _sqlite_guards() -> None:
    unchanged = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in FROZEN_SESSION_COLUMNS)
    parent_signed = "(SELECT status FROM treatment_session WHERE id = {row}.session_id) <> 'draft'"
    statements = [
        f"""CREATE TRIGGER treatment_session_frozen_update BEFORE UPDATE ON treatment_session
        WHEN OLD.status <> 'draft' AND NOT (
            OLD.status = 'signed' AND NEW.status = 'amended' AND {unchanged})
        BEGIN SELECT RAISE(ABORT, '{FROZEN}'); END""",
        f"""CREATE TRIGGER treatment_session_frozen_delete BEFORE DELETE ON treatment_session
        WHEN OLD.status <> 'draft'
        BEGIN SELECT RAISE(ABORT, '{FROZEN}'); END""",
        f"""CREATE TRIGGER session_product_frozen_insert BEFORE INSERT ON session_product
        WHEN {parent_signed.format(row="NEW")}
        BEGIN SELECT RAISE(ABORT, '{FROZEN}'); END""",
        f"""CREATE TRIGGER session_product_frozen_update BEFORE UPDATE ON session_product
        WHEN {parent_signed.format(row="OLD")} OR {parent_signed.format(row="NEW")}
        BEGIN SELECT RAISE(ABORT, '{FROZEN}'); END""",
        f"""CREATE TRIGGER session_product_frozen_delete BEFORE DELETE ON session_product
        WHEN {parent_signed.format(row="OLD")}
        BEGIN SELECT RAISE(ABORT, '{FROZEN}'); END""",
    ]
    for statement in statements:
        op.execute(statement)


def _postgresql_guards() -> None:
    statements = [
        f"""CREATE FUNCTION treatment_session_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF OLD.status = 'draft' THEN
                RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
            END IF;
            IF TG_OP = 'UPDATE' AND OLD.status = 'signed' AND NEW.status = 'amended'
                AND to_jsonb(NEW) - 'status' - 'updated_at'
                    = to_jsonb(OLD) - 'status' - 'updated_at' THEN
                RETURN NEW;
            END IF;
            RAISE EXCEPTION '{FROZEN}' USING ERRCODE = 'integrity_constraint_violation';
        END $$""",
        """CREATE TRIGGER treatment_session_frozen BEFORE UPDATE OR DELETE ON treatment_session
        FOR EACH ROW EXECUTE FUNCTION treatment_session_frozen()""",
        f"""CREATE FUNCTION session_product_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF (TG_OP <> 'INSERT' AND EXISTS (SELECT 1 FROM treatment_session
                    WHERE id = OLD.session_id AND status <> 'draft'))
                OR (TG_OP <> 'DELETE' AND EXISTS (SELECT 1 FROM treatment_session
                    WHERE id = NEW.session_id AND status <> 'draft')) THEN
                RAISE EXCEPTION '{FROZEN}' USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
        END $$""",  # noqa: S608 (the message is this module's constant, not input)
        """CREATE TRIGGER session_product_frozen
        BEFORE INSERT OR UPDATE OR DELETE ON session_product
        FOR EACH ROW EXECUTE FUNCTION session_product_frozen()""",
    ]
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    for table in ("session_product", "treatment_session", "product_lot"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION session_product_frozen()")
        op.execute("DROP FUNCTION treatment_session_frozen()")
