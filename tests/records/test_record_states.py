"""A record's row edited behind the services' back no longer matches the after-digest of
its last audited event, and `verify_log` names it."""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from pathlib import Path

from sqlalchemy import Engine, text

from dermaplan.knowledge import KnowledgeBase
from dermaplan.knowledge.schema import Modality
from dermaplan.records import courses, service, sessions
from dermaplan.records.anchor import LocalAnchorFile
from dermaplan.records.db import sqlite_file, transaction
from dermaplan.records.integrity import LogReport, verify_log
from dermaplan.records.photos import PhotoStorage
from tests.records.database import keys_of
from tests.records.factories import (
    add_consent,
    add_patient,
    add_photos,
    context,
    make_practitioner,
    session_data,
)
from tests.records.test_courses import make_consult, plan


def verified(engine: Engine, tmp_path: Path, storage: PhotoStorage) -> LogReport:
    with transaction(engine, write=False) as session:
        return verify_log(
            session,
            LocalAnchorFile(tmp_path / "no-anchor.json"),
            keyring=keys_of(engine),
            photos=storage,
        )


def intruding(engine: Engine, table: str, statement: str) -> None:
    """Raw SQL, with the table's immutability triggers out of the way as an intruder would."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        else:
            names = connection.execute(
                text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"),
                {"t": table},
            ).scalars()
            for name in list(names):
                connection.exec_driver_sql(f"DROP TRIGGER {name}")
        connection.exec_driver_sql(statement)


def a_busy_clinic(
    engine: Engine, clinic_id: uuid.UUID, kb: KnowledgeBase, storage: PhotoStorage
) -> dict[str, uuid.UUID]:
    """Records through every audited change: created, updated, deleted, signed, amended,
    approved, started and fulfilled."""
    practitioner_id = make_practitioner(engine, clinic_id)
    patient_id = add_patient(engine, clinic_id, allergies=[])
    add_consent(engine, clinic_id, patient_id)
    add_photos(engine, clinic_id, storage, patient_id, "forehead", "cheeks")
    consult_id = make_consult(engine, clinic_id, patient_id, practitioner_id, plan())
    gone = add_patient(engine, clinic_id, family_name="Leaving")
    with transaction(engine) as session:
        ctx = context()
        service.update_patient(session, ctx, clinic_id, patient_id, {"phone": "+33 1 23"})
        service.delete_patient(session, ctx, clinic_id, gone, "duplicate")
        service.read_patient(session, ctx, clinic_id, patient_id)
        course = courses.start_course(session, ctx, clinic_id, consult_id, Modality.MICRONEEDLING)
        data = session_data(kb, patient_id, practitioner_id)
        first = sessions.record_session(session, ctx, clinic_id, data, kb)
        sessions.sign_session(session, ctx, clinic_id, first.id, kb)
        courses.fulfil_planned_session(session, ctx, clinic_id, course.id, 1, first.id)
        fixed = session_data(kb, patient_id, practitioner_id, notes="no bleeding")
        amendment = sessions.amend_session(session, ctx, clinic_id, first.id, fixed, kb, "typo")
        sessions.sign_session(session, ctx, clinic_id, amendment.id, kb)
    return {"patient": patient_id, "session": amendment.id, "consult": consult_id}


def test_records_as_the_services_left_them_verify(
    engine: Engine,
    clinic_id: uuid.UUID,
    kb: KnowledgeBase,
    storage: PhotoStorage,
    tmp_path: Path,
) -> None:
    a_busy_clinic(engine, clinic_id, kb, storage)
    report = verified(engine, tmp_path, storage)
    assert report.changed == []
    assert report.intact


def test_a_patient_renamed_with_raw_sql_is_reported(
    engine: Engine,
    clinic_id: uuid.UUID,
    kb: KnowledgeBase,
    storage: PhotoStorage,
    tmp_path: Path,
) -> None:
    ids = a_busy_clinic(engine, clinic_id, kb, storage)
    intruding(
        engine,
        "patient",
        "UPDATE patient SET given_names = 'Eve', search_name = 'moreau eve' "
        f"WHERE id = '{ids['patient'].hex}'",
    )
    report = verified(engine, tmp_path, storage)
    assert not report.intact
    assert len(report.changed) == 1
    assert report.changed[0].startswith(
        f"patient {ids['patient']}: its stored row no longer matches its last audited state"
    )


def test_a_signed_session_edited_with_raw_sql_is_reported(
    engine: Engine,
    clinic_id: uuid.UUID,
    kb: KnowledgeBase,
    storage: PhotoStorage,
    tmp_path: Path,
) -> None:
    ids = a_busy_clinic(engine, clinic_id, kb, storage)
    intruding(
        engine,
        "treatment_session",
        f"UPDATE treatment_session SET notes = 'nothing happened' "
        f"WHERE id = '{ids['session'].hex}'",
    )
    assert [line.split(":")[0] for line in verified(engine, tmp_path, storage).changed] == [
        f"session {ids['session']}"
    ]


def test_a_row_that_no_longer_reads_is_reported_not_a_traceback(
    engine: Engine,
    clinic_id: uuid.UUID,
    kb: KnowledgeBase,
    storage: PhotoStorage,
    tmp_path: Path,
) -> None:
    """A value Dermaplan never writes (an id that is no UUID, which SQLite holds as readily
    as any text; a sex no enum has, once its CHECK is dropped) makes the row unreadable: it
    is named as a broken record, and every other row is still compared."""
    ids = a_busy_clinic(engine, clinic_id, kb, storage)
    odd = add_patient(engine, clinic_id, family_name="Odd")
    if engine.dialect.name == "sqlite":
        with contextlib.closing(sqlite3.connect(sqlite_file(engine))) as db, db:
            db.execute("UPDATE patient SET id = 'not-a-uuid' WHERE id = ?", (odd.hex,))
        shown = "not-a-uuid"
    else:
        intruding(engine, "patient", "ALTER TABLE patient DROP CONSTRAINT ck_patient_sex")
        intruding(engine, "patient", f"UPDATE patient SET sex = 'robot' WHERE id = '{odd}'")
        shown = str(odd)
    intruding(
        engine,
        "patient",
        "UPDATE patient SET given_names = 'Eve', search_name = 'moreau eve' "
        f"WHERE id = '{ids['patient'].hex}'",
    )
    report = verified(engine, tmp_path, storage)
    assert not report.intact
    # on SQLite the id itself was changed: the record of the old id is gone too
    gone = {f"patient {odd}": "its row is gone, yet the"} if shown != str(odd) else {}
    assert {line.split(": ")[0]: line.split(": ")[1][:24] for line in report.changed} == {
        f"patient {shown}": "its stored row cannot be",
        f"patient {ids['patient']}": "its stored row no longer",
    } | gone
