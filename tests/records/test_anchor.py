"""The audit anchor: every chain's head kept outside the database, so a chain cut short at
its end is found; written after each commit, only forward, never a false alarm after a
crash, and never mistaken for another database's."""

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
    AnchoredHead,
    LocalAnchorFile,
    anchor_engine,
    check_anchor,
    database_id,
)
from dermaplan.records.audit import check_chain
from dermaplan.records.backup import backup, restore
from dermaplan.records.db import create_records_engine, transaction, upgrade
from dermaplan.records.errors import DatabaseError
from dermaplan.records.keyring import Keyring
from dermaplan.records.lanes import LEGACY, Chain
from dermaplan.records.photos import PhotoStorage
from tests.records.database import fresh_database, keyed, tampering
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


def anchored(store: LocalAnchorFile) -> dict[Chain, tuple[int, str]]:
    written = store.read()
    assert written is not None
    return {chain: (head.seq, head.hash) for chain, head in written.heads.items()}


def add_patients(engine: Engine, clinic_id: uuid.UUID, count: int) -> None:
    for number in range(count):
        add_patient(engine, clinic_id, family_name=f"Anchored{number}")


def test_every_commit_that_appends_moves_the_anchor_to_the_heads(
    engine: Engine, head_file: LocalAnchorFile, clinic_id: uuid.UUID, keyring: Keyring
) -> None:
    add_patients(engine, clinic_id, 3)
    assert anchored(head_file) == {Chain(clinic_id, 0): head(engine)}
    assert head(engine)[0] == 4
    written = head_file.read()
    assert written is not None
    assert written.database == identity(engine)
    with transaction(engine) as session:
        service.search_patients(session, context(), clinic_id, "anc")  # a read lane's first
    assert anchored(head_file) == {Chain(clinic_id, 0): (4, events(engine)[-2].hash)} | {
        Chain(clinic_id, 1): head(engine)
    }
    with transaction(engine, write=False) as session:
        check_chain(session, keyring)  # a read-only transaction appends nothing: the anchor stays
    assert checked(engine, head_file).cut is None


def test_an_event_a_savepoint_took_back_is_never_anchored(
    engine: Engine, head_file: LocalAnchorFile, clinic_id: uuid.UUID
) -> None:
    """The anchor takes the head a transaction holds on each chain it appended to: after a
    savepoint rolled back (a refused change, `UnitOfWork.attempt`), the head still there."""
    add_patients(engine, clinic_id, 1)
    with transaction(engine) as session:
        service.create_patient(session, context(), clinic_id, patient_data(family_name="Kept"))
        with session.begin_nested() as attempt:
            service.create_patient(session, context(), clinic_id, patient_data(family_name="Not"))
            attempt.rollback()
    assert (
        anchored(head_file)
        == {Chain(clinic_id, 0): head(engine)}
        == {Chain(clinic_id, 0): (3, events(engine)[-1].hash)}
    )
    with transaction(engine) as session:
        with session.begin_nested() as attempt:
            service.create_patient(session, context(), clinic_id, patient_data(family_name="Not"))
            attempt.rollback()
        service.search_patients(session, context(), clinic_id, "kep")  # a read lane's first
    assert anchored(head_file) == {
        Chain(clinic_id, 0): (3, events(engine)[-2].hash),
        Chain(clinic_id, 1): head(engine),
    }
    assert checked(engine, head_file).cut is None


@pytest.mark.parametrize(
    ("statement", "ends_at"),
    [
        ("DELETE FROM audit_event WHERE lane = 1", 0),
        ("DELETE FROM audit_event WHERE lane = 0 AND seq > 2", 2),
        ("DELETE FROM audit_event", 0),
    ],
)
def test_a_chain_cut_off_at_its_end_is_found(
    engine: Engine,
    head_file: LocalAnchorFile,
    clinic_id: uuid.UUID,
    keyring: Keyring,
    statement: str,
    ends_at: int,
) -> None:
    add_patients(engine, clinic_id, 3)
    with transaction(engine) as session:
        service.search_patients(session, context(), clinic_id, "anc")
    with tampering(engine) as connection:
        connection.exec_driver_sql(statement)
    with transaction(engine, write=False) as session:
        assert check_chain(session, keyring).broken is None  # what is left are valid chains
    cut = checked(engine, head_file).cut
    assert cut is not None
    lane, seq = (1, 1) if "lane = 1" in statement else (0, 4)
    assert cut.startswith(
        f"the log ends at event {ends_at} of clinic {clinic_id} lane {lane} but the anchor "
        f"{head_file.where} records event {seq}"
    )


