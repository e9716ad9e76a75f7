"""Each clinic's IANA time zone: the day of a session, a product's expiry, a photo taken
"the same day" and the dates of a course are the clinic's day, not UTC's nor the offset a
file happened to carry. Existing clinics start in UTC (`dermaplan clinic set --time-zone`).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "clinic",
        sa.Column("time_zone", sa.String(64), nullable=False, server_default="UTC"),
    )


def downgrade() -> None:
    with op.batch_alter_table("clinic") as table:
        table.drop_column("time_zone")
