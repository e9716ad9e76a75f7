"""Fresh, migrated databases for tests, on SQLite and PostgreSQL.

PostgreSQL comes from `DERMAPLAN_TEST_POSTGRES_URL` (default: the local trust-auth server).
Each database is a new schema in it, selected through the connection's search_path and
dropped afterwards, so tests never see each other's rows. Without a reachable server the
PostgreSQL cases are skipped, except under CI=true, where they fail.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from dermaplan.records.context import utc_now
from dermaplan.records.keyring import Keyring, KeyringFile, engine_keyring, key_engine

BACKENDS = ("sqlite", "postgresql")
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_url() -> str:
    return os.environ.get("DERMAPLAN_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL


@functools.cache
def postgres_unavailable() -> str | None:
    """Why PostgreSQL can't be used, or None when it can."""
    engine = create_engine(postgres_url(), connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return None
    except OperationalError as error:
        where = make_url(postgres_url()).render_as_string(hide_password=True)
        return f"PostgreSQL at {where} is unreachable ({' '.join(str(error.orig).split())})"
    finally:
        engine.dispose()


def require(backend: str) -> None:
    if backend != "postgresql":
        return
    reason = postgres_unavailable()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; under CI=true the PostgreSQL tests must run")
    pytest.skip(f"{reason}; start it (./run test does) or set DERMAPLAN_TEST_POSTGRES_URL")


@contextmanager
def fresh_database(backend: str, directory: Path) -> Iterator[str]:
    """The URL of an empty database that exists for the duration of the block."""
    require(backend)
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'records.db'}"
        return
    schema = f"dermaplan_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(postgres_url())
    try:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        url = make_url(postgres_url()).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


@contextmanager
def tampering(engine: Engine) -> Iterator[Connection]:
    """Raw SQL as an intruder would type it, with the append-only triggers out of the way."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("ALTER TABLE audit_event DISABLE TRIGGER USER")
        else:
            connection.exec_driver_sql("DROP TRIGGER audit_event_no_update")
            connection.exec_driver_sql("DROP TRIGGER audit_event_no_delete")
        yield connection


def keyed(engine: Engine, keyring: Path) -> KeyringFile:
    """Sign `engine`'s audit events with the keyring at that path, made if missing."""
    file = KeyringFile(keyring)
    if file.read() is None:
        file.create(utc_now())
    key_engine(engine, file)
    return file


def keys_of(engine: Engine) -> Keyring:
    """The keys that sign `engine`'s audit events (see `keyed`)."""
    found = engine_keyring(engine)
    assert found is not None, "the engine has no keyring: see keyed()"
    return found.require()
