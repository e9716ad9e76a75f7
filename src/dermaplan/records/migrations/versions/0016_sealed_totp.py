"""TOTP secrets sealed: encrypted under a key derived from the audit keyring, which lives
outside the database (records.logins.seal_totp). The column grows to hold the sealed form;
secrets enrolled before stay in clear, and are read as they are, until the member is given
a new one (`dermaplan staff totp`).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_credential") as table:
        table.alter_column("totp_secret", type_=sa.String(160), existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("staff_credential") as table:
        table.alter_column("totp_secret", type_=sa.String(64), existing_nullable=True)
