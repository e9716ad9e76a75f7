"""Audit lanes on PostgreSQL: clinics never wait for each other, reads of one clinic commit
side by side, a reader waits only when every read lane is held, and however appends
interleave across lanes every chain verifies and any one event altered or removed is found.
(SQLite's single writer holds every lane at once: test_audit checks its layout.)"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from dermaplan.records import service
from dermaplan.records.anchor import LocalAnchorFile, anchor_engine, check_anchor
from dermaplan.records.audit import check_chain
from dermaplan.records.db import transaction
from dermaplan.records.lanes import READ_LANES, Chain, hold_changes
from dermaplan.records.models import AuditEvent
from tests.records.database import keys_of
from tests.records.factories import add_patient, context, events, make_clinic

pytestmark = pytest.mark.parametrize("backend", ["postgresql"])


class Open:
    """Transactions left open at once, in one thread, as concurrent workers hold them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.open: dict[int, tuple[AbstractContextManager[Session], Session]] = {}

    def session(self, number: int) -> Session:
        if number not in self.open:
            block = transaction(self.engine)
            self.open[number] = (block, block.__enter__())
        return self.open[number][1]

    def commit(self, number: int) -> None:
        if number in self.open:
            self.open.pop(number)[0].__exit__(None, None, None)

    def close(self) -> None:
        for number in list(self.open):
            self.commit(number)


@pytest.fixture
def held(engine: Engine) -> Iterator[Open]:
    transactions = Open(engine)
    yield transactions
    transactions.close()


@contextmanager
def impatient(engine: Engine) -> Iterator[Session]:
    """A transaction that fails rather than wait more than half a second for a lock."""
    with transaction(engine) as session:
        session.execute(text("SET LOCAL lock_timeout = '500ms'"))
        yield session


def read(session: Session, clinic_id: uuid.UUID, patient_id: uuid.UUID) -> AuditEvent:
    service.read_patient(session, context(), clinic_id, patient_id)
    session.flush()
    return session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()


def verified(engine: Engine) -> dict[Chain, tuple[int, str]]:
    with transaction(engine, write=False) as session:
        report = check_chain(session, keys_of(engine))
    assert report.broken is None, report.broken
    return report.heads


def test_two_clinics_never_wait_for_each_other(
    engine: Engine, clinic_id: uuid.UUID, held: Open
) -> None:
    other = make_clinic(engine)
    mine, theirs = add_patient(engine, clinic_id), add_patient(engine, other)
    hold_changes(held.session(1), clinic_id)  # a change of this clinic under way ...
    read(held.session(2), clinic_id, mine)  # ... and a read
    with impatient(engine) as session:  # the other clinic reads and changes meanwhile
        service.read_patient(session, context(), other, theirs)
        service.update_patient(session, context(), other, theirs, {"phone": "+33 1 00"})
    held.close()
    assert set(verified(engine)) == {Chain(clinic_id, 0), Chain(clinic_id, 1)} | {
        Chain(other, 0),
        Chain(other, 1),
    }


def test_reads_of_one_clinic_commit_side_by_side_and_beside_a_change(
    engine: Engine, clinic_id: uuid.UUID, held: Open
) -> None:
    patient_id = add_patient(engine, clinic_id)
    first = read(held.session(1), clinic_id, patient_id)
    hold_changes(held.session(2), clinic_id)
    with impatient(engine) as session:
        second = read(session, clinic_id, patient_id)
    assert (first.lane, second.lane) == (1, 2)
    held.close()
    verified(engine)


def test_a_reader_waits_only_when_every_read_lane_is_held_and_never_forks(
    engine: Engine, clinic_id: uuid.UUID, held: Open
) -> None:
    patient_id = add_patient(engine, clinic_id)
    lanes = [read(held.session(number), clinic_id, patient_id).lane for number in READ_LANES]
    assert lanes == list(READ_LANES)
    with pytest.raises(OperationalError, match="lock timeout"), impatient(engine) as session:
        read(session, clinic_id, patient_id)
    held.commit(5)
    with impatient(engine) as session:
        assert read(session, clinic_id, patient_id).lane == 5
    held.close()
    assert verified(engine)[Chain(clinic_id, 5)][0] == 2


STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("read"), st.integers(0, 3), st.integers(0, 1)),
        st.tuples(st.just("commit"), st.integers(0, 3), st.just(0)),
        st.tuples(st.just("change"), st.just(0), st.integers(0, 1)),
    ),
    min_size=1,
    max_size=16,
)


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=STEPS, pick=st.integers(min_value=0), delete=st.booleans())
def test_any_interleaving_verifies_and_any_one_event_altered_or_removed_is_found(
    engine: Engine,
    clinic_id: uuid.UUID,
    tmp_path: Path,
    steps: list[tuple[str, int, int]],
    pick: int,
    delete: bool,
) -> None:
    store = LocalAnchorFile(tmp_path / "audit-head.json")
    anchor_engine(engine, store)
    clinics = [clinic_id, make_clinic(engine)]
    patients = [add_patient(engine, clinic) for clinic in clinics]
    workers = Open(engine)
    try:
        for step, number, which in steps:
            if step == "read":
                read(workers.session(number), clinics[which], patients[which])
            elif step == "commit":
                workers.commit(number)
            else:
                with transaction(engine) as session:
                    changes = {"phone": f"+33 1 {len(steps)}"}
                    service.update_patient(
                        session, context(), clinics[which], patients[which], changes
                    )
    finally:
        workers.close()
    heads = verified(engine)
    with transaction(engine, write=False) as session:
        assert check_anchor(session, store).cut is None
    written = events(engine)
    target = written[pick % len(written)]
    chain = Chain(target.clinic_id, target.lane)
    with engine.connect() as connection, connection.begin() as intrusion:
        connection.exec_driver_sql("ALTER TABLE audit_event DISABLE TRIGGER USER")
        change = "DELETE FROM audit_event" if delete else "UPDATE audit_event SET actor = 'x'"
        connection.execute(text(f"{change} WHERE id = :id"), {"id": target.id})
        with Session(connection) as session:
            broken, cut = (
                check_chain(session, keys_of(engine)).broken,
                check_anchor(session, store).cut,
            )
        intrusion.rollback()
    if delete and heads[chain][0] == target.seq:  # the last of its chain: the anchor sees it
        assert broken is None
        assert cut is not None
        assert f"the log ends at event {target.seq - 1} of {chain}" in cut
    else:
        assert broken is not None
        assert (broken.chain, broken.seq) == (chain, target.seq)
