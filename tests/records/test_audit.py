"""The audit chains: one event per access, written with the change, on its clinic's lanes,
tamper-evident, unforked."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import multiprocessing
import threading
import uuid
from enum import StrEnum
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from dermaplan.records import service
from dermaplan.records.audit import (
    GENESIS,
    canonical_json,
    check_chain,
    digest,
    event_hash,
    verify_chain,
)
from dermaplan.records.db import create_records_engine, prepare, transaction
from dermaplan.records.enums import StaffRole
from dermaplan.records.errors import RecordsError
from dermaplan.records.lanes import Chain
from tests.records.database import keyed, keys_of, tampering
from tests.records.factories import add_patient, context, counts, document, events, patient_data

WRITERS, WRITES_EACH = 2, 15


def verified(engine: Engine) -> int:
    with transaction(engine, write=False) as session:
        report = check_chain(session, keys_of(engine))
    assert report.broken is None, report.broken
    return report.events


def five_events(engine: Engine, clinic_id: uuid.UUID) -> None:
    """Three changes on the clinic's lane 0 (the clinic, the patient, an update) and two
    reads on its first read lane."""
    patient_id = add_patient(engine, clinic_id)
    with transaction(engine) as session:
        service.read_patient(session, context(), clinic_id, patient_id)
        service.update_patient(session, context(), clinic_id, patient_id, {"phone": "+33 1 23"})
        service.search_patients(session, context(), clinic_id, "mor")


def test_changes_join_lane_0_and_reads_a_read_lane_each_chain_linked(
    engine: Engine, clinic_id: uuid.UUID
) -> None:
    five_events(engine, clinic_id)
    written = events(engine)
    assert [(e.action, e.lane, e.seq) for e in written] == [
        ("clinic.create", 0, 1),
        ("patient.create", 0, 2),
        ("patient.read", 1, 1),
        ("patient.update", 0, 3),
        ("patient.search", 1, 2),
    ]
    assert {e.clinic_id for e in written} == {clinic_id}
    for lane in (0, 1):
        chain = [e for e in written if e.lane == lane]
        assert chain[0].prev_hash == GENESIS
        assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(chain))
    with transaction(engine, write=False) as session:
        report = check_chain(session, keys_of(engine))
    assert (report.events, report.broken) == (5, None)
    assert report.heads == {
        Chain(clinic_id, 0): (3, written[3].hash),
        Chain(clinic_id, 1): (2, written[4].hash),
    }


def test_an_empty_log_verifies(engine: Engine) -> None:
    with transaction(engine, write=False) as session:
        assert check_chain(session, keys_of(engine)).events == 0
        assert verify_chain(session, keys_of(engine)) is None


@pytest.mark.parametrize(
    ("tamper", "lane", "seq", "reason"),
    [
        ("UPDATE audit_event SET actor = 'staff:someone-else' WHERE lane = 0 AND seq = 2",
         0, 2, "was altered after it was written"),
        ("UPDATE audit_event SET after_digest = NULL WHERE lane = 1 AND seq = 2",
         1, 2, "was altered after it was written"),
        (f"UPDATE audit_event SET hash = '{'f' * 64}' WHERE lane = 0 AND seq = 1",
         0, 1, "was altered after it was written"),
        ("UPDATE audit_event SET occurred_at = occurred_at - INTERVAL '1 day' "
         "WHERE lane = 1 AND seq = 1", 1, 1, "was altered after it was written"),
        ("UPDATE audit_event SET lane = 1 WHERE lane = 0 AND seq = 3",
         1, 3, "does not follow the one before"),
        ("UPDATE audit_event SET lane = 2 WHERE lane = 1 AND seq = 1",
         1, 1, "is missing (the next is 2)"),
        ("DELETE FROM audit_event WHERE lane = 0 AND seq = 2",
         0, 2, "is missing (the next is 3)"),
        ("DELETE FROM audit_event WHERE lane = 1 AND seq = 1",
         1, 1, "is missing (the next is 2)"),
    ],
)  # fmt: skip
def test_tampering_is_found_at_the_first_broken_link_of_its_chain(
    engine: Engine,
    clinic_id: uuid.UUID,
    backend: str,
    tamper: str,
    lane: int,
    seq: int,
    reason: str,
) -> None:
    five_events(engine, clinic_id)
    if "INTERVAL" in tamper and backend == "sqlite":
        tamper = (
            "UPDATE audit_event SET occurred_at = '2020-01-01 00:00:00.000000' "
            "WHERE lane = 1 AND seq = 1"
        )
    with tampering(engine) as connection:
        connection.exec_driver_sql(tamper)
    with transaction(engine, write=False) as session:
        broken = verify_chain(session, keys_of(engine))
    assert broken is not None
    assert (broken.chain, broken.seq) == (Chain(clinic_id, lane), seq)
    assert broken.reason == f"event {seq} of clinic {clinic_id} lane {lane} {reason}"


@pytest.mark.parametrize("with_the_key", [True, False])
def test_an_event_rewritten_with_a_fresh_hash_breaks_the_next_link(
    engine: Engine, clinic_id: uuid.UUID, with_the_key: bool
) -> None:
    """With the key, a rewritten event breaks the link of the next; without it (only the
    database's plain SHA-256 to go by), the rewritten event itself no longer verifies."""
    five_events(engine, clinic_id)
    forged = next(e for e in events(engine) if (e.lane, e.seq) == (0, 2))
    forged.actor = "staff:someone-else"
    key = keys_of(engine).current if with_the_key else None
    with tampering(engine) as connection:
        connection.execute(
            text("UPDATE audit_event SET actor = :actor, hash = :hash WHERE lane = 0 AND seq = 2"),
            {"actor": forged.actor, "hash": event_hash(forged, key)},
        )
    with transaction(engine, write=False) as session:
        broken = verify_chain(session, keys_of(engine))
    assert broken is not None
    seq, reason = (3, "does not follow the one before") if with_the_key else (2, "was altered")
    assert (broken.chain, broken.seq) == (Chain(clinic_id, 0), seq)
    assert broken.reason.startswith(f"event {seq} of clinic {clinic_id} lane 0 {reason}")


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_event SET actor = 'x'", "DELETE FROM audit_event"]
)
def test_the_database_refuses_to_rewrite_the_log(
    engine: Engine, clinic_id: uuid.UUID, statement: str
) -> None:
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.exec_driver_sql(statement)
    assert verified(engine) == 1


