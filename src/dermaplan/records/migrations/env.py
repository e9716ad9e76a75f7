"""Alembic's entry point: runs on the connection `records.db` hands it, in its transaction."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from dermaplan.records.models import Base, declare_partial_indexes

connection = context.config.attributes.get("connection")
if context.is_offline_mode() or not isinstance(connection, Connection):
    raise RuntimeError("run migrations through dermaplan.records.db (e.g. `dermaplan db upgrade`)")

declare_partial_indexes()
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copying tables
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
