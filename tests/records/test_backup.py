"""Backup and restore on both backends: a restore brings back exactly what was saved, is
checked before it replaces anything, and a refused restore leaves the live data as it was."""

from __future__ import annotations

import contextlib
import re
import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url

from dermaplan.records import service
from dermaplan.records.backup import SCRATCH, backup, photos_folder, restore, scratch_lock
from dermaplan.records.db import create_records_engine, transaction, upgrade
from dermaplan.records.errors import BackupError
from dermaplan.records.models import Patient
from dermaplan.records.photos import LocalFolderStorage
from dermaplan.records.scratch import PREFIX
from tests.commands.cli import UUID
from tests.records.database import keyed, tampering
from tests.records.factories import add_patient, add_photos, context, make_clinic, patient_data


def _add(engine: Engine, clinic_id: uuid.UUID, family_name: str) -> None:
    with transaction(engine) as session:
        service.create_patient(session, context(), clinic_id, patient_data(family_name=family_name))


def _names(engine: Engine) -> list[str]:
    with transaction(engine, write=False) as session:
        return sorted(session.scalars(select(Patient.family_name)))


def test_restore_brings_back_exactly_the_backup(
    engine: Engine,
    database_url: str,
    clinic_id: uuid.UUID,
    tmp_path: Path,
    storage: LocalFolderStorage,
) -> None:
    _add(engine, clinic_id, "Before")
    verified = backup(engine, tmp_path / "saved.backup", storage)
    assert verified.events >= 1
    _add(engine, clinic_id, "After")
    assert _names(engine) == ["After", "Before"]

    report = restore(engine, tmp_path / "saved.backup", storage, tmp_path)
    fresh = create_records_engine(database_url)
    try:
        assert _names(fresh) == ["Before"]
    finally:
        fresh.dispose()
    assert report.verified.events == verified.events
    assert report.kept_aside.exists()  # what was replaced is kept
    if database_url.startswith("sqlite"):
        kept = create_records_engine(f"sqlite:///{report.kept_aside}")
        try:
            assert _names(kept) == ["After", "Before"]
        finally:
            kept.dispose()


def test_a_backup_never_overwrites(
    engine: Engine, tmp_path: Path, storage: LocalFolderStorage
) -> None:
    target = tmp_path / "saved.backup"
    target.write_text("an older backup")
    with pytest.raises(BackupError, match="already exists"):
        backup(engine, target, storage)
    assert target.read_text() == "an older backup"


def test_a_garbage_file_is_refused_and_nothing_changes(
    engine: Engine, clinic_id: uuid.UUID, tmp_path: Path, storage: LocalFolderStorage
) -> None:
    _add(engine, clinic_id, "Kept")
    garbage = tmp_path / "garbage.backup"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(BackupError):
        restore(engine, garbage, storage, tmp_path)
    assert _names(engine) == ["Kept"]


def test_a_backup_with_a_broken_audit_chain_is_refused(
    engine: Engine,
    database_url: str,
    clinic_id: uuid.UUID,
    tmp_path: Path,
    storage: LocalFolderStorage,
) -> None:
    _add(engine, clinic_id, "Original")
    saved = tmp_path / "saved.backup"
    backup(engine, saved, storage)
    with tampering(engine) as connection:
        connection.exec_driver_sql("UPDATE audit_event SET actor = 'intruder' WHERE seq = 1")
    tampered = tmp_path / "tampered.backup"
    backup_engine = create_records_engine(database_url)
    try:
        with pytest.raises(
            BackupError, match=r"tampered\.backup: fails the audit check: event 1 of clinic"
        ):
            backup(backup_engine, tampered, storage)
        assert not tampered.exists()
    finally:
        backup_engine.dispose()


def test_a_missing_backup_file_is_a_clear_error(
    engine: Engine, tmp_path: Path, storage: LocalFolderStorage
) -> None:
    with pytest.raises(BackupError, match="no such backup file"):
        restore(engine, tmp_path / "nowhere.backup", storage, tmp_path)


