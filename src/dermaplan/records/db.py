"""Engines, transactions and schema migrations, for SQLite and PostgreSQL alike.

A command never creates a database by the way: `initialise` (`dermaplan init`, `db
upgrade`) makes the database, its folder and its audit anchor; `open_records` opens one that
exists at this schema revision, or says why it can't.

SQLite is tuned for records that must survive: write-ahead log, `synchronous=FULL` (a
commit that returned is on disk, even through a power cut), foreign keys enforced, and a
busy timeout so a second writer waits instead of failing. Every write transaction holds
the database's single writer slot from its first statement: BEGIN IMMEDIATE on SQLite, a
transaction-level advisory lock on PostgreSQL. So a read-then-write can't lose an update,
and the audit chain can't fork. Read-only transactions take neither.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from dermaplan.records.anchor import (
    DATABASE_OPTION,
    Anchor,
    AnchorStore,
    anchor_engine,
    anchor_store,
    claim_anchor,
    database_id,
    engine_anchor,
    identify,
    refuse_foreign_anchor,
    watch,
)
from dermaplan.records.audit import GENESIS, begin_chain, forget_head
from dermaplan.records.errors import DatabaseError
from dermaplan.records.private import create_private_file, private_folder
from dermaplan.records.settings import database_url

if TYPE_CHECKING:
    from dermaplan.records.settings import Settings

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
    if revision == "head":
        _ready(engine)


def _driver_execute(connection: Connection, statement: str) -> None:
    """A statement outside any transaction: straight to the driver, which begins none."""
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(statement)
    finally:
        cursor.close()


def _ready(engine: Engine) -> None:
    """Mark `engine` as on a schema at head, and tell it its database's id (records.anchor)."""
    with engine.execution_options(**{WRITE_OPTION: False}).connect() as connection:
        identify(engine, database_id(connection))
    engine.update_execution_options(**{READY_OPTION: True})


def where(engine: Engine) -> str:
    """The database for a person: a SQLite file's path, or the URL without its password."""
    if _is_sqlite(engine):
        return str(sqlite_file(engine))
    return engine.url.render_as_string(hide_password=True)


def _is_sqlite(engine: Engine) -> bool:
    return engine.url.get_backend_name() == "sqlite"


def sqlite_file(engine: Engine) -> Path:
    """The file of a SQLite engine (settings.database_url admits no other kind)."""
    return Path(engine.url.database or "")


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
        raise DatabaseError(f"cannot open the database {where(engine)}: {error.orig}") from None
    except DBAPIError as error:  # e.g. a file that is not a SQLite database
        raise DatabaseError(f"{where(engine)} is not a Dermaplan database: {error.orig}") from None
    return SchemaState(revision=revision, tables=len(tables))


def _has_content(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except FileNotFoundError:
        return False


def _missing(engine: Engine) -> DatabaseError:
    return DatabaseError(f"no Dermaplan database at {where(engine)}: run 'dermaplan init' first")


def _foreign(engine: Engine) -> DatabaseError:
    return DatabaseError(f"{where(engine)} has tables but is not a Dermaplan database")


def _newer(revision: str, head: str) -> bool:
    """Whether a database's revision is a later Dermaplan's: revisions are numbered in order
    (0001, 0002, ...), so a higher number is one this version does not have."""
    numbered = revision.isascii() and revision.isdigit() and head.isdigit()
    return numbered and int(revision) > int(head)


def _outdated(engine: Engine, revision: str, head: str) -> DatabaseError:
    if _newer(revision, head):
        return DatabaseError(
            f"{where(engine)} is at schema revision {revision}, newer than this Dermaplan "
            f"knows ({head}): this Dermaplan is older than the database; upgrade Dermaplan "
            "(nothing was changed)"
        )
    return DatabaseError(
        f"{where(engine)} is at schema revision {revision}, this Dermaplan needs {head}: "
        "back it up, then run `dermaplan db upgrade`"
    )


def prepare(engine: Engine) -> None:
    """Check that the database exists at this version's schema revision: refuse one that
    is missing or empty (`dermaplan init` makes it), foreign, or at another revision."""
    if _is_sqlite(engine) and not _has_content(sqlite_file(engine)):
        raise _missing(engine)  # before connecting, which would make the file a database
    state, head = schema_state(engine), head_revision()
    if state.revision == head:
        _ready(engine)
        return
    if state.revision is None:
        raise _foreign(engine) if state.tables else _missing(engine)
    raise _outdated(engine, state.revision, head)


def configured_engine(settings: Settings) -> Engine:
    """The engine for the configured database, anchoring its audit log in the configured
    store; nothing is opened or created yet."""
    engine = create_records_engine(settings.database_url)
    anchor_engine(engine, anchor_store(settings))
    return engine


def open_records(settings: Settings) -> Engine:
    """The engine for the configured database, which must exist at this schema revision
    (see `prepare`) and must not be pointed at another database's audit anchor."""
    engine = configured_engine(settings)
    try:
        prepare(engine)
        store = engine_anchor(engine)
        if store is not None:
            refuse_foreign_anchor(store, store.read(), _database_id(engine))
    except BaseException:
        engine.dispose()
        raise
    return engine


def _database_id(engine: Engine) -> uuid.UUID:
    """The id `_ready` told the engine."""
    database: uuid.UUID = engine.get_execution_options()[DATABASE_OPTION]
    return database


@dataclass(frozen=True, slots=True)
class Initialised:
    where: str  # the database, for a person
    before: str | None  # its schema revision before; None: made now


def initialise(settings: Settings, *, upgrade_schema: bool = False) -> Initialised:
    """Make what the settings name, if missing: the home folder, the database (a SQLite
    file and its folder, all owner-only) at this version's schema, and its first audit
    anchor. A database at another revision is brought to head only with `upgrade_schema` (`db
    upgrade`; back it up first); a new database is refused an anchor already in use."""
    store = anchor_store(settings)
    engine = configured_engine(settings)
    try:
        private_folder(settings.home)
        if _is_sqlite(engine) and not sqlite_file(engine).exists():
            _refuse_used_anchor(store, engine)
            private_folder(sqlite_file(engine).parent)
            create_private_file(sqlite_file(engine))  # its -wal and -shm take its mode
        state, head = schema_state(engine), head_revision()
        if state.revision is None and state.tables:
            raise _foreign(engine)
        if state.revision is None:
            _refuse_used_anchor(store, engine)
        elif state.revision != head and (not upgrade_schema or _newer(state.revision, head)):
            raise _outdated(engine, state.revision, head)
        try:
            upgrade(engine)
        except CommandError as error:
            raise DatabaseError(
                f"{where(engine)} cannot be upgraded by this Dermaplan: {error}"
            ) from None
        first = Anchor(0, GENESIS, dt.datetime.now(dt.UTC), _database_id(engine))
        claim_anchor(store, first)
        return Initialised(where(engine), state.revision)
    except OSError as error:  # a folder or file that cannot be made
        raise DatabaseError(f"cannot create {error.filename}: {error.strerror}") from None
    finally:
        engine.dispose()


def _refuse_used_anchor(store: AnchorStore, engine: Engine) -> None:
    if store.read() is not None:
        raise DatabaseError(
            f"the audit anchor {store.where} is already another database's, so it cannot anchor "
            f"the new database {where(engine)}: set DERMAPLAN_AUDIT_ANCHOR to a new file, or "
            "move that one away"
        )
