"""Engines, transactions and schema migrations, for SQLite and PostgreSQL alike.

A command never creates a database by the way: `initialise` (`dermaplan init`, `db
upgrade`) makes the database, its folder and its audit anchor; `open_records` opens one that
exists at this schema revision, or says why it can't. Both first finish a restore that was
interrupted (records.swap), so none finds the database missing half-way through one.

SQLite is tuned for records that must survive: write-ahead log, `synchronous=FULL` (a
commit that returned is on disk, even through a power cut), foreign keys enforced, and a
busy timeout so a second writer waits instead of failing (the threads of one process wait
their turn before that, records.writer). On SQLite every write transaction holds the
database's single writer slot from its first statement (BEGIN IMMEDIATE), so no chain of
the audit log can fork and a read-then-write can't lose an update. On PostgreSQL a write
transaction takes the locks of the audit lanes it appends to (records.lanes); a unit of
work that changes records holds its clinic's change lane from before it reads them
(app.unit). Read-only transactions take none.
"""

from __future__ import annotations

import datetime as dt
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from dermaplan.records.anchor import (
    DATABASE_OPTION,
    Anchor,
    AnchorStore,
    advance_anchor,
    anchor_engine,
    anchor_store,
    claim_anchor,
    database_id,
    engine_anchor,
    identify,
    refuse_foreign_anchor,
    watch,
)
from dermaplan.records.errors import DatabaseError
from dermaplan.records.keyring import Keyring, KeyringFile, key_engine, keyring_file
from dermaplan.records.lanes import Chain, Head, forget_lanes
from dermaplan.records.private import create_private_file, private_folder
from dermaplan.records.settings import database_url
from dermaplan.records.swap import Live, finish_interrupted
from dermaplan.records.writer import QueuedConnection, writers_turn

if TYPE_CHECKING:
    from alembic.config import Config

    from dermaplan.records.settings import Settings

MIGRATIONS = "dermaplan.records:migrations"
# The schema revision this code is written for: the last migration's (a test holds it equal to
# Alembic's head). A command checks the database against it with one query, so Alembic is
# imported only to create or upgrade a database.
HEAD_REVISION = "0018"
VERSION_TABLE = "alembic_version"  # Alembic's, one row: the database's revision
REVISION_QUERY = "SELECT version_num FROM alembic_version"
WRITE_OPTION = "dermaplan_write"
SIGNED_REVISION = "0013"  # the first revision whose events are signed with the audit key
SQLITE_BUSY_TIMEOUT_MS = 10_000
# The connections an engine keeps open, and the most it opens: a web worker's requests, up to
# that many at once, each take one, and give it back for the next. (SQLAlchemy's default
# keeps 5 and opens up to 10 more, closed as they are given back: with eight requests at
# once, one in ten opened a connection of its own, and prepared every statement afresh on
# it; on PostgreSQL each is a server process.) A request beyond them waits for one.
POOL_SIZE = 15
# How long a request beyond them waits for one before it is refused as unavailable: as long as
# a writer waits for SQLite's (SQLAlchemy's default is 30 s).
POOL_WAIT_S = SQLITE_BUSY_TIMEOUT_MS / 1000
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


def _on_sqlite_begin(connection: Connection) -> None:
    if not _writes(connection):
        connection.exec_driver_sql("BEGIN")
    else:
        with writers_turn(connection.connection.dbapi_connection, SQLITE_BUSY_TIMEOUT_MS / 1000):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
    forget_lanes(connection)


def create_records_engine(raw_url: str) -> Engine:
    url = database_url(raw_url)
    if url.get_backend_name() == "sqlite":
        # its writers take turns in the process before BEGIN IMMEDIATE (records.writer)
        engine = create_engine(
            url,
            connect_args={"factory": QueuedConnection},
            pool_size=POOL_SIZE,
            max_overflow=0,
            pool_timeout=POOL_WAIT_S,
        )
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
    else:
        try:
            engine = create_engine(
                url,
                pool_pre_ping=True,
                pool_size=POOL_SIZE,
                max_overflow=0,
                pool_timeout=POOL_WAIT_S,
            )
        except ModuleNotFoundError:
            raise DatabaseError(
                "PostgreSQL support is not installed: pip install 'dermaplan[postgresql]'"
            ) from None
        event.listen(engine, "begin", forget_lanes)
    event.listen(engine, "rollback_savepoint", lambda connection, *_: forget_lanes(connection))
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
    from alembic.config import Config

    config = Config(stdout=sys.stdout)  # its default is the stdout of when Alembic was imported
    config.set_main_option("script_location", MIGRATIONS)
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection
    return config