def test_counts_survive_a_round_trip(
    engine: Engine, clinic_id: uuid.UUID, tmp_path: Path, storage: LocalFolderStorage
) -> None:
    for index in range(5):
        _add(engine, clinic_id, f"Patient{index}")
    backup(engine, tmp_path / "saved.backup", storage)
    restore(engine, tmp_path / "saved.backup", storage, tmp_path)
    with transaction(engine, write=False) as session:
        assert session.scalar(select(func.count()).select_from(Patient)) == 5


def test_a_tampered_backup_file_is_refused_before_anything_is_replaced(
    tmp_path: Path, storage: LocalFolderStorage
) -> None:
    """SQLite only: a PostgreSQL archive cannot be edited in place; the check is shared."""
    engine = create_records_engine(f"sqlite:///{tmp_path / 'live.db'}")
    keyed(engine, tmp_path / "audit-keyring.json")
    upgrade(engine)
    clinic_id = make_clinic(engine)
    _add(engine, clinic_id, "Live")
    saved = tmp_path / "saved.backup"
    backup(engine, saved, storage)
    with contextlib.closing(sqlite3.connect(saved)) as db:
        triggers = [
            row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        ]
        for trigger in triggers:
            db.execute(f'DROP TRIGGER "{trigger}"')
        db.execute("UPDATE audit_event SET actor = 'intruder' WHERE seq = 1")
        db.commit()
    _add(engine, clinic_id, "Newer")
    with pytest.raises(
        BackupError, match=r"saved.backup: fails the audit check: event 1 of clinic .* altered"
    ):
        restore(engine, saved, storage, tmp_path)
    assert _names(engine) == ["Live", "Newer"]
    engine.dispose()


def _files(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in folder.rglob("*")
        if path.is_file()
    }


def _with_photos(engine: Engine, clinic_id: uuid.UUID, storage: LocalFolderStorage) -> None:
    patient_id = add_patient(engine, clinic_id, family_name="Photographed")
    add_photos(engine, clinic_id, storage, patient_id, "cheeks", colour="salmon")
    add_photos(engine, clinic_id, storage, patient_id, "forehead", colour="tan")


def test_photo_files_come_back_byte_identical_into_an_empty_data_folder(
    engine: Engine, clinic_id: uuid.UUID, tmp_path: Path, storage: LocalFolderStorage
) -> None:
    _with_photos(engine, clinic_id, storage)
    saved = tmp_path / "saved.backup"
    verified = backup(engine, saved, storage)
    stored = _files(storage.root)
    assert len(stored) == len(verified.photo_files) == 2
    assert _files(photos_folder(saved)) == stored
    later = add_patient(engine, clinic_id, family_name="Later")
    add_photos(engine, clinic_id, storage, later, "neck", colour="navy")  # not in the backup

    empty = LocalFolderStorage(tmp_path / "new-data" / "photos")
    report = restore(engine, saved, empty, tmp_path)
    assert report.photos_copied == 2
    assert _files(empty.root) == stored
    assert _names(engine) == ["Photographed"]
    assert restore(engine, saved, empty, tmp_path).photos_copied == 0  # already there, checked


def test_a_missing_or_altered_photo_file_refuses_the_restore_and_nothing_is_replaced(
    engine: Engine, clinic_id: uuid.UUID, tmp_path: Path, storage: LocalFolderStorage
) -> None:
    _with_photos(engine, clinic_id, storage)
    saved = tmp_path / "saved.backup"
    backup(engine, saved, storage)
    _add(engine, clinic_id, "Later")
    first, second = sorted(_files(photos_folder(saved)))
    empty = LocalFolderStorage(tmp_path / "new-data" / "photos")
    (photos_folder(saved) / first).unlink()
    (photos_folder(saved) / second).write_bytes(b"altered")
    with pytest.raises(BackupError) as refused:
        restore(engine, saved, empty, tmp_path)
    assert str(refused.value).startswith(
        "2 of the backup's 2 photo files cannot be restored, nothing was replaced: "
    )
    assert f"photo file {first}: missing from {photos_folder(saved)}" in str(refused.value)
    assert f"photo file {second} in {photos_folder(saved)}: altered" in str(refused.value)
    assert not empty.root.exists()
    assert _names(engine) == ["Later", "Photographed"]
    # The live storage holds both, so the backup's damaged copies are not needed; but a
    # live file altered under its key is refused, never overwritten.
    assert restore(engine, saved, storage, tmp_path).photos_copied == 0
    _add(engine, clinic_id, "Later")
    (storage.root / second).write_bytes(b"altered too")
    with pytest.raises(BackupError, match=f"photo file {second} in the storage: altered"):
        restore(engine, saved, storage, tmp_path)
    assert _names(engine) == ["Later", "Photographed"]
    assert (storage.root / second).read_bytes() == b"altered too"


