"""Discarded consults: a draft that is never to be approved (saved for the wrong patient, or
a correction found not to be one) is discarded by a practitioner with a reason, kept and
frozen like an approved consult. A discarded correction no longer holds its consult: one
live correction of a consult at most (a partial unique index), any number discarded.

On SQLite the consult table is copied (its CHECK constraints cannot be altered in place)
and its guards made again, now naming the new columns; on PostgreSQL the constraints
change in place and the guard (which compares whole rows) stays.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

STATUSES = "status IN ('draft', 'approved', 'superseded', 'discarded')"
OLD_STATUSES = "status IN ('draft', 'approved', 'superseded')"
APPROVAL = "(status IN ('draft', 'discarded')) = (approved_at IS NULL AND approved_by_id IS NULL)"
OLD_APPROVAL = "(status = 'draft') = (approved_at IS NULL AND approved_by_id IS NULL)"
DISCARD = (
    "(status = 'discarded') = (discarded_at IS NOT NULL AND discarded_by_id IS NOT NULL"
    " AND discard_reason IS NOT NULL)"
)
LIVE = "status <> 'discarded'"
FROZEN = (
    "an approved or discarded consult is immutable: record a correction of an approved one,"
    " or save a new consult"
)
OLD_FROZEN = "an approved consult is immutable: record a correction instead"

COLUMNS = (
    "id",
    "patient_id",
    "status",
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
    "updated_at",
)
NEW_COLUMNS = ("discarded_by_id", "discarded_at", "discard_reason")
STAMPED = ("status", "updated_at")


def _sqlite_consult(status: str, approval: str, discarded: bool) -> None:
    """The consult table as the revision wants it, its rows copied, its index and guards
    made again (a copy drops them)."""
    extra = (
        """discarded_by_id CHAR(32),
            discarded_at DATETIME,
            discard_reason TEXT,"""
        if discarded
        else ""
    )
    checks = f"CONSTRAINT ck_consult_discard_matches_status CHECK ({DISCARD})," if discarded else ""
    unique = "" if discarded else ", CONSTRAINT uq_consult_supersedes_id UNIQUE (supersedes_id)"
    discarder = (
        ", CONSTRAINT fk_consult_discarded_by_id_staff FOREIGN KEY(discarded_by_id) "
        "REFERENCES staff (id)"
        if discarded
        else ""
    )
    op.execute("DROP TRIGGER consult_frozen_update")
    op.execute("DROP TRIGGER consult_frozen_delete")
    op.execute(
        f"""CREATE TABLE consult_new (
            id CHAR(32) NOT NULL,
            patient_id CHAR(32) NOT NULL,
            status VARCHAR(20) NOT NULL,
            consult_date DATE NOT NULL,
            assessment_json TEXT NOT NULL,
            plan_json TEXT NOT NULL,
            knowledge_version VARCHAR(100) NOT NULL,
            created_by VARCHAR(200) NOT NULL,
            approved_by_id CHAR(32),
            approved_at DATETIME,
            supersedes_id CHAR(32),
            correction_reason TEXT,
            created_at DATETIME NOT NULL,
            updated_at DATETIME NOT NULL,
            {extra}
            CONSTRAINT pk_consult PRIMARY KEY (id),
            CONSTRAINT ck_consult_status CHECK ({status}),
            CONSTRAINT ck_consult_approval_matches_status CHECK ({approval}),
            {checks}
            CONSTRAINT ck_consult_correction_has_reason
                CHECK ((supersedes_id IS NULL) = (correction_reason IS NULL)),
            CONSTRAINT ck_consult_not_self_superseding CHECK (supersedes_id <> id),
            CONSTRAINT fk_consult_approved_by_id_staff FOREIGN KEY(approved_by_id)
                REFERENCES staff (id),
            CONSTRAINT fk_consult_patient_id_patient FOREIGN KEY(patient_id)
                REFERENCES patient (id),
            CONSTRAINT fk_consult_supersedes_id_consult FOREIGN KEY(supersedes_id)
                REFERENCES consult (id){discarder}{unique}
        )"""
    )
    copied = ", ".join(COLUMNS)
    op.execute(f"INSERT INTO consult_new ({copied}) SELECT {copied} FROM consult")  # noqa: S608 (constants)
    op.execute("DROP TABLE consult")
    op.execute("ALTER TABLE consult_new RENAME TO consult")
    op.execute("CREATE INDEX ix_consult_patient_id ON consult (patient_id)")
    if discarded:
        op.execute(
            f"CREATE UNIQUE INDEX uq_consult_live_supersedes_id ON consult (supersedes_id) "
            f"WHERE {LIVE}"
        )
    # what a superseded consult keeps of the approved one: all but its status and stamp
    kept = [c for c in COLUMNS + (NEW_COLUMNS if discarded else ()) if c not in STAMPED]
    unchanged = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in kept)
    message = FROZEN if discarded else OLD_FROZEN
    op.execute(
        f"""CREATE TRIGGER consult_frozen_update BEFORE UPDATE ON consult
        WHEN OLD.status <> 'draft' AND NOT (
            OLD.status = 'approved' AND NEW.status = 'superseded' AND {unchanged})
        BEGIN SELECT RAISE(ABORT, '{message}'); END"""
    )
    op.execute(
        f"""CREATE TRIGGER consult_frozen_delete BEFORE DELETE ON consult
        WHEN OLD.status <> 'draft'
        BEGIN SELECT RAISE(ABORT, '{message}'); END"""
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        _sqlite_consult(STATUSES, APPROVAL, discarded=True)
        return
    op.add_column("consult", sa.Column("discarded_by_id", sa.Uuid(), nullable=True))
    op.add_column("consult", sa.Column("discarded_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("consult", sa.Column("discard_reason", sa.Text(), nullable=True))
    op.create_foreign_key(
        op.f("fk_consult_discarded_by_id_staff"), "consult", "staff", ["discarded_by_id"], ["id"]
    )
    op.drop_constraint(op.f("ck_consult_status"), "consult", type_="check")
    op.create_check_constraint(op.f("ck_consult_status"), "consult", STATUSES)
    op.drop_constraint(op.f("ck_consult_approval_matches_status"), "consult", type_="check")
    op.create_check_constraint(op.f("ck_consult_approval_matches_status"), "consult", APPROVAL)
    op.create_check_constraint(op.f("ck_consult_discard_matches_status"), "consult", DISCARD)
    op.drop_constraint(op.f("uq_consult_supersedes_id"), "consult", type_="unique")
    op.create_index(
        "uq_consult_live_supersedes_id",
        "consult",
        ["supersedes_id"],
        unique=True,
        postgresql_where=sa.text(LIVE),
    )


def downgrade() -> None:
    """Back to consults that cannot be discarded: a discarded draft would break the older
    constraints, so the downgrade stops while there is one."""
    discarded = sa.text("SELECT count(*) FROM consult WHERE status = 'discarded'")
    if op.get_bind().execute(discarded).scalar():
        raise RuntimeError("discarded consults exist: the schema cannot go back before 0018")
    if op.get_bind().dialect.name != "postgresql":
        _sqlite_consult(OLD_STATUSES, OLD_APPROVAL, discarded=False)
        return
    op.drop_index("uq_consult_live_supersedes_id", "consult")
    op.create_unique_constraint(op.f("uq_consult_supersedes_id"), "consult", ["supersedes_id"])
    op.drop_constraint(op.f("ck_consult_discard_matches_status"), "consult", type_="check")
    op.drop_constraint(op.f("ck_consult_approval_matches_status"), "consult", type_="check")
    op.create_check_constraint(op.f("ck_consult_approval_matches_status"), "consult", OLD_APPROVAL)
    op.drop_constraint(op.f("ck_consult_status"), "consult", type_="check")
    op.create_check_constraint(op.f("ck_consult_status"), "consult", OLD_STATUSES)
    op.drop_constraint(op.f("fk_consult_discarded_by_id_staff"), "consult", type_="foreignkey")
    op.drop_column("consult", "discard_reason")
    op.drop_column("consult", "discarded_at")
    op.drop_column("consult", "discarded_by_id")
