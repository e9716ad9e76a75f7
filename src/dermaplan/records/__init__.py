"""Clinical records: patients, consults and the audit log, on SQLite or PostgreSQL.

Nothing here is imported by `dermaplan --help`; SQLAlchemy loads only when a records
command runs.
"""
