"""The audit anchor: the chain's head kept outside the database, so a log cut short at its
end is found; written after each commit, only forward, and never a false alarm after a crash."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine

from dermaplan.records import anchor, service
from dermaplan.records.anchor import Anchor, AnchorCheck, anchor_engine, check_anchor, read_anchor
from dermaplan.records.audit import check_chain
from dermaplan.records.backup import backup, restore
from dermaplan.records.db import transaction
from dermaplan.records.photos import PhotoStorage
from tests.records.database import tampering
from tests.records.factories import add_patient, context, events, patient_data


@pytest.fixture
def head_file(engine: Engine, tmp_path: Path) -> Path:
    path = tmp_path / "anchor" / "audit-head.json"
    anchor_engine(engine, path)
    return path


def checked(engine: Engine, path: Path) -> AnchorCheck:
    with transaction(engine, write=False) as session:
        return check_anchor(session, path)


def head(engine: Engine) -> tuple[int, str]:
    last = events(engine)[-1]
    return last.seq, last.hash


def add_patients(engine: Engine, clinic_id: uuid.UUID, count: int) -> None:
    for number in range(count):
        add_patient(engine, clinic_id, family_name=f"Anchored{number}")


def test_every_commit_that_appends_moves_the_anchor_to_the_head(
    engine: Engine, head_file: Path, clinic_id: uuid.UUID
) -> None:
    add_patients(engine, clinic_id, 3)
    written = read_anchor(head_file)
    assert written is not None
    assert (written.seq, written.hash) == head(engine) == (4, events(engine)[-1].hash)
    with transaction(engine, write=False) as session:
        check_chain(session)  # a read-only transaction appends nothing: the anchor stays
    assert read_anchor(head_file) == written
    assert checked(engine, head_file).cut is None


@pytest.mark.parametrize(
    ("statement", "ends_at"),
    [("DELETE FROM audit_event WHERE seq > 2", 2), ("DELETE FROM audit_event", 0)],
)
def test_a_log_cut_off_at_its_end_is_found(
    engine: Engine, head_file: Path, clinic_id: uuid.UUID, statement: str, ends_at: int
) -> None:
    add_patients(engine, clinic_id, 3)
    with tampering(engine) as connection:
        connection.exec_driver_sql(statement)
    with transaction(engine, write=False) as session:
        assert check_chain(session).broken is None  # what is left is a valid chain
    cut = checked(engine, head_file).cut
    assert cut is not None
    assert f"the log ends at event {ends_at} but the anchor {head_file} records event 4" in cut


def test_a_log_cut_then_written_again_differs_at_the_anchored_event(
    engine: Engine, head_file: Path, clinic_id: uuid.UUID
) -> None:
    add_patients(engine, clinic_id, 3)
    with tampering(engine) as connection:
        connection.exec_driver_sql("DELETE FROM audit_event WHERE seq > 2")
    add_patients(engine, clinic_id, 2)  # events 3 and 4 again, other hashes
    written = read_anchor(head_file)
    assert written is not None
    assert written.seq == 4
    cut = checked(engine, head_file).cut
    assert cut is not None
    assert "event 4 is not the one anchored" in cut


def test_no_anchor_file_is_no_failure(engine: Engine, tmp_path: Path, clinic_id: uuid.UUID) -> None:
    add_patients(engine, clinic_id, 1)  # this engine keeps no anchor
    report = checked(engine, tmp_path / "nowhere.json")
    assert (report.anchor, report.cut) == (None, None)


def test_the_anchor_never_moves_back(tmp_path: Path) -> None:
    path = tmp_path / "audit-head.json"
    now = context().now
    anchor.advance_anchor(path, Anchor(7, "b" * 64, now))
    anchor.advance_anchor(path, Anchor(5, "a" * 64, now))
    assert read_anchor(path) == Anchor(7, "b" * 64, now)
    anchor.reset_anchor(path, Anchor(5, "a" * 64, now))  # a restore may go back
    assert read_anchor(path) == Anchor(5, "a" * 64, now)


def test_concurrent_writers_leave_the_anchor_at_the_true_head(
    engine: Engine, head_file: Path, clinic_id: uuid.UUID
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
    written = read_anchor(head_file)
    assert written is not None
    assert (written.seq, written.hash) == head(engine) == (61, events(engine)[-1].hash)
    assert checked(engine, head_file).cut is None


def test_a_crash_between_commit_and_anchor_is_no_tampering(
    engine: Engine, head_file: Path, clinic_id: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_patients(engine, clinic_id, 2)
    lagging = read_anchor(head_file)

    class Crash(BaseException):
        pass

    def crash(_path: Path, _anchor: Anchor) -> None:
        raise Crash

    with monkeypatch.context() as patched:
        patched.setattr(anchor, "advance_anchor", crash)
        with pytest.raises(Crash):
            add_patients(engine, clinic_id, 1)
    assert head(engine)[0] == 4  # committed, though the anchor was never written
    report = checked(engine, head_file)
    assert (report.anchor, report.cut) == (lagging, None)
    add_patients(engine, clinic_id, 1)
    caught_up = read_anchor(head_file)
    assert caught_up is not None
    assert (caught_up.seq, caught_up.hash) == head(engine)


def test_a_restore_anchors_the_restored_head(
    engine: Engine,
    head_file: Path,
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
    written = read_anchor(head_file)
    assert written is not None
    assert (written.seq, written.hash) == restored_head
    assert checked(engine, head_file).cut is None