def test_a_backup_refuses_a_photo_file_missing_from_the_storage(
    engine: Engine, clinic_id: uuid.UUID, tmp_path: Path, storage: LocalFolderStorage
) -> None:
    _with_photos(engine, clinic_id, storage)
    lost = sorted(_files(storage.root))[0]
    (storage.root / lost).unlink()
    saved = tmp_path / "saved.backup"
    before = _listing(tmp_path)
    with pytest.raises(BackupError, match=f"photo file {lost}: missing from the storage"):
        backup(engine, saved, storage)
    assert _listing(tmp_path) == before  # no work folder, no partial copy


def test_backup_and_restore_report_each_stage_as_they_go(
    engine: Engine, clinic_id: uuid.UUID, tmp_path: Path, storage: LocalFolderStorage
) -> None:
    """What a progress bar draws: every stage starts at 0 and ends at its total, photo files
    one by one, and the database replaced step by step (the points
    tests/commands/test_cli_interrupted.py kills a restore at)."""
    _with_photos(engine, clinic_id, storage)
    seen: list[tuple[str, int, int]] = []
    saved = tmp_path / "saved.backup"
    backup(engine, saved, storage, lambda *step: seen.append(step))
    assert seen == [
        ("copying the database", 0, 1),
        ("copying the database", 1, 1),
        ("checking the copy", 0, 1),
        ("checking the copy", 1, 1),
        ("copying the photo files", 1, 2),
        ("copying the photo files", 2, 2),
    ]
    seen.clear()
    restore(
        engine, saved, LocalFolderStorage(tmp_path / "empty"), tmp_path, lambda *s: seen.append(s)
    )
    assert seen == [
        ("checking the backup", 0, 1),
        ("checking the backup", 1, 1),
        ("copying the photo files", 1, 2),
        ("copying the photo files", 2, 2),
        *(("replacing the database", step, 4) for step in range(5)),
    ]


def _listing(folder: Path) -> set[str]:
    """Every file and folder under `folder`, hidden ones too."""
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*")}


def test_a_backup_whose_records_were_edited_is_refused_before_anything_is_replaced(
    tmp_path: Path, storage: LocalFolderStorage
) -> None:
    """SQLite: a backup file edited in place, as `sqlite3 saved.backup "update patient …"`
    would; the same check refuses a PostgreSQL archive's (below, through `backup`)."""
    engine = create_records_engine(f"sqlite:///{tmp_path / 'live.db'}")
    keyed(engine, tmp_path / "audit-keyring.json")
    upgrade(engine)
    clinic_id = make_clinic(engine)
    _add(engine, clinic_id, "Live")
    saved = tmp_path / "saved.backup"
    backup(engine, saved, storage)
    with contextlib.closing(sqlite3.connect(saved)) as db:
        db.execute("UPDATE patient SET family_name = 'X' WHERE rowid = 1")
        db.commit()
    _add(engine, clinic_id, "Newer")
    engine.dispose()
    before = _listing(tmp_path)
    with pytest.raises(BackupError) as refused:
        restore(engine, saved, storage, tmp_path)
    # two findings, the first shown: the row no longer matches its audited state, and its
    # search name no longer follows from the name
    assert re.fullmatch(
        f"{re.escape(str(saved))}: fails the audit check: patient {UUID}: .* \\(and 1 more\\)",
        str(refused.value),
    )
    assert _names(engine) == ["Live", "Newer"]
    engine.dispose()
    assert _listing(tmp_path) == before  # the copy it checked, and its -wal, gone


