"""Consents: versioned template texts and the consents patients signed, with their
withdrawals. A published template, a signed consent and a withdrawal are protected by
triggers, so even SQL typed by hand cannot rewrite them; a signed consent changes only by
a withdrawal row being added to it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

KINDS = ("treatment_mesotherapy", "treatment_microneedling", "treatment_combined", "photo")
SCOPES = ("all", "clinical_record", "teaching", "marketing")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def upgrade() -> None:
    op.create_table(
        "consent_template",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(200), nullable=False),
        sa.CheckConstraint(_one_of("kind", KINDS), name=op.f("ck_consent_template_kind")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_consent_template_version_positive")),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_consent_template_clinic_id_clinic")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_template")),
        sa.UniqueConstraint(
            "clinic_id", "kind", "version", name=op.f("uq_consent_template_clinic_id_kind_version")
        ),
        sa.UniqueConstraint("id", "kind", name=op.f("uq_consent_template_id_kind")),
    )
    op.create_table(
        "consent",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("template_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signer_name", sa.String(200), nullable=True),
        sa.Column("signature_text", sa.String(200), nullable=True),
        sa.Column("signature_image", sa.LargeBinary(), nullable=True),
        sa.Column("signature_media_type", sa.String(50), nullable=True),
        sa.Column("photo_scopes", _json(), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(_one_of("kind", KINDS), name=op.f("ck_consent_kind")),
        sa.CheckConstraint(_one_of("status", ("opened", "signed")), name=op.f("ck_consent_status")),
        sa.CheckConstraint(
            "status <> 'signed' OR (signed_at IS NOT NULL AND signer_name IS NOT NULL"
            " AND ((signature_text IS NOT NULL AND signature_image IS NULL"
            " AND signature_media_type IS NULL) OR (signature_text IS NULL"
            " AND signature_image IS NOT NULL AND signature_media_type IS NOT NULL)))",
            name=op.f("ck_consent_signed_has_signature"),
        ),
        sa.CheckConstraint(
            "(kind = 'photo') = (photo_scopes IS NOT NULL)",
            name=op.f("ck_consent_photo_has_scopes"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_consent_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["template_id", "kind"],
            ["consent_template.id", "consent_template.kind"],
            name=op.f("fk_consent_template_id_consent_template"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent")),
    )
    op.create_index(op.f("ix_consent_patient_id"), "consent", ["patient_id"])
    op.create_table(
        "consent_withdrawal",
        sa.Column("consent_id", sa.Uuid(), nullable=False),
        sa.Column("scope", sa.String(20), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("withdrawn_by", sa.String(200), nullable=False),
        sa.CheckConstraint(_one_of("scope", SCOPES), name=op.f("ck_consent_withdrawal_scope")),
        sa.ForeignKeyConstraint(
            ["consent_id"], ["consent.id"], name=op.f("fk_consent_withdrawal_consent_id_consent")
        ),
        sa.PrimaryKeyConstraint("consent_id", "scope", name=op.f("pk_consent_withdrawal")),
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_guards()
    else:
        _sqlite_guards()


TEMPLATE = "a published consent template is immutable: publish a new version instead"
SIGNED = "a signed consent is immutable: only a withdrawal can be added to it"
WITHDRAWAL = "a consent withdrawal is permanent, and only a signed consent can be withdrawn"


def _sqlite_guards() -> None:
    statements = [
        f"""CREATE TRIGGER consent_template_frozen_update BEFORE UPDATE ON consent_template
        BEGIN SELECT RAISE(ABORT, '{TEMPLATE}'); END""",
        f"""CREATE TRIGGER consent_template_frozen_delete BEFORE DELETE ON consent_template
        BEGIN SELECT RAISE(ABORT, '{TEMPLATE}'); END""",
        f"""CREATE TRIGGER consent_frozen_update BEFORE UPDATE ON consent
        WHEN OLD.status <> 'opened'
        BEGIN SELECT RAISE(ABORT, '{SIGNED}'); END""",
        f"""CREATE TRIGGER consent_frozen_delete BEFORE DELETE ON consent
        WHEN OLD.status <> 'opened'
        BEGIN SELECT RAISE(ABORT, '{SIGNED}'); END""",
        f"""CREATE TRIGGER consent_withdrawal_insert BEFORE INSERT ON consent_withdrawal
        WHEN (SELECT status FROM consent WHERE id = NEW.consent_id) IS NOT 'signed'
        BEGIN SELECT RAISE(ABORT, '{WITHDRAWAL}'); END""",  # noqa: S608 (a constant message)
        f"""CREATE TRIGGER consent_withdrawal_frozen_update BEFORE UPDATE ON consent_withdrawal
        BEGIN SELECT RAISE(ABORT, '{WITHDRAWAL}'); END""",
        f"""CREATE TRIGGER consent_withdrawal_frozen_delete BEFORE DELETE ON consent_withdrawal
        BEGIN SELECT RAISE(ABORT, '{WITHDRAWAL}'); END""",
    ]
    for statement in statements:
        op.execute(statement)


def _postgresql_guards() -> None:
    statements = [
        f"""CREATE FUNCTION consent_template_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '{TEMPLATE}' USING ERRCODE = 'integrity_constraint_violation';
        END $$""",
        """CREATE TRIGGER consent_template_frozen BEFORE UPDATE OR DELETE ON consent_template
        FOR EACH ROW EXECUTE FUNCTION consent_template_frozen()""",
        f"""CREATE FUNCTION consent_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF OLD.status = 'opened' THEN
                RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
            END IF;
            RAISE EXCEPTION '{SIGNED}' USING ERRCODE = 'integrity_constraint_violation';
        END $$""",
        """CREATE TRIGGER consent_frozen BEFORE UPDATE OR DELETE ON consent
        FOR EACH ROW EXECUTE FUNCTION consent_frozen()""",
        f"""CREATE FUNCTION consent_withdrawal_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' AND EXISTS (SELECT 1 FROM consent
                    WHERE id = NEW.consent_id AND status = 'signed') THEN
                RETURN NEW;
            END IF;
            RAISE EXCEPTION '{WITHDRAWAL}' USING ERRCODE = 'integrity_constraint_violation';
        END $$""",  # noqa: S608 (the message is this module's constant, not input)
        """CREATE TRIGGER consent_withdrawal_guard
        BEFORE INSERT OR UPDATE OR DELETE ON consent_withdrawal
        FOR EACH ROW EXECUTE FUNCTION consent_withdrawal_guard()""",
    ]
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    for table in ("consent_withdrawal", "consent", "consent_template"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION consent_withdrawal_guard()")
        op.execute("DROP FUNCTION consent_frozen()")
        op.execute("DROP FUNCTION consent_template_frozen()")
