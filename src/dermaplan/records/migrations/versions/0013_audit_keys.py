"""Audit keys: each event names the key whose HMAC-SHA256 its hash is (records.keyring), so
that no event can be made from the database alone. Events written before stay as they were,
plain SHA-256 with no key named; the upgrade that runs this migration signs the end of each
of their chains with the key (records.db.upgrade), after which no unsigned event verifies.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a nullable column added in place: no copy of the table, its append-only triggers stay
    op.execute("ALTER TABLE audit_event ADD COLUMN key_id VARCHAR(32)")


def downgrade() -> None:
    """Only a log no key has signed can go back: a signed event would no longer verify."""
    signed = op.get_bind().execute(
        sa.text("SELECT count(*) FROM audit_event WHERE key_id IS NOT NULL")
    )
    if signed.scalar_one():
        raise RuntimeError(
            "the audit log holds events signed with the audit key: it cannot go back to "
            "revision 0012 without being rewritten; restore a backup made before 0013 instead"
        )
    op.execute("ALTER TABLE audit_event DROP COLUMN key_id")  # SQLite 3.35+: in place too
