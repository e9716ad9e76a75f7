"""Login sessions signed with the audit key: the key's id and an HMAC of what makes a
session (its token's hash, its member and clinic, whether it awaits a code, its start), so
that a session row written in SQL opens nothing. Sessions open before this revision have
none, and end: their members sign in again.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("login_session") as table:
        table.add_column(sa.Column("key_id", sa.String(32), nullable=True))
        table.add_column(sa.Column("mac", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("login_session") as table:
        table.drop_column("mac")
        table.drop_column("key_id")