def upgrade(
    engine: Engine,
    revision: str = "head",
    *,
    keyring: Keyring | None = None,
    actor: str = "dermaplan",
) -> dict[Chain, Head]:
    """Bring the schema to `revision` in one transaction (all of it, or none). Crossing
    revision 0013, the end of each chain of the unsigned log before it is signed with
    `keyring`'s key, `actor` acting (records.audit.seal_unsigned): the chains' new heads are
    returned, for the anchor."""
    from alembic import command

    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite's procedure for a table copied to change it: foreign keys off outside
            # the transaction, and checked whole before it commits
            _driver_execute(connection, "PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                before = _revision_in(connection)
                command.upgrade(alembic_config(connection), revision)
                sealed = _seal(connection, before, keyring, actor)
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first():
                    raise DatabaseError("the upgrade would break a reference between records")
        finally:
            if sqlite:
                _driver_execute(connection, "PRAGMA foreign_keys=ON")
    if revision == "head":
        _identify(engine)
    return sealed


def _revision_in(connection: Connection) -> str | None:
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    return _stored_revision(connection)


def _seal(
    connection: Connection, before: str | None, keyring: Keyring | None, actor: str
) -> dict[Chain, Head]:
    """Sign the end of the unsigned log if this upgrade crossed revision 0013 (only then:
    sealing later would sign whatever had been added unsigned meanwhile)."""
    from dermaplan.records.audit import seal_unsigned

    after = _revision_in(connection)
    if not (_earlier(before, SIGNED_REVISION) and not _earlier(after, SIGNED_REVISION)):
        return {}
    unsigned = connection.exec_driver_sql("SELECT 1 FROM audit_event LIMIT 1").first()
    if unsigned is None:
        return {}
    if keyring is None or keyring.current is None:
        raise DatabaseError(
            "the audit log was written before revision 0013: its end must be signed with "
            "the audit keyring as it is upgraded, and none was given"
        )
    return seal_unsigned(connection, keyring.current, actor, dt.datetime.now(dt.UTC))


def _earlier(revision: str | None, than: str) -> bool:
    """Whether `revision` (None: no schema) comes before `than`; revisions are numbered."""
    return revision is None or (revision.isdigit() and int(revision) < int(than))


def _driver_execute(connection: Connection, statement: str) -> None:
    """A statement outside any transaction: straight to the driver, which begins none."""
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(statement)
    finally:
        cursor.close()


def _identify(engine: Engine) -> None:
    """Tell `engine`, on a schema at head, its database's id (records.anchor)."""
    with engine.execution_options(**{WRITE_OPTION: False}).connect() as connection:
        identify(engine, database_id(connection))


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


def live_database(engine: Engine, home: Path) -> Live:
    """The database a restore would replace: a SQLite file's restores work beside it; a
    PostgreSQL database's in the home folder."""
    if _is_sqlite(engine):
        file = sqlite_file(engine).absolute()
        return Live(file, str(file), file.parent)
    return Live(None, where(engine), home)


@dataclass(frozen=True, slots=True)
class SchemaState:
    revision: str | None
    tables: int  # tables other than Alembic's own


def schema_state(engine: Engine) -> SchemaState:
    try:
        with engine.execution_options(**{WRITE_OPTION: False}).connect() as connection:
            tables = inspect(connection).get_table_names()
            revision = _stored_revision(connection) if VERSION_TABLE in tables else None
    except OperationalError as error:
        raise DatabaseError(f"cannot open the database {where(engine)}: {error.orig}") from None
    except DBAPIError as error:  # e.g. a file that is not a SQLite database
        raise DatabaseError(f"{where(engine)} is not a Dermaplan database: {error.orig}") from None
    return SchemaState(revision=revision, tables=len(set(tables) - {VERSION_TABLE}))


def _stored_revision(connection: Connection) -> str | None:
    """The revision in the version table: its one row (Dermaplan's migrations never branch)."""
    rows = connection.exec_driver_sql(REVISION_QUERY).all()
    return str(rows[0][0]) if len(rows) == 1 else None


def _at_head(engine: Engine) -> bool:
    """Whether the database is at HEAD_REVISION, by one query; false for anything else,
    which `schema_state` then tells apart."""
    try:
        with engine.execution_options(**{WRITE_OPTION: False}).connect() as connection:
            return _stored_revision(connection) == HEAD_REVISION
    except DBAPIError:  # no version table, or no database at all
        return False


def _has_content(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except FileNotFoundError:
        return False


def _missing(engine: Engine) -> DatabaseError:
    return DatabaseError(f"no Dermaplan database at {where(engine)}: run 'dermaplan init' first")


def _foreign(engine: Engine) -> DatabaseError:
    return DatabaseError(f"{where(engine)} has tables but is not a Dermaplan database")


def _newer(revision: str) -> bool:
    """Whether a database's revision is a later Dermaplan's: revisions are numbered in order
    (0001, 0002, ...), so a higher number is one this version does not have."""
    numbered = revision.isascii() and revision.isdigit()
    return numbered and int(revision) > int(HEAD_REVISION)


def _outdated(engine: Engine, revision: str) -> DatabaseError:
    if _newer(revision):
        return DatabaseError(
            f"{where(engine)} is at schema revision {revision}, newer than this Dermaplan "
            f"knows ({HEAD_REVISION}): this Dermaplan is older than the database; upgrade "
            "Dermaplan (nothing was changed)"
        )
    return DatabaseError(
        f"{where(engine)} is at schema revision {revision}, this Dermaplan needs "
        f"{HEAD_REVISION}: back it up, then run `dermaplan db upgrade`"
    )


def prepare(engine: Engine) -> None:
    """Check that the database exists at this version's schema revision: refuse one that
    is missing or empty (`dermaplan init` makes it), foreign, or at another revision."""
    if _is_sqlite(engine) and not _has_content(sqlite_file(engine)):
        raise _missing(engine)  # before connecting, which would make the file a database
    if not _at_head(engine):
        state = schema_state(engine)
        if state.revision is None:
            raise _foreign(engine) if state.tables else _missing(engine)
        if state.revision != HEAD_REVISION:
            raise _outdated(engine, state.revision)
    _identify(engine)


def configured_engine(settings: Settings) -> Engine:
    """The engine for the configured database, anchoring its audit log in the configured
    store and signing it with the configured keyring; nothing is opened or created yet."""
    engine = create_records_engine(settings.database_url)
    anchor_engine(engine, anchor_store(settings))
    key_engine(engine, keyring_file(settings))
    return engine


def open_records(settings: Settings) -> Engine:
    """The engine for the configured database, which must exist at this schema revision
    (see `prepare`) and must not be pointed at another database's audit anchor."""
    engine = configured_engine(settings)
    try:
        finish_interrupted(engine, live_database(engine, settings.home))
        prepare(engine)
        store = engine_anchor(engine)
        if store is not None:
            refuse_foreign_anchor(store, store.read(), _database_id(engine))
    except BaseException:
        engine.dispose()
        raise
    return engine


def _database_id(engine: Engine) -> uuid.UUID:
    """The id `_identify` told the engine."""
    database: uuid.UUID = engine.get_execution_options()[DATABASE_OPTION]
    return database


@dataclass(frozen=True, slots=True)
class Initialised:
    where: str  # the database, for a person
    before: str | None  # its schema revision before; None: made now


def initialise(settings: Settings, *, upgrade_schema: bool = False) -> Initialised:
    """Make what the settings name, if missing: the home folder, the database (a SQLite
    file and its folder, all owner-only) at this version's schema, its audit keyring and its
    first audit anchor. A database at another revision is brought to head only with
    `upgrade_schema` (`db upgrade`; back it up first); a new database is refused an anchor
    already in use, and a database whose log is signed is never given a new keyring."""
    from alembic.util import CommandError

    store = anchor_store(settings)
    engine = configured_engine(settings)
    try:
        finish_interrupted(engine, live_database(engine, settings.home))
        private_folder(settings.home)
        if _is_sqlite(engine) and not sqlite_file(engine).exists():
            _refuse_used_anchor(store, engine)
            private_folder(sqlite_file(engine).parent)
            create_private_file(sqlite_file(engine))  # its -wal and -shm take its mode
        state = schema_state(engine)
        if state.revision is None and state.tables:
            raise _foreign(engine)
        if state.revision is None:
            _refuse_used_anchor(store, engine)
        elif state.revision != HEAD_REVISION and (not upgrade_schema or _newer(state.revision)):
            raise _outdated(engine, state.revision)
        keyring = _keyring(keyring_file(settings), engine, state.revision)
        try:
            sealed = upgrade(engine, keyring=keyring, actor=settings.actor)
        except CommandError as error:
            raise DatabaseError(
                f"{where(engine)} cannot be upgraded by this Dermaplan: {error}"
            ) from None
        claim_anchor(store, Anchor(_database_id(engine), {}))
        if sealed:
            advance_anchor(store, _database_id(engine), sealed, dt.datetime.now(dt.UTC))
        return Initialised(where(engine), state.revision)
    except OSError as error:  # a folder or file that cannot be made
        raise DatabaseError(f"cannot create {error.filename}: {error.strerror}") from None
    finally:
        engine.dispose()


def _keyring(file: KeyringFile, engine: Engine, revision: str | None) -> Keyring:
    """The keyring, made if missing, unless the log holds signed events: those need the
    keyring that signed them, which a new one cannot replace."""
    keyring = file.read()
    if keyring is not None:
        return keyring
    if not _earlier(revision, SIGNED_REVISION):
        with engine.execution_options(**{WRITE_OPTION: False}).connect() as connection:
            signed = connection.exec_driver_sql(
                "SELECT key_id FROM audit_event WHERE key_id IS NOT NULL LIMIT 1"
            ).scalar()
        if signed is not None:
            raise DatabaseError(
                f"no audit keyring at {file.where}, and the audit log of {where(engine)} is "
                f"signed (key {signed}): put back the keyring it was signed with (from its "
                "backup); a new one would not verify it"
            )
    return file.create(dt.datetime.now(dt.UTC))


def _refuse_used_anchor(store: AnchorStore, engine: Engine) -> None:
    if store.read() is not None:
        raise DatabaseError(
            f"the audit anchor {store.where} is already another database's, so it cannot anchor "
            f"the new database {where(engine)}: set DERMAPLAN_AUDIT_ANCHOR to a new file, or "
            "move that one away"
        )
