"""`initialise` (`dermaplan init`, `db upgrade`) is the one way a database comes to be: with
its home folder and its first anchor, once; every other opening refuses what is not a
Dermaplan database at this revision."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, text

from dermaplan.records.anchor import LocalAnchorFile, database_id
from dermaplan.records.db import (
    HEAD_REVISION,
    alembic_config,
    configured_engine,
    create_records_engine,
    initialise,
    open_records,
    prepare,
    schema_state,
)
from dermaplan.records.errors import DatabaseError
from dermaplan.records.settings import Settings

BEFORE_IDENTITY = "0010"  # the revision database_identity's migration follows


def settings_for(url: str, home: Path, anchor: Path | None = None) -> Settings:
    return Settings(home=home, database_url=url, audit_anchor=anchor or home / "audit-head.json")


def identity(settings: Settings) -> uuid.UUID:
    engine = create_records_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            return database_id(connection)
    finally:
        engine.dispose()


def test_initialise_makes_the_database_and_its_first_anchor_once(
    database_url: str, tmp_path: Path
) -> None:
    settings = settings_for(database_url, tmp_path / "home")
    done = initialise(settings)
    assert done.before is None
    assert settings.home.is_dir()
    first = LocalAnchorFile(settings.audit_anchor).read()
    assert first is not None
    assert (first.heads, first.database) == ({}, identity(settings))  # no chain yet
    again = initialise(settings)
    assert (again.where, again.before) == (done.where, HEAD_REVISION)
    assert LocalAnchorFile(settings.audit_anchor).read() == first
    open_records(settings).dispose()


def test_a_new_database_is_refused_an_anchor_already_in_use(
    database_url: str, tmp_path: Path
) -> None:
    initialise(settings_for(f"sqlite:///{tmp_path / 'first.db'}", tmp_path / "home"))
    shared = settings_for(database_url, tmp_path / "second", tmp_path / "home" / "audit-head.json")
    with pytest.raises(DatabaseError, match="is already another database's, so it cannot anchor"):
        initialise(shared)
    engine = create_records_engine(database_url)
    try:
        if engine.url.get_backend_name() == "sqlite":
            assert not Path(engine.url.database or "").exists()
        else:
            assert schema_state(engine).tables == 0
    finally:
        engine.dispose()


def test_an_anchor_of_another_database_stops_every_command(
    database_url: str, tmp_path: Path
) -> None:
    mine = settings_for(database_url, tmp_path / "home")
    initialise(mine)
    other = settings_for(f"sqlite:///{tmp_path / 'other.db'}", tmp_path / "other")
    initialise(other)
    crossed = settings_for(database_url, tmp_path / "home", other.audit_anchor)
    with pytest.raises(DatabaseError, match="belongs to another database"):
        open_records(crossed)


def test_an_outdated_database_is_upgraded_only_when_asked(
    database_url: str, tmp_path: Path
) -> None:
    settings = settings_for(database_url, tmp_path / "home")
    initialise(settings)
    engine = configured_engine(settings)
    with engine.begin() as connection:  # back to before databases had ids
        command.downgrade(alembic_config(connection), BEFORE_IDENTITY)
    engine.dispose()
    with pytest.raises(DatabaseError, match=rf"revision {BEFORE_IDENTITY}.*dermaplan db upgrade"):
        initialise(settings)
    settings.audit_anchor.unlink()  # its database id is gone with the table it was in
    assert initialise(settings, upgrade_schema=True).before == BEFORE_IDENTITY
    open_records(settings).dispose()


def test_a_database_from_a_later_dermaplan_asks_to_upgrade_dermaplan_not_the_database(
    database_url: str, tmp_path: Path
) -> None:
    """`db upgrade` cannot go forward from a revision it has never heard of: opening, init
    and db upgrade all say that this Dermaplan is the older one, and change nothing."""
    settings = settings_for(database_url, tmp_path / "home")
    initialise(settings)
    later = f"{int(HEAD_REVISION) + 1:04d}"
    engine = configured_engine(settings)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": later})
    engine.dispose()
    older = rf"revision {later}, newer than this Dermaplan knows .*this Dermaplan is older than"
    with pytest.raises(DatabaseError, match=older):
        open_records(settings)
    for upgrading in (False, True):
        with pytest.raises(DatabaseError, match=older):
            initialise(settings, upgrade_schema=upgrading)
    engine = configured_engine(settings)
    try:
        assert schema_state(engine).revision == later
    finally:
        engine.dispose()


def test_tables_of_something_else_are_never_taken_over(
    empty_engine: Engine, tmp_path: Path
) -> None:
    with empty_engine.begin() as connection:
        connection.execute(text("CREATE TABLE invoices (id INTEGER PRIMARY KEY)"))
    settings = settings_for(
        empty_engine.url.render_as_string(hide_password=False), tmp_path / "home"
    )
    with pytest.raises(DatabaseError, match="has tables but is not a Dermaplan database"):
        initialise(settings, upgrade_schema=True)
    assert not settings.audit_anchor.exists()


@pytest.mark.parametrize("content", [b"", b"invoices, 2026\n1,2\n" * 100])
def test_a_file_that_is_no_dermaplan_database_is_one_clear_error(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "records.db"
    path.write_bytes(content)
    engine = create_records_engine(f"sqlite:///{path}")
    try:
        with pytest.raises(DatabaseError) as raised:
            prepare(engine)
    finally:
        engine.dispose()
    message = str(raised.value)
    if content:
        assert message == f"{path} is not a Dermaplan database: file is not a database"
    else:  # an empty file is an empty SQLite database
        assert message == f"no Dermaplan database at {path}: run 'dermaplan init' first"
