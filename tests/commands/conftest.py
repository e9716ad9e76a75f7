"""The records commands run against a real, empty database on each backend, pointed at
through the environment as a clinic's would be."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from dermaplan.records.db import create_records_engine, prepare
from tests.records.database import BACKENDS, fresh_database


@pytest.fixture(params=BACKENDS)
def database(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """An empty database the commands are pointed at, as a clinic's environment would."""
    with fresh_database(str(request.param), tmp_path) as url:
        monkeypatch.setenv("DERMAPLAN_DATABASE_URL", url)
        monkeypatch.setenv("DERMAPLAN_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("DERMAPLAN_ACTOR", "staff:reception")
        yield url


@pytest.fixture
def engine(database: str) -> Iterator[Engine]:
    """The same database for the test's own checks (its schema made as on first use)."""
    engine = create_records_engine(database)
    prepare(engine)
    yield engine
    engine.dispose()
