"""What holds patient data is its owner's alone: the database (with its -wal and -shm, and the
one a restore keeps aside), the anchor and the keyring, photos and backups (with their photo
folders) are created 0600, their folders 0700, even with no umask at all."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from dermaplan.records.backup import backup, default_target, photos_folder, restore
from dermaplan.records.db import configured_engine, create_records_engine, initialise, prepare
from dermaplan.records.photos import LocalFolderStorage
from dermaplan.records.private import private_folder
from dermaplan.records.settings import Settings
from tests.records.database import keyed
from tests.records.factories import add_patient, add_photos, make_clinic

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="no POSIX modes on Windows")


@pytest.fixture(autouse=True)
def _permissive_umask() -> Iterator[None]:
    """No umask at all: whatever is not made private on purpose comes out world-writable."""
    previous = os.umask(0o000)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_makes_the_home_database_anchor_and_keyring_private(tmp_path: Path) -> None:
    home = tmp_path / "srv" / "dermaplan"
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'db' / 'records.db'}")
    initialise(settings)
    engine = configured_engine(settings)
    try:
        add_patient(engine, make_clinic(engine), family_name="Private")  # WAL in use
        database = home / "db" / "records.db"
        files = [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
        files += [settings.audit_anchor, *home.glob(".audit-head.json.lock")]
        files += [settings.audit_keyring, *home.glob(".audit-keyring.json.lock")]
        assert {path.name: mode(path) for path in files} == {path.name: 0o600 for path in files}
    finally:
        engine.dispose()
    folders = [tmp_path / "srv", home, home / "db"]
    assert [mode(folder) for folder in folders] == [0o700] * 3


def test_an_existing_folder_is_left_as_it_is(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o750)
    private_folder(shared / "a" / "b")
    assert (mode(shared), mode(shared / "a"), mode(shared / "a" / "b")) == (0o750, 0o700, 0o700)


def test_photos_and_backups_are_private(
    engine: Engine, tmp_path: Path, backend: str, keyring_path: Path
) -> None:
    storage = LocalFolderStorage(tmp_path / "home" / "photos")
    clinic = make_clinic(engine)
    add_photos(engine, clinic, storage, add_patient(engine, clinic), "cheeks")
    [photo] = storage.root.rglob("*.png")
    assert (mode(storage.root), mode(photo.parent), mode(photo)) == (0o700, 0o700, 0o600)
    url = engine.url.render_as_string(hide_password=False)
    target = default_target(Settings(home=tmp_path / "home", database_url=url))
    backup(engine, target, storage)
    [copied] = photos_folder(target).rglob("*.png")
    made = [target.parent, target, photos_folder(target), copied.parent, copied]
    assert [mode(path) for path in made] == [0o700, 0o600, 0o700, 0o700, 0o600]
    if backend == "sqlite":
        live = tmp_path / "new-machine" / "records.db"
        moved = LocalFolderStorage(tmp_path / "new-machine" / "photos")
        restored = create_records_engine(f"sqlite:///{live}")
        keyed(restored, keyring_path)  # the keyring travels to the new machine too
        try:
            restore(restored, target, moved, tmp_path)
            aside = restore(restored, target, moved, tmp_path).kept_aside  # over a live database
            prepare(restored)
            add_patient(restored, clinic, family_name="After")  # its -wal and -shm in use
            [put] = moved.root.rglob("*.png")
            made = [live.parent, live, aside, moved.root, put.parent, put]
            made += [Path(f"{live}-wal"), Path(f"{live}-shm")]
            assert {p.name: mode(p) for p in made} == {
                p.name: 0o600 if p.is_file() else 0o700 for p in made
            }
        finally:
            restored.dispose()
