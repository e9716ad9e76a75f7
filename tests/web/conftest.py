"""The web app over a migrated database (SQLite; PostgreSQL where a test asks for both), a
clock the tests move, and two clinics whose staff can sign in: the second clinic is there
for the first never to see it."""

from __future__ import annotations

import datetime as dt
import functools
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from dermaplan.app.unit import Application
from dermaplan.records import logins
from dermaplan.records.db import create_records_engine, transaction, upgrade
from dermaplan.records.enums import StaffRole
from dermaplan.records.settings import Settings
from dermaplan.web.app import create_app
from tests.app.conftest import clinic_with_staff
from tests.records.database import BACKENDS, fresh_database, keyed
from tests.records.factories import add_patient, context

PASSWORD = "correct horse battery staple"
START = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)
TOTP_SECRETS = {StaffRole.ADMIN: "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"}


class Clock:
    """The application's clock, moved by the tests."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


KEYRING = "audit-keyring.json"  # where the settings of a home folder keep it


@dataclass(frozen=True)
class Clinic:
    id: uuid.UUID
    staff: dict[StaffRole, uuid.UUID]
    logins: dict[StaffRole, str]
    patient: uuid.UUID  # one patient of the clinic's


@dataclass(frozen=True)
class World:
    application: Application
    engine: Engine
    clock: Clock
    ours: Clinic
    theirs: Clinic


@functools.cache
def password_hash() -> str:
    """One argon2id hash for every test member (hashing costs a tenth of a second)."""
    return logins.hash_password(PASSWORD)


def clinic(engine: Engine, name: str, family_name: str) -> Clinic:
    """A clinic with a member of each role who can sign in (the admin with a second
    factor), and one patient."""
    clinic_id, staff = clinic_with_staff(engine, name)
    names = {}
    with transaction(engine) as session:
        for role, staff_id in staff.items():
            login = f"{role.value}@{name.lower()}"
            logins.store_credential(session, context(), clinic_id, staff_id, password_hash(), login)
            if role in TOTP_SECRETS:
                logins.enrol_totp(session, context(), clinic_id, staff_id, TOTP_SECRETS[role])
            names[role] = login
    patient = add_patient(engine, clinic_id, family_name=family_name, given_names="Claire")
    return Clinic(clinic_id, staff, names, patient)


def world_on(backend: str, directory: Path) -> Iterator[World]:
    with fresh_database(backend, directory) as url:
        engine = create_records_engine(url)
        keyed(engine, directory / "data" / KEYRING)
        upgrade(engine)
        ours, theirs = clinic(engine, "Parc", "Moreau"), clinic(engine, "Lac", "Lacombe")
        yield from _world(url, engine, directory, ours, theirs)


def _world(
    url: str, engine: Engine, directory: Path, ours: Clinic, theirs: Clinic
) -> Iterator[World]:
    clock = Clock()
    settings = Settings(home=directory / "data", database_url=url, actor="os:tester")
    application = Application(settings, clock)
    try:
        yield World(application, engine, clock, ours, theirs)
    finally:
        application.close()
        engine.dispose()


@pytest.fixture(scope="session")
def sqlite_world_file(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, Clinic, Clinic]:
    """The SQLite database of a world, migrated and filled once for the run: each test
    takes a copy (migrating and hashing for every test would double the time)."""
    directory = tmp_path_factory.mktemp("web-world")
    path = directory / "records.db"
    engine = create_records_engine(f"sqlite:///{path}")
    keyed(engine, directory / "data" / KEYRING)
    upgrade(engine)
    made = clinic(engine, "Parc", "Moreau"), clinic(engine, "Lac", "Lacombe")
    engine.dispose()  # the last connection closed: the write-ahead log is in the file
    return path, *made


@pytest.fixture
def world(tmp_path: Path, sqlite_world_file: tuple[Path, Clinic, Clinic]) -> Iterator[World]:
    """On SQLite: what a test of the pages or the security needs."""
    template, ours, theirs = sqlite_world_file
    path = tmp_path / "records.db"
    shutil.copyfile(template, path)
    (tmp_path / "data").mkdir(mode=0o700)
    shutil.copy(template.parent / "data" / KEYRING, tmp_path / "data" / KEYRING)  # its mode too
    url = f"sqlite:///{path}"
    engine = create_records_engine(url)
    keyed(engine, tmp_path / "data" / KEYRING)
    yield from _world(url, engine, tmp_path, ours, theirs)


@pytest.fixture(params=BACKENDS)
def any_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """On each backend: for what must hold on both (clinics kept apart)."""
    yield from world_on(str(request.param), tmp_path)


def client_of(world: World, base_url: str = "http://testserver") -> TestClient:
    return TestClient(create_app(world.application), base_url=base_url)


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with client_of(world) as made:
        yield made


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(page: str) -> str:
    found = CSRF.search(page)
    assert found, page
    return found.group(1)


def code(world: World, role: StaffRole = StaffRole.ADMIN) -> str:
    return pyotp.TOTP(TOTP_SECRETS[role]).at(world.clock.now)


def sign_in(client: TestClient, world: World, role: StaffRole, clinic: Clinic | None = None) -> str:
    """Sign in as the clinic's member of `role` (with the code, where they have a second
    factor); the session's CSRF token."""
    login = (clinic or world.ours).logins[role]
    form = client.get("/login")
    answer = client.post(
        "/login",
        data={"csrf_token": csrf(form.text), "login": login, "password": PASSWORD},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    if answer.headers["location"] == "/login/code":
        page = client.get("/login/code")
        answer = client.post(
            "/login/code",
            data={"csrf_token": csrf(page.text), "code": code(world, role)},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/today"
    return csrf(client.get("/today").text)


def api_token(world: World, role: StaffRole, clinic: Clinic | None = None) -> dict[str, str]:
    """The Authorization header of a new token of the clinic's member of `role`."""
    where = clinic or world.ours
    with transaction(world.engine) as session:
        _, secret = logins.create_token(
            session, context(), where.id, where.staff[role], "tests", 30
        )
    return {"Authorization": f"Bearer {secret}"}
