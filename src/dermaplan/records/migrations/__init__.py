"""Alembic migrations of the records schema, run through `dermaplan.records.db`."""
