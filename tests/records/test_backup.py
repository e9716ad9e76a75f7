"""Backup and restore on both backends: a restore brings back exactly what was saved, is
checked before it replaces anything, and a refused restore leaves the live data as it was."""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from dermaplan.records import service
from dermaplan.records.backup import BackupError, backup, restore
from dermaplan.records.db import create_records_engine, transaction, upgrade
from dermaplan.records.models import Patient
from tests.records.database import tampering
from tests.records.factories import context, make_clinic, patient_data


def _add(engine: Engine, clinic_id: uuid.UUID, family_name: str) -> None:
    with transaction(engine) as session:
        service.create_patient(session, context(), clinic_id, patient_data(family_name=family_name))


def _names(engine: Engine) -> list[str]:
    with transaction(engine, write=False) as session:
        return sorted(session.scalars(select(Patient.family_name)))


def test_restore_brings_back_exactly_the_backup(
    engine: Engine, database_url: str, clinic_id: uuid.UUID, tmp_path: Path
) -> None:
    _add(engine, clinic_id, "Before")
    verified = backup(engine, tmp_path / "saved.backup")
    assert verified.events >= 1
    _add(engine, clinic_id, "After")
    assert _names(engine) == ["After", "Before"]

    report = restore(engine, tmp_path / "saved.backup")
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


def test_a_backup_never_overwrites(engine: Engine, tmp_path: Path) -> None:
    target = tmp_path / "saved.backup"
    target.write_text("an older backup")
    with pytest.raises(BackupError, match="already exists"):
        backup(engine, target)
    assert target.read_text() == "an older backup"


def test_a_garbage_file_is_refused_and_nothing_changes(
    engine: Engine, clinic_id: uuid.UUID, tmp_path: Path
) -> None:
    _add(engine, clinic_id, "Kept")
    garbage = tmp_path / "garbage.backup"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(BackupError):
        restore(engine, garbage)
    assert _names(engine) == ["Kept"]


def test_a_backup_with_a_broken_audit_chain_is_refused(
    engine: Engine, database_url: str, clinic_id: uuid.UUID, tmp_path: Path
) -> None:
    _add(engine, clinic_id, "Original")
    saved = tmp_path / "saved.backup"
    backup(engine, saved)
    with tampering(engine) as connection:
        connection.exec_driver_sql("UPDATE audit_event SET actor = 'intruder' WHERE seq = 1")
    tampered = tmp_path / "tampered.backup"
    backup_engine = create_records_engine(database_url)
    try:
        with pytest.raises(BackupError, match="audit chain"):
            backup(backup_engine, tampered)
        assert not tampered.exists()
    finally:
        backup_engine.dispose()


def test_a_missing_backup_file_is_a_clear_error(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="no such backup file"):
        restore(engine, tmp_path / "nowhere.backup")


def test_counts_survive_a_round_trip(engine: Engine, clinic_id: uuid.UUID, tmp_path: Path) -> None:
    for index in range(5):
        _add(engine, clinic_id, f"Patient{index}")
    backup(engine, tmp_path / "saved.backup")
    restore(engine, tmp_path / "saved.backup")
    with transaction(engine, write=False) as session:
        assert session.scalar(select(func.count()).select_from(Patient)) == 5


def test_a_tampered_backup_file_is_refused_before_anything_is_replaced(tmp_path: Path) -> None:
    """SQLite only: a PostgreSQL archive cannot be edited in place; the check is shared."""
    engine = create_records_engine(f"sqlite:///{tmp_path / 'live.db'}")
    upgrade(engine)
    clinic_id = make_clinic(engine)
    _add(engine, clinic_id, "Live")
    saved = tmp_path / "saved.backup"
    backup(engine, saved)
    with contextlib.closing(sqlite3.connect(saved)) as db:
        triggers = [
            row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        ]
        for trigger in triggers:
            db.execute(f'DROP TRIGGER "{trigger}"')
        db.execute("UPDATE audit_event SET actor = 'intruder' WHERE seq = 1")
        db.commit()
    _add(engine, clinic_id, "Newer")
    with pytest.raises(BackupError, match="audit chain is broken at event 1"):
        restore(engine, saved)
    assert _names(engine) == ["Live", "Newer"]
    engine.dispose()
