"""Use cases run on a migrated database on each backend, inside an `Application` made as
a front end makes it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from dermaplan.app.unit import Application
from dermaplan.records.db import transaction
from dermaplan.records.enums import StaffRole
from dermaplan.records.service import add_staff, create_clinic
from dermaplan.records.settings import Settings
from tests.records import conftest as records
from tests.records.factories import context

# the records tests' databases: each backend, migrated
backend, database_url, keyring_path = records.backend, records.database_url, records.keyring_path
empty_engine, engine = records.empty_engine, records.engine


@pytest.fixture
def application(database_url: str, engine: Engine, tmp_path: Path) -> Iterator[Application]:
    settings = Settings(home=tmp_path / "data", database_url=database_url, actor="os:tester")
    app = Application(settings)
    yield app
    app.close()


def clinic_with_staff(engine: Engine, name: str) -> tuple[uuid.UUID, dict[StaffRole, uuid.UUID]]:
    """A clinic and one member of each role, by role."""
    with transaction(engine) as session:
        clinic = create_clinic(session, context(), name)
        members = {
            role: add_staff(session, context(), clinic.id, f"{role.value} of {name}", role).id
            for role in StaffRole
        }
    return clinic.id, members
