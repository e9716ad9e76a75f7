"""Every records test runs once on SQLite and once on PostgreSQL, on a migrated schema."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from dermaplan.records.db import create_records_engine, upgrade
from dermaplan.records.keyring import Keyring, KeyringFile
from dermaplan.records.photos import LocalFolderStorage
from tests.records.database import BACKENDS, fresh_database, keyed
from tests.records.factories import make_clinic


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    with fresh_database(backend, tmp_path) as url:
        yield url


@pytest.fixture
def keyring_path(tmp_path: Path) -> Path:
    """Where the settings of a home folder `tmp_path / "data"` keep the audit keyring."""
    return tmp_path / "data" / "audit-keyring.json"


@pytest.fixture
def empty_engine(database_url: str, keyring_path: Path) -> Iterator[Engine]:
    """An engine on an empty database, its audit events signed with the test's keyring."""
    engine = create_records_engine(database_url)
    keyed(engine, keyring_path)
    yield engine
    engine.dispose()


@pytest.fixture
def keyring(empty_engine: Engine, keyring_path: Path) -> Keyring:
    """The keys that sign the test database's audit events."""
    return KeyringFile(keyring_path).require()


@pytest.fixture
def engine(empty_engine: Engine) -> Engine:
    """The schema built the way production builds it: `alembic upgrade head`."""
    upgrade(empty_engine)
    return empty_engine


@pytest.fixture
def clinic_id(engine: Engine) -> uuid.UUID:
    return make_clinic(engine)


@pytest.fixture
def storage(tmp_path: Path) -> LocalFolderStorage:
    return LocalFolderStorage(tmp_path / "data" / "photos")
