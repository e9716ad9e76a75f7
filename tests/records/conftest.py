"""Every records test runs once on SQLite and once on PostgreSQL, on a migrated schema."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from dermaplan.records.db import create_records_engine, upgrade
from dermaplan.records.photos import LocalFolderStorage
from tests.records.database import BACKENDS, fresh_database
from tests.records.factories import make_clinic


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    with fresh_database(backend, tmp_path) as url:
        yield url


@pytest.fixture
def empty_engine(database_url: str) -> Iterator[Engine]:
    engine = create_records_engine(database_url)
    yield engine
    engine.dispose()


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
