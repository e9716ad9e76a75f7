"""Where the records live: one environment variable, or a SQLite file under the data dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from dermaplan.records.db import database_url
from dermaplan.records.errors import DatabaseError
from dermaplan.records.settings import records_settings


def test_the_default_is_a_sqlite_file_under_data_in_the_working_directory() -> None:
    settings = records_settings({"USER": "x"}, cwd=Path("/srv/clinic"))
    assert settings.database_url == "sqlite:////srv/clinic/data/dermaplan.db"
    assert settings.data_dir == Path("/srv/clinic/data")
    assert settings.actor.startswith("os:")


def test_the_environment_chooses_the_directory_database_and_actor() -> None:
    settings = records_settings(
        {"DERMAPLAN_DATA_DIR": "/var/lib/dermaplan", "DERMAPLAN_ACTOR": "staff:ana"},
        cwd=Path("/srv"),
    )
    assert settings.database_url == "sqlite:////var/lib/dermaplan/dermaplan.db"
    assert settings.actor == "staff:ana"
    url = "postgresql://dermaplan@db.internal/records"
    assert records_settings({"DERMAPLAN_DATABASE_URL": url}).database_url == url


@pytest.mark.parametrize(
    ("raw", "driver"),
    [
        ("sqlite:///records.db", "sqlite"),
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgres://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
    ],
)
def test_postgresql_always_goes_through_psycopg_3(raw: str, driver: str) -> None:
    assert database_url(raw).drivername == driver


@pytest.mark.parametrize("raw", ["mysql://u:secret@h/db", "records.db", "sqlite+aiosqlite:///x"])
def test_other_databases_are_refused_without_showing_passwords(raw: str) -> None:
    with pytest.raises(DatabaseError) as raised:
        database_url(raw)
    assert "secret" not in str(raised.value)
