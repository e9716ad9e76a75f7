"""The audit anchor: the chain's head kept outside the database, so a log cut short at its
end is found; written after each commit, only forward, never a false alarm after a crash,
and never mistaken for another database's."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from dermaplan.records import anchor, service
from dermaplan.records.anchor import (
    Anchor,
    AnchorCheck,
    LocalAnchorFile,
    anchor_engine,
    check_anchor,
    database_id,
)
from dermaplan.records.audit import GENESIS, check_chain
from dermaplan.records.backup import backup, restore
from dermaplan.records.db import create_records_engine, transaction, upgrade
from dermaplan.records.errors import DatabaseError
from dermaplan.records.photos import PhotoStorage
from tests.records.database import fresh_database, tampering
from tests.records.factories import add_patient, context, events, make_clinic, patient_data


@pytest.fixture
def head_file(engine: Engine, tmp_path: Path) -> LocalAnchorFile:
    store = LocalAnchorFile(tmp_path / "anchor" / "audit-head.json")
    anchor_engine(engine, store)
    return store


def checked(engine: Engine, store: LocalAnchorFile) -> AnchorCheck:
    with transaction(engine, write=False) as session:
        return check_anchor(session, store)


def identity(engine: Engine) -> uuid.UUID:
    with engine.connect() as connection:
        return database_id(connection)


def head(engine: Engine) -> tuple[int, str]:
    last = events(engine)[-1]
    return last.seq, last.hash


def add_patients(engine: Engine, clinic_id: uuid.UUID, count: int) -> None:
    for number in range(count):
        add_patient(engine, clinic_id, family_name=f"Anchored{number}")


def test_every_commit_that_appends_moves_the_anchor_to_the_head(
    engine: Engine, head_file: LocalAnchorFile, clinic_id: uuid.UUID
) -> None:
    add_patients(engine, clinic_id, 3)
    written = head_file.read()
    assert written is not None
    assert (written.seq, written.hash) == head(engine) == (4, events(engine)[-1].hash)
    assert written.database == identity(engine)
    with transaction(engine, write=False) as session:
        check_chain(session)  # a read-only transaction appends nothing: the anchor stays
    assert head_file.read() == written
    assert checked(engine, head_file).cut is None


@pytest.mark.parametrize(
    ("statement", "ends_at"),
    [("DELETE FROM audit_event WHERE seq > 2", 2), ("DELETE FROM audit_event", 0)],
)
def test_a_log_cut_off_at_its_end_is_found(
    engine: Engine, head_file: LocalAnchorFile, clinic_id: uuid.UUID, statement: str, ends_at: int
) -> None:
    add_patients(engine, clinic_id, 3)
    with tampering(engine) as connection:
        connection.exec_driver_sql(statement)
    with transaction(engine, write=False) as session:
        assert check_chain(session).broken is None  # what is left is a valid chain
    cut = checked(engine, head_file).cut
    assert cut is not None
    assert (
        f"the log ends at event {ends_at} but the anchor {head_file.where} records event 4" in cut
    )


def test_a_log_cut_then_written_again_differs_at_the_anchored_event(
    engine: Engine, head_file: LocalAnchorFile, clinic_id: uuid.UUID
) -> None:
    add_patients(engine, clinic_id, 3)
    with tampering(engine) as connection:
        connection.exec_driver_sql("DELETE FROM audit_event WHERE seq > 2")
    add_patients(engine, clinic_id, 2)  # events 3 and 4 again, other hashes
    written = head_file.read()
    assert written is not None
    assert written.seq == 4
    cut = checked(engine, head_file).cut
    assert cut is not None
    assert "event 4 is not the one anchored" in cut


def test_no_anchor_file_is_no_failure(engine: Engine, tmp_path: Path, clinic_id: uuid.UUID) -> None:
    add_patients(engine, clinic_id, 1)  # this engine keeps no anchor
    report = checked(engine, LocalAnchorFile(tmp_path / "nowhere.json"))
    assert (report.anchor, report.cut) == (None, None)


def test_the_anchor_never_moves_back(tmp_path: Path) -> None:
    store = LocalAnchorFile(tmp_path / "audit-head.json")
    now, database = context().now, uuid.uuid4()
    anchor.advance_anchor(store, Anchor(7, "b" * 64, now, database))
    anchor.advance_anchor(store, Anchor(5, "a" * 64, now, database))
    assert store.read() == Anchor(7, "b" * 64, now, database)
    anchor.reset_anchor(store, Anchor(5, "a" * 64, now, database))  # a restore may go back
    assert store.read() == Anchor(5, "a" * 64, now, database)


def test_concurrent_writers_leave_the_anchor_at_the_true_head(
    engine: Engine, head_file: LocalAnchorFile, clinic_id: uuid.UUID
) -> None:
    def write(writer: int) -> None:
        for number in range(10):
            with transaction(engine) as session:
                data = patient_data(family_name=f"Writer{writer}", given_names=f"N{number}")
                patient = service.create_patient(session, context(), clinic_id, data)
                service.read_patient(session, context(), clinic_id, patient.id)

    threads = [threading.Thread(target=write, args=(writer,)) for writer in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    written = head_file.read()
    assert written is not None
    assert (written.seq, written.hash) == head(engine) == (61, events(engine)[-1].hash)
    assert checked(engine, head_file).cut is None


def test_a_crash_between_commit_and_anchor_is_no_tampering(
    engine: Engine,
    head_file: LocalAnchorFile,
    clinic_id: uuid.UUID,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_patients(engine, clinic_id, 2)
    lagging = head_file.read()

    class Crash(BaseException):
        pass

    def crash(_store: LocalAnchorFile, _anchor: Anchor) -> None:
        raise Crash

    with monkeypatch.context() as patched:
        patched.setattr(anchor, "advance_anchor", crash)
        with pytest.raises(Crash):
            add_patients(engine, clinic_id, 1)
    assert head(engine)[0] == 4  # committed, though the anchor was never written
    report = checked(engine, head_file)
    assert (report.anchor, report.cut) == (lagging, None)
    add_patients(engine, clinic_id, 1)
    caught_up = head_file.read()
    assert caught_up is not None
    assert (caught_up.seq, caught_up.hash) == head(engine)


def test_a_restore_anchors_the_restored_head(
    engine: Engine,
    head_file: LocalAnchorFile,
    clinic_id: uuid.UUID,
    storage: PhotoStorage,
    tmp_path: Path,
) -> None:
    add_patients(engine, clinic_id, 1)
    restored_head = head(engine)
    copy = tmp_path / "copy.backup"
    backup(engine, copy, storage)
    add_patients(engine, clinic_id, 2)
    restore(engine, copy, storage)
    written = head_file.read()
    assert written is not None
    assert (written.seq, written.hash, written.database) == (*restored_head, identity(engine))
    assert checked(engine, head_file).cut is None


@pytest.fixture
def other_engine(backend: str, tmp_path: Path) -> Iterator[Engine]:
    """A second database on the same backend, with its clinic."""
    folder = tmp_path / "other"
    folder.mkdir()
    with fresh_database(backend, folder) as url:
        other = create_records_engine(url)
        upgrade(other)
        make_clinic(other)
        yield other
        other.dispose()


def test_two_databases_never_share_an_anchor_nor_raise_a_false_alarm(
    engine: Engine, head_file: LocalAnchorFile, clinic_id: uuid.UUID, other_engine: Engine
) -> None:
    assert identity(engine) != identity(other_engine)
    add_patients(engine, clinic_id, 3)
    mine = head_file.read()
    anchor_engine(other_engine, head_file)
    with (
        pytest.raises(DatabaseError, match="belongs to another database"),
        transaction(other_engine) as session,  # its commit stays committed ...
    ):
        service.create_clinic(session, context(), "Other clinic")
    assert head_file.read() == mine  # ... but never moves this database's anchor
    with pytest.raises(DatabaseError) as raised:
        checked(other_engine, head_file)
    assert str(raised.value) == (
        f"the audit anchor {head_file.where} belongs to another database ({identity(engine)}), "
        f"not to this one ({identity(other_engine)}): give each database its own anchor "
        "(DERMAPLAN_AUDIT_ANCHOR)"
    )
    assert checked(engine, head_file).cut is None


def test_an_anchor_written_before_databases_had_ids_is_taken_as_this_ones(
    engine: Engine, head_file: LocalAnchorFile, clinic_id: uuid.UUID
) -> None:
    add_patients(engine, clinic_id, 1)
    seq, hash_ = head(engine)
    head_file.path.write_text(
        json.dumps({"seq": seq, "hash": hash_, "written_at": context().now.isoformat()}),
        encoding="utf-8",
    )
    report = checked(engine, head_file)
    assert report.anchor is not None
    assert (report.anchor.database, report.cut) == (None, None)
    add_patients(engine, clinic_id, 1)
    written = head_file.read()
    assert written is not None
    assert written.database == identity(engine)  # the next change records the id


def test_a_new_databases_anchor_at_event_zero_checks(
    engine: Engine, head_file: LocalAnchorFile
) -> None:
    first = Anchor(0, GENESIS, context().now, identity(engine))
    assert anchor.claim_anchor(head_file, first)
    assert not anchor.claim_anchor(head_file, first)  # already there: nothing written
    assert checked(engine, head_file) == AnchorCheck(head_file.where, first, None)
    with pytest.raises(DatabaseError, match="belongs to another database"):
        anchor.claim_anchor(head_file, Anchor(0, GENESIS, context().now, uuid.uuid4()))