def test_a_backup_of_records_edited_behind_the_services_back_is_refused(
    engine: Engine, clinic_id: uuid.UUID, tmp_path: Path, storage: LocalFolderStorage
) -> None:
    """The copy a backup makes is checked as `audit verify` checks: records too, not only
    the chain."""
    _add(engine, clinic_id, "Original")
    with tampering(engine) as connection:
        connection.exec_driver_sql("UPDATE patient SET family_name = 'Forged'")
    target = tmp_path / "saved.backup"
    before = _listing(tmp_path)
    with pytest.raises(BackupError, match=r"saved\.backup: fails the audit check: patient "):
        backup(engine, target, storage)
    assert _listing(tmp_path) == before


DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "empty": lambda data: b"",
    "truncated": lambda data: data[: len(data) // 2],
    "cut short": lambda data: data[:100],
    "not a backup": lambda data: b"dermaplan\n" * 1000,
    "header zeroed": lambda data: bytes(32) + data[32:],
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_backup_is_refused_in_one_line_naming_it(
    engine: Engine,
    database_url: str,
    clinic_id: uuid.UUID,
    tmp_path: Path,
    storage: LocalFolderStorage,
    damage: str,
) -> None:
    _add(engine, clinic_id, "Kept")
    saved = tmp_path / "backups" / "saved.backup"
    saved.parent.mkdir()
    backup(engine, saved, storage)
    damaged = saved.with_name("damaged.backup")
    damaged.write_bytes(DAMAGE[damage](saved.read_bytes()))
    before = _listing(tmp_path)
    with pytest.raises(BackupError) as refused:
        restore(engine, damaged, storage, tmp_path)
    message = str(refused.value)
    assert message.startswith(f"{damaged}: ")
    assert "\n" not in message
    assert PREFIX not in message  # never the copy it checked
    assert SCRATCH not in message  # nor the scratch database
    assert _names(engine) == ["Kept"]
    assert _listing(tmp_path) - before <= {"records.db-wal", "records.db-shm"}


def test_a_backup_damaged_where_sqlite_cannot_even_name_it_is_refused(
    tmp_path: Path, storage: LocalFolderStorage
) -> None:
    """An index whose name is no longer UTF-8 and whose pages are another table's: SQLite's
    integrity check reports the damage under that name, which is not text (a byte flip in
    the schema page does this)."""
    engine = create_records_engine(f"sqlite:///{tmp_path / 'live.db'}")
    keyed(engine, tmp_path / "audit-keyring.json")
    upgrade(engine)
    _add(engine, make_clinic(engine), "Kept")
    saved = tmp_path / "saved.backup"
    backup(engine, saved, storage)
    with contextlib.closing(sqlite3.connect(saved)) as db:
        db.execute("PRAGMA writable_schema = ON")
        db.execute(
            "UPDATE sqlite_master SET name = CAST(X'69FF78' AS TEXT), rootpage = "
            "(SELECT rootpage FROM sqlite_master WHERE name = 'clinic') "
            "WHERE name = 'ix_patient_search_name'"
        )
        db.commit()
    with pytest.raises(BackupError, match=rf"^{re.escape(str(saved))}: not a readable SQLite"):
        restore(engine, saved, storage, tmp_path)
    assert _names(engine) == ["Kept"]
    engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql"])  # SQLite's copies are in work folders
def test_a_scratch_database_left_by_a_killed_check_is_dropped_by_the_next(
    engine: Engine,
    database_url: str,
    clinic_id: uuid.UUID,
    tmp_path: Path,
    storage: LocalFolderStorage,
) -> None:
    """One whose process died, not one still in use (its process holds its lock)."""
    _add(engine, clinic_id, "Kept")
    admin = create_engine(
        make_url(database_url).set(database="postgres", query={}), isolation_level="AUTOCOMMIT"
    )
    abandoned, in_use = (f"{SCRATCH}{kind}_{uuid.uuid4().hex[:8]}" for kind in ("dead", "live"))
    listed = text("SELECT datname FROM pg_database WHERE datname IN (:a, :b)")
    try:
        with admin.connect() as connection, admin.connect() as holder:
            for name in (abandoned, in_use):
                connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
            holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": scratch_lock(in_use)})
            backup(engine, tmp_path / "saved.backup", storage)
            found = connection.execute(listed, {"a": abandoned, "b": in_use}).scalars().all()
            assert found == [in_use]
    finally:
        with admin.connect() as connection:
            for name in (abandoned, in_use):
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