def test_a_chain_cut_then_written_again_differs_at_the_anchored_event(
    engine: Engine, head_file: LocalAnchorFile, clinic_id: uuid.UUID
) -> None:
    add_patients(engine, clinic_id, 3)
    with tampering(engine) as connection:
        connection.exec_driver_sql("DELETE FROM audit_event WHERE seq > 2")
    add_patients(engine, clinic_id, 2)  # events 3 and 4 again, other hashes
    assert anchored(head_file)[Chain(clinic_id, 0)][0] == 4
    cut = checked(engine, head_file).cut
    assert cut is not None
    assert f"event 4 of clinic {clinic_id} lane 0 is not the one anchored" in cut


def test_no_anchor_file_is_no_failure(engine: Engine, tmp_path: Path, clinic_id: uuid.UUID) -> None:
    add_patients(engine, clinic_id, 1)  # this engine keeps no anchor
    report = checked(engine, LocalAnchorFile(tmp_path / "nowhere.json"))
    assert (report.anchor, report.cut) == (None, None)


def test_a_killed_writers_temporary_anchor_goes_with_the_next_write(tmp_path: Path) -> None:
    store = LocalAnchorFile(tmp_path / "audit-head.json")
    left = tmp_path / ".audit-head.json.partial"  # as a writer killed mid-write leaves it
    left.write_text('{"database": "')
    anchor.reset_anchor(store, Anchor(uuid.uuid4(), {}))
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        ".audit-head.json.lock",
        "audit-head.json",
    ]


def test_each_chains_anchor_never_moves_back(tmp_path: Path) -> None:
    store = LocalAnchorFile(tmp_path / "audit-head.json")
    now, database = context().now, uuid.uuid4()
    first, second = Chain(uuid.uuid4(), 0), Chain(uuid.uuid4(), 3)
    anchor.advance_anchor(store, database, {first: (7, "b" * 64)}, now)
    anchor.advance_anchor(store, database, {first: (5, "a" * 64), second: (2, "c" * 64)}, now)
    assert store.read() == Anchor(
        database, {first: AnchoredHead(7, "b" * 64, now), second: AnchoredHead(2, "c" * 64, now)}
    )
    back = Anchor(database, {first: AnchoredHead(5, "a" * 64, now)})
    anchor.reset_anchor(store, back)  # a restore may go back
    assert store.read() == back