def test_a_change_and_its_event_commit_together_or_not_at_all(
    engine: Engine, clinic_id: uuid.UUID
) -> None:
    before = counts(engine)

    def command_failing_after_the_change() -> None:
        with transaction(engine) as session:
            service.create_patient(session, context(), clinic_id, patient_data())
            raise RuntimeError("the command failed after the service call")

    with pytest.raises(RuntimeError):
        command_failing_after_the_change()
    assert counts(engine) == before


def test_a_failed_audit_write_keeps_the_change_out(
    engine: Engine, clinic_id: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(service, "record_event", refuse)
    before = counts(engine)
    with pytest.raises(RuntimeError), transaction(engine) as session:
        service.create_patient(session, context(), clinic_id, patient_data())
    assert counts(engine) == before


def test_events_hold_digests_not_data(engine: Engine, clinic_id: uuid.UUID) -> None:
    add_patient(engine, clinic_id, family_name="Ravel", email="ravel@example.org")
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT * FROM audit_event").all()
    dump = repr(rows)
    assert "Ravel" not in dump
    assert "ravel@example.org" not in dump


def _write_patients(url: str, clinic: str, writer: int, keyring: Path) -> None:
    """Adds then reads patients: a read writes its event after a SELECT, the racy order;
    the adds share lane 0, the reads take read lanes."""
    engine = create_records_engine(url)
    keyed(engine, keyring)
    prepare(engine)
    clinic_id = uuid.UUID(clinic)
    try:
        for n in range(WRITES_EACH):
            patient_id = add_patient(
                engine, clinic_id, family_name=f"Writer{writer}", given_names=f"N{n}"
            )
            with transaction(engine) as session:
                service.read_patient(session, context(), clinic_id, patient_id)
    finally:
        engine.dispose()


def test_concurrent_threads_keep_every_chain_whole(
    engine: Engine, database_url: str, clinic_id: uuid.UUID, keyring_path: Path
) -> None:
    threads = [
        threading.Thread(
            target=_write_patients, args=(database_url, str(clinic_id), writer, keyring_path)
        )
        for writer in range(WRITERS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counts(engine)[0] == WRITERS * WRITES_EACH
    assert verified(engine) == 1 + 2 * WRITERS * WRITES_EACH


def test_concurrent_processes_keep_every_chain_whole(
    engine: Engine, database_url: str, clinic_id: uuid.UUID, keyring_path: Path
) -> None:
    spawn = multiprocessing.get_context("spawn")
    processes = [
        spawn.Process(
            target=_write_patients, args=(database_url, str(clinic_id), writer, keyring_path)
        )
        for writer in range(WRITERS)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [process.exitcode for process in processes] == [0] * WRITERS
    assert counts(engine)[0] == WRITERS * WRITES_EACH
    assert verified(engine) == 1 + 2 * WRITERS * WRITES_EACH


def test_a_savepoint_rolled_back_takes_its_events_and_the_chain_goes_on_from_before(
    engine: Engine, clinic_id: uuid.UUID
) -> None:
    patient_id = add_patient(engine, clinic_id)
    with transaction(engine) as session:
        kept = service.read_patient(session, context(), clinic_id, patient_id)
        nested = session.begin_nested()
        service.search_patients(session, context(), clinic_id, "mor")
        nested.rollback()
        service.search_patients(session, context(), clinic_id, "rav")
    chain = events(engine)
    assert [event.action for event in chain[-2:]] == ["patient.read", "patient.search"]
    assert [event.lane for event in chain[-2:]] == [1, 1]
    assert chain[-1].prev_hash == chain[-2].hash
    assert kept.id == patient_id
    assert verified(engine) == len(chain)


def test_a_transaction_never_links_to_the_head_an_earlier_one_knew(
    engine: Engine, database_url: str, clinic_id: uuid.UUID, keyring_path: Path
) -> None:
    """The head read as a transaction begins lives with the pooled connection: the next
    transaction on it, read-only or not, must not reuse it after another writer appended."""
    other = create_records_engine(database_url)
    keyed(other, keyring_path)
    try:
        for write in (True, False):
            add_patient(engine, clinic_id)  # this engine's connection learns the head
            add_patient(other, clinic_id)  # another writer moves it on
            with transaction(engine, write=write) as session:
                service.search_patients(session, context(), clinic_id, "mor")
    finally:
        other.dispose()
    assert verified(engine) == 1 + 6
    assert engine.pool.checkedin() == 1  # one pooled connection served every transaction


OPERATIONS = st.sampled_from(
    ["add", "read", "update", "delete", "search", "list", "consult", "approve", "correct", "fail"]
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations=st.lists(OPERATIONS, min_size=1, max_size=12))
def test_any_sequence_of_operations_keeps_the_chain_valid(
    engine: Engine, clinic_id: uuid.UUID, operations: list[str]
) -> None:
    """Each committed operation adds its events; a refused or failed one adds none."""
    practitioner = service_practitioner(engine, clinic_id)
    patients: list[uuid.UUID] = []
    consults: list[uuid.UUID] = []
    for operation in operations:
        start = verified(engine)
        try:
            with transaction(engine) as session:
                written = apply(session, operation, clinic_id, practitioner, patients, consults)
        except (RecordsError, RuntimeError):
            written = 0
        assert verified(engine) == start + written


def service_practitioner(engine: Engine, clinic_id: uuid.UUID) -> uuid.UUID:
    with transaction(engine) as session:
        return service.add_staff(
            session, context(), clinic_id, "Dr Test", StaffRole.PRACTITIONER
        ).id


def apply(
    session: Session,
    operation: str,
    clinic_id: uuid.UUID,
    practitioner: uuid.UUID,
    patients: list[uuid.UUID],
    consults: list[uuid.UUID],
) -> int:
    """Run one operation; return how many events it should have written."""
    ctx = context()
    if operation == "add" or not patients:
        patients.append(service.create_patient(session, ctx, clinic_id, patient_data()).id)
        return 1
    patient = patients[-1]
    if operation == "read":
        service.read_patient(session, ctx, clinic_id, patient)
    elif operation == "update":
        service.update_patient(session, ctx, clinic_id, patient, {"given_names": "Élise"})
    elif operation == "delete":
        service.delete_patient(session, ctx, clinic_id, patient, "duplicate record")
    elif operation == "search":
        service.search_patients(session, ctx, clinic_id, "mo")
    elif operation == "list":
        service.list_patients(session, ctx, clinic_id)
    elif operation == "consult" or not consults:
        consults.append(service.create_consult(session, ctx, clinic_id, patient, document()).id)
    elif operation == "approve":
        approved = service.approve_consult(session, ctx, clinic_id, consults[-1], practitioner)
        return 2 if approved.supersedes_id else 1
    elif operation == "correct":
        consults.append(
            service.correct_consult(
                session, ctx, clinic_id, consults[-1], document("fix"), "typo"
            ).id
        )
    else:
        service.create_patient(session, ctx, clinic_id, patient_data())
        raise RuntimeError("the command failed after writing")
    return 1


def test_digests_are_canonical() -> None:
    assert digest({"b": 1, "a": "é"}) == digest({"a": "é", "b": 1})
    assert digest({"a": 1}) != digest({"a": 2})


def _reference(value: object) -> object:
    """The canonical form as docs/records.md defines it, one value at a time."""
    if isinstance(value, dict):
        return {key: _reference(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_reference(item) for item in value]
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date | uuid.UUID):
        return str(value)
    if isinstance(value, StrEnum):
        return value.value
    return value


class _Moment(dt.datetime):
    """A subclass, as a library's own datetime type would be."""


_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.uuids(),
    st.dates(),
    st.datetimes(timezones=st.timezones()),
    st.datetimes(timezones=st.timezones()).map(
        lambda moment: _Moment.fromisoformat(moment.isoformat())
    ),
    st.sampled_from(StaffRole),
)


@given(
    st.recursive(
        _LEAVES,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
        max_leaves=20,
    )
)
def test_canonical_json_is_the_plain_values_sorted_without_spaces(value: object) -> None:
    """Every audit digest and reconciliation term hashes this form, so its bytes may never
    change: ids and dates as text, times in UTC, enums as their values, keys sorted, UTF-8
    - whichever way a value is converted on the way."""
    expected = json.dumps(
        _reference(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    assert canonical_json(value) == expected
