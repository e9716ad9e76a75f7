"""Roles and the acting member of staff: each member is an `admin` (staff, clinic settings,
consent texts, the audit log), a `practitioner` (clinical work) or `reception` (patients'
contact details and bookings; the earlier `staff`); each audit event names the member who
acted in a column of its own, beside the operating-system user in `actor`.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ROLES = "role IN ('admin', 'practitioner', 'reception')"
OLD_ROLES = "role IN ('practitioner', 'staff')"
STAFF_COLUMNS = "id, clinic_id, name, role, registration, active, created_at, updated_at"


def _staff_with(check: str, role: str) -> None:
    """SQLite changes a CHECK by copying the table (records.db.upgrade turns foreign keys
    off for it, as SQLite's own procedure asks)."""
    op.execute(
        f"""CREATE TABLE staff_new (
            id CHAR(32) NOT NULL,
            clinic_id CHAR(32) NOT NULL,
            name VARCHAR(200) NOT NULL,
            role VARCHAR(20) NOT NULL,
            registration VARCHAR(100),
            active BOOLEAN NOT NULL,
            created_at DATETIME NOT NULL,
            updated_at DATETIME NOT NULL,
            CONSTRAINT pk_staff PRIMARY KEY (id),
            CONSTRAINT ck_staff_role CHECK ({check}),
            CONSTRAINT fk_staff_clinic_id_clinic FOREIGN KEY(clinic_id) REFERENCES clinic (id)
        )"""
    )
    selected = STAFF_COLUMNS.replace("role,", f"{role} AS role,")
    op.execute(f"INSERT INTO staff_new ({STAFF_COLUMNS}) SELECT {selected} FROM staff")  # noqa: S608 (constants)
    op.execute("DROP TABLE staff")
    op.execute("ALTER TABLE staff_new RENAME TO staff")
    op.execute("CREATE INDEX ix_staff_clinic_id ON staff (clinic_id)")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f("ck_staff_role"), "staff", type_="check")
        op.execute("UPDATE staff SET role = 'reception' WHERE role = 'staff'")
        op.create_check_constraint(op.f("ck_staff_role"), "staff", ROLES)
    else:
        _staff_with(ROLES, "CASE role WHEN 'staff' THEN 'reception' ELSE role END")
    # a plain ADD COLUMN: the append-only guards on audit_event stay as they are
    op.add_column("audit_event", sa.Column("staff_id", sa.Uuid(), nullable=True))
    op.create_index("ix_audit_event_staff_id", "audit_event", ["staff_id"])


def downgrade() -> None:
    op.drop_index("ix_audit_event_staff_id", "audit_event")
    with op.batch_alter_table("audit_event", recreate="never") as table:
        table.drop_column("staff_id")
    back = "CASE role WHEN 'practitioner' THEN 'practitioner' ELSE 'staff' END"
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f("ck_staff_role"), "staff", type_="check")
        op.execute(f"UPDATE staff SET role = {back}")  # noqa: S608 (a constant expression)
        op.create_check_constraint(op.f("ck_staff_role"), "staff", OLD_ROLES)
    else:
        _staff_with(OLD_ROLES, back)
