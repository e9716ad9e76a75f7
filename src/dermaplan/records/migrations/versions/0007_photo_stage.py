"""Photo stage: before, after (immediately after treatment) or follow-up. Photos stored
before this revision keep no stated stage (NULL).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def upgrade() -> None:
    # the CHECK goes in the column's definition: SQLite adds no constraint to a table later
    op.execute(
        "ALTER TABLE photo ADD COLUMN stage VARCHAR(20) CONSTRAINT ck_photo_stage "
        f"CHECK ({_one_of('stage', ('before', 'after', 'follow_up'))})"
    )


def downgrade() -> None:
    op.drop_column("photo", "stage")