def test_concurrent_writers_leave_the_anchor_at_the_true_heads(
    engine: Engine, head_file: LocalAnchorFile, clinic_id: uuid.UUID, keyring: Keyring
) -> None:
    def write(writer: int) -> None:
        for number in range(10):
            with transaction(engine) as session:
                data = patient_data(family_name=f"Writer{writer}", given_names=f"N{number}")
                patient = service.create_patient(session, context(), clinic_id, data)
                service.read_patient(session, context(), clinic_id, patient.id)
            with transaction(engine) as session:
                service.search_patients(session, context(), clinic_id, f"writer{writer}")

    threads = [threading.Thread(target=write, args=(writer,)) for writer in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with transaction(engine, write=False) as session:
        heads = check_chain(session, keyring).heads
    assert anchored(head_file) == heads
    assert heads[Chain(clinic_id, 0)][0] == 61  # each change and the read with it
    assert sum(seq for chain, (seq, _) in heads.items() if chain.lane > 0) == 30
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

    def crash(*_arguments: object) -> None:
        raise Crash

    with monkeypatch.context() as patched:
        patched.setattr(anchor, "advance_anchor", crash)
        with pytest.raises(Crash):
            add_patients(engine, clinic_id, 1)
    assert head(engine)[0] == 4  # committed, though the anchor was never written
    report = checked(engine, head_file)
    assert (report.anchor, report.cut) == (lagging, None)
    add_patients(engine, clinic_id, 1)
    assert anchored(head_file) == {Chain(clinic_id, 0): head(engine)}


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
    restore(engine, copy, storage, tmp_path)
    assert anchored(head_file) == {Chain(clinic_id, 0): restored_head}
    written = head_file.read()
    assert written is not None
    assert written.database == identity(engine)
    assert checked(engine, head_file).cut is None


@pytest.fixture
def other_engine(backend: str, tmp_path: Path) -> Iterator[Engine]:
    """A second database on the same backend, with its clinic."""
    folder = tmp_path / "other"
    folder.mkdir()
    with fresh_database(backend, folder) as url:
        other = create_records_engine(url)
        keyed(other, folder / "audit-keyring.json")
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
        json.dumps(
            {
                "chains": {
                    f"{clinic_id}/0": {
                        "seq": seq,
                        "hash": hash_,
                        "written_at": context().now.isoformat(),
                    }
                }
            }
        ),
        encoding="utf-8",
    )
    report = checked(engine, head_file)
    assert report.anchor is not None
    assert (report.anchor.database, report.cut) == (None, None)
    add_patients(engine, clinic_id, 1)
    written = head_file.read()
    assert written is not None
    assert written.database == identity(engine)  # the next change records the id


def test_an_anchor_of_revision_0011_anchors_the_databases_chain_of_then(tmp_path: Path) -> None:
    store = LocalAnchorFile(tmp_path / "audit-head.json")
    database, when = uuid.uuid4(), context().now
    for seq, heads in ((0, {}), (5, {LEGACY: AnchoredHead(5, "a" * 64, when)})):
        store.path.write_text(
            json.dumps(
                {
                    "database": str(database),
                    "seq": seq,
                    "hash": "a" * 64,
                    "written_at": when.isoformat(),
                }
            ),
            encoding="utf-8",
        )
        assert store.read() == Anchor(database, heads)


def test_a_new_databases_anchor_holds_no_chain_and_checks(
    engine: Engine, head_file: LocalAnchorFile
) -> None:
    first = Anchor(identity(engine), {})
    assert anchor.claim_anchor(head_file, first)
    assert not anchor.claim_anchor(head_file, first)  # already there: nothing written
    assert checked(engine, head_file) == AnchorCheck(head_file.where, first, None)
    with pytest.raises(DatabaseError, match="belongs to another database"):
        anchor.claim_anchor(head_file, Anchor(uuid.uuid4(), {}))


def test_one_write_serves_every_head_posted_before_it(tmp_path: Path) -> None:
    """A group commit: heads posted by writers waiting for the lock go into the next write;
    a writer whose heads are written already writes nothing; another database's posted
    heads, and those a restore replaced, are never written."""
    store = LocalAnchorFile(tmp_path / "audit-head.json")
    now, database, other = context().now, uuid.uuid4(), uuid.uuid4()
    first, second, third = (Chain(uuid.uuid4(), lane) for lane in (0, 1, 2))
    store.post(database, {second: (3, "b" * 64)})  # waiting for the lock
    store.post(other, {third: (9, "c" * 64)})  # a database pointed at the wrong anchor
    anchor.advance_anchor(store, database, {first: (2, "a" * 64)}, now)
    assert anchored(store) == {first: (2, "a" * 64), second: (3, "b" * 64)}
    written = store.path.stat().st_mtime_ns
    anchor.advance_anchor(store, database, {second: (3, "b" * 64)}, now)  # written already
    assert store.path.stat().st_mtime_ns == written
    store.post(database, {second: (4, "d" * 64)})  # from the log a restore replaces
    anchor.reset_anchor(store, Anchor(database, {}))
    anchor.advance_anchor(store, database, {first: (1, "e" * 64)}, now)
    assert anchored(store) == {first: (1, "e" * 64)}
    assert store.posted.read_text(encoding="utf-8") == ""
