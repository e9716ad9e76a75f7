"""The records commands run against a real database on each backend, pointed at through
the environment as a clinic's would be, made by `dermaplan init` as a clinic's is, and
acting as the clinic's practitioner."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from dermaplan.records.db import create_records_engine, prepare, transaction
from dermaplan.records.enums import StaffRole
from dermaplan.records.keyring import key_engine, keyring_file
from dermaplan.records.service import add_staff, default_clinic
from dermaplan.records.settings import records_settings
from tests.commands.cli import run
from tests.records.database import BACKENDS, fresh_database
from tests.records.factories import context

PRACTITIONER = "Dr Ana Lima"
ADMIN = "Claude Admin"  # runs the clinic: audit, backups


@pytest.fixture(params=BACKENDS)
def uninitialised(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The environment of a clinic whose database is not made yet (no SQLite file, an empty
    PostgreSQL schema), with nobody named as acting; its home folder is `tmp_path / "data"`."""
    with fresh_database(str(request.param), tmp_path) as url:
        monkeypatch.setenv("DERMAPLAN_DATABASE_URL", url)
        monkeypatch.setenv("DERMAPLAN_HOME", str(tmp_path / "data"))
        monkeypatch.setenv("DERMAPLAN_ACTOR", "os:tester")
        monkeypatch.delenv("DERMAPLAN_STAFF", raising=False)
        yield url


@pytest.fixture
def empty_database(uninitialised: str) -> Iterator[Engine]:
    """A database made by `dermaplan init`, with no staff yet, and nobody named as acting."""
    code, _, err = run("init")
    assert code == 0, err
    engine = create_records_engine(uninitialised)
    key_engine(engine, keyring_file(records_settings()))  # the keyring `init` made
    prepare(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def database(uninitialised: str, empty_database: Engine, monkeypatch: pytest.MonkeyPatch) -> str:
    """A database the commands are pointed at, with its clinic, its admin and one
    practitioner, who acts (DERMAPLAN_STAFF)."""
    with transaction(empty_database) as session:
        clinic = default_clinic(session, context())
        member = add_staff(
            session, context(), clinic.id, PRACTITIONER, StaffRole.PRACTITIONER, "GMC 1234"
        )
        add_staff(session, context(), clinic.id, ADMIN, StaffRole.ADMIN)
    monkeypatch.setenv("DERMAPLAN_STAFF", str(member.id))
    return uninitialised


@pytest.fixture
def practitioner(database: str) -> uuid.UUID:
    """The practitioner acting."""
    import os

    return uuid.UUID(os.environ["DERMAPLAN_STAFF"])


@pytest.fixture
def engine(database: str) -> Iterator[Engine]:
    """The same database for the test's own checks."""
    engine = create_records_engine(database)
    key_engine(engine, keyring_file(records_settings()))
    prepare(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def admin(engine: Engine) -> str:
    """The clinic's admin (who publishes consent texts), as --as takes it."""
    return _member(engine, "Nadia Belkacem", StaffRole.ADMIN)


@pytest.fixture
def reception(engine: Engine) -> str:
    """A member of the clinic's reception, as --as takes it."""
    return _member(engine, "Rita Sousa", StaffRole.RECEPTION)


def _member(engine: Engine, name: str, role: StaffRole) -> str:
    with transaction(engine) as session:
        clinic = default_clinic(session, context())
        return str(add_staff(session, context(), clinic.id, name, role).id)
