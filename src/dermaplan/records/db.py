"""Engines, transactions and schema migrations, for SQLite and PostgreSQL alike.

SQLite is tuned for records that must survive: write-ahead log, `synchronous=FULL` (a
commit that returned is on disk, even through a power cut), foreign keys enforced, and a
busy timeout so a second writer waits instead of failing. Every write transaction holds
the database's single writer slot from its first statement: BEGIN IMMEDIATE on SQLite, a
transaction-level advisory lock on PostgreSQL. So a read-then-write can't lose an update,
and the audit chain can't fork. Read-only transactions take neither.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session

from dermaplan.records.anchor import anchor_engine, watch
from dermaplan.records.audit import begin_chain, forget_head
from dermaplan.records.errors import DatabaseError
from dermaplan.records.settings import RecordsSettings

MIGRATIONS = "dermaplan.records:migrations"
WRITE_OPTION = "dermaplan_write"
# Set on an engine once its schema is at this version's head (prepare, upgrade): a write
# transaction can then read the audit chain's head as it begins (records.audit.begin_chain).
READY_OPTION = "dermaplan_schema_ready"
SQLITE_BUSY_TIMEOUT_MS = 10_000
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
)


def database_url(raw: str) -> URL:
    """A SQLite or PostgreSQL URL; PostgreSQL always through psycopg 3."""
    try:
        url = make_url(raw)
    except ArgumentError:
        raise DatabaseError(f"'{raw}' is not a database URL") from None
    backend = url.get_backend_name()
    if backend == "sqlite" and url.drivername in ("sqlite", "sqlite+pysqlite"):
        return url
    if backend in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+psycopg")
    raise DatabaseError(
        f"{url.render_as_string(hide_password=True)}: "
        "Dermaplan keeps records in SQLite (sqlite:///FILE) or PostgreSQL (postgresql://...)"
    )


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver must not BEGIN on its own: `_on_sqlite_begin` does (SQLAlchemy's documented
    # pysqlite recipe), which also makes SAVEPOINT and DDL transactional.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _writes(connection: Connection) -> bool:
    return bool(connection.get_execution_options().get(WRITE_OPTION, True))


def _schema_ready(connection: Connection) -> bool:
    return bool(connection.get_execution_options().get(READY_OPTION, False))


def _on_sqlite_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE" if _writes(connection) else "BEGIN")
    begin_chain(connection, writes=_writes(connection), schema_ready=_schema_ready(connection))


def _on_postgresql_begin(connection: Connection) -> None:
    begin_chain(connection, writes=_writes(connection), schema_ready=_schema_ready(connection))


def create_records_engine(raw_url: str) -> Engine:
    url = database_url(raw_url)
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url)
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
    else:
        try:
            engine = create_engine(url, pool_pre_ping=True)
        except ModuleNotFoundError:
            raise DatabaseError(
                "PostgreSQL support is not installed: pip install 'dermaplan[postgresql]'"
            ) from None
        event.listen(engine, "begin", _on_postgresql_begin)
    event.listen(engine, "rollback_savepoint", lambda connection, *_: forget_head(connection))
    return engine


@contextmanager
def transaction(engine: Engine, *, write: bool = True) -> Iterator[Session]:
    """One unit of work: committed when the block ends, rolled back if it raises; the
    audit anchor follows the commit (records.anchor)."""
    bind = engine if write else engine.execution_options(**{WRITE_OPTION: False})
    with Session(bind, expire_on_commit=False) as session:
        watch(session, engine)
        with session.begin():
            yield session


# -- migrations ------------------------------------------------------------------------


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic configured in code: the migrations ship inside the package, no alembic.ini."""
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise DatabaseError("this installation of Dermaplan ships no migrations")
    return head


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` in one transaction (all of it, or none)."""
    engine.update_execution_options(**{READY_OPTION: False})
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite's procedure for a table copied to change it: foreign keys off outside
            # the transaction, and checked whole before it commits
            _driver_execute(connection, "PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                command.upgrade(alembic_config(connection), revision)
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first():
                    raise DatabaseError("the upgrade would break a reference between records")
        finally:
            if sqlite:
                _driver_execute(connection, "PRAGMA foreign_keys=ON")
    engine.update_execution_options(**{READY_OPTION: revision == "head"})


def _driver_execute(connection: Connection, statement: str) -> None:
    """A statement outside any transaction: straight to the driver, which begins none."""
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(statement)
    finally:
        cursor.close()


@dataclass(frozen=True, slots=True)
class SchemaState:
    revision: str | None
    tables: int  # tables other than Alembic's own


def schema_state(engine: Engine) -> SchemaState:
    try:
        with engine.execution_options(**{WRITE_OPTION: False}).connect() as connection:
            tables = [t for t in inspect(connection).get_table_names() if t != "alembic_version"]
            revision = MigrationContext.configure(connection).get_current_revision()
    except OperationalError as error:
        where = engine.url.render_as_string(hide_password=True)
        raise DatabaseError(f"cannot open the database {where}: {error.orig}") from None
    return SchemaState(revision=revision, tables=len(tables))


def prepare(engine: Engine) -> None:
    """Create the schema in an empty database; refuse one at another revision."""
    state, head = schema_state(engine), head_revision()
    if state.revision == head:
        engine.update_execution_options(**{READY_OPTION: True})
        return
    where = engine.url.render_as_string(hide_password=True)
    if state.revision is None and state.tables == 0:
        upgrade(engine)
        return
    if state.revision is None:
        raise DatabaseError(f"{where} has tables but is not a Dermaplan database")
    raise DatabaseError(
        f"{where} is at schema revision {state.revision}, this Dermaplan needs {head}: "
        "back it up, then run `dermaplan db upgrade`"
    )


def configured_engine(settings: RecordsSettings) -> Engine:
    """The engine for the configured database, anchoring its audit log in the configured
    file; a SQLite file's directory is made if missing."""
    engine = create_records_engine(settings.database_url)
    anchor_engine(engine, settings.audit_anchor)
    database = engine.url.database
    if engine.url.get_backend_name() == "sqlite" and database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    return engine


def open_records(settings: RecordsSettings) -> Engine:
    """The engine for the configured database, its schema created on first use."""
    engine = configured_engine(settings)
    try:
        prepare(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine
