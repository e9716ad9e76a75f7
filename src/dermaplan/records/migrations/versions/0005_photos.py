"""Photos: metadata of clinical photos whose files live in a storage backend; a stored
photo row is protected by triggers (never changed, never deleted).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

FROZEN = "a stored photo is immutable"


def upgrade() -> None:
    op.create_table(
        "photo",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=True),
        sa.Column("area", sa.String(100), nullable=False),
        sa.Column("angle", sa.String(50), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("media_type", sa.String(50), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("storage_key", sa.String(200), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "media_type IN ('image/jpeg', 'image/png')", name=op.f("ck_photo_media_type")
        ),
        sa.CheckConstraint("size_bytes > 0", name=op.f("ck_photo_size_positive")),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_photo_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["treatment_session.id"],
            name=op.f("fk_photo_session_id_treatment_session"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_photo")),
    )
    op.create_index(op.f("ix_photo_patient_id"), "photo", ["patient_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""CREATE FUNCTION photo_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{FROZEN}' USING ERRCODE = 'integrity_constraint_violation';
            END $$"""
        )
        op.execute(
            """CREATE TRIGGER photo_frozen BEFORE UPDATE OR DELETE ON photo
            FOR EACH ROW EXECUTE FUNCTION photo_frozen()"""
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"""CREATE TRIGGER photo_frozen_{event.lower()} BEFORE {event} ON photo
                BEGIN SELECT RAISE(ABORT, '{FROZEN}'); END"""
            )


def downgrade() -> None:
    op.drop_table("photo")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION photo_frozen()")
