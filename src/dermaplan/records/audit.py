"""The append-only, hash-chained audit log of every create, read and change of patient data.

Each event stores who, when, what action on which record, and the SHA-256 digests of the
record before and after (never the data itself). Its `hash` covers all of that and the
previous event's hash, so altering, inserting or deleting an event breaks the chain at that
point, and `verify_chain` names the first broken link. Events are written by the service in
the same transaction as the change they record: both commit or neither does.

One writer extends the chain at a time, so it cannot fork: on SQLite every write
transaction starts with BEGIN IMMEDIATE (records.db); on PostgreSQL the writer holds a
transaction-level advisory lock from before it reads the chain head until it commits.
The sequence number is the primary key, so a fork would fail to commit regardless.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from dermaplan.records.anchor import mark_appended
from dermaplan.records.context import Context
from dermaplan.records.models import AuditEvent
from dermaplan.records.repository import AuditRepository

GENESIS = "0" * 64
# pg_advisory_xact_lock key: the first 8 bytes of sha256("dermaplan.audit"), signed.
CHAIN_LOCK_KEY = int.from_bytes(hashlib.sha256(b"dermaplan.audit").digest()[:8], signed=True)
# In Connection.info, about the transaction under way (reset as each begins, records.db):
CHAIN_LOCKED = "dermaplan.chain_locked"  # it holds the chain lock (PostgreSQL)
CHAIN_HEAD = "dermaplan.chain_head"  # the chain's head, (seq, hash) or None, while known
# AuditRepository.head as plain SQL, to travel in the lock's round trip (begin_chain).
_HEAD_SQL = "SELECT seq, hash FROM audit_event ORDER BY seq DESC LIMIT 1"
_LOCK_SQL = f"SELECT pg_advisory_xact_lock({CHAIN_LOCK_KEY})"


class AuditAction(StrEnum):
    """Stable codes: reports and exports rely on them; add, never rename."""

    CLINIC_CREATE = "clinic.create"
    STAFF_CREATE = "staff.create"
    PATIENT_CREATE = "patient.create"
    PATIENT_READ = "patient.read"
    PATIENT_LIST = "patient.list"
    PATIENT_SEARCH = "patient.search"
    PATIENT_UPDATE = "patient.update"
    PATIENT_DELETE = "patient.delete"
    CONSULT_CREATE = "consult.create"
    CONSULT_READ = "consult.read"
    CONSULT_UPDATE = "consult.update"
    CONSULT_APPROVE = "consult.approve"
    CONSULT_SUPERSEDE = "consult.supersede"
    LOT_CREATE = "lot.create"
    LOT_UPDATE = "lot.update"
    LOT_RECALL = "lot.recall"
    SESSION_CREATE = "session.create"
    SESSION_READ = "session.read"
    SESSION_UPDATE = "session.update"
    SESSION_OVERRIDE = "session.override"
    SESSION_SIGN = "session.sign"
    SESSION_SUPERSEDE = "session.supersede"
    PATIENT_TIMELINE = "patient.timeline"
    DEMO_IMPORT = "demo.import"
    ADVERSE_EVENT_CREATE = "adverse_event.create"
    ADVERSE_EVENT_CLOSE = "adverse_event.close"
    ADVERSE_EVENT_SUPERSEDE = "adverse_event.supersede"
    ADVERSE_EVENT_REPORT = "adverse_event.report"
    OUTCOME_CREATE = "outcome.create"
    OUTCOME_READ = "outcome.read"
    CONSENT_TEMPLATE_CREATE = "consent_template.create"
    CONSENT_CREATE = "consent.create"
    CONSENT_WITHDRAW = "consent.withdraw"
    CONSENT_OPEN = "consent.open"
    CONSENT_SIGN = "consent.sign"
    CONSENT_LIST = "consent.list"
    PHOTO_CREATE = "photo.create"
    PHOTO_LIST = "photo.list"
    PHOTO_READ = "photo.read"
    COURSE_CREATE = "course.create"
    COURSE_READ = "course.read"
    COURSE_CANCEL = "course.cancel"
    COURSE_FULFIL = "course.fulfil"
    CLINIC_UPDATE = "clinic.update"


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date | uuid.UUID):
        return str(value)
    if isinstance(value, StrEnum):
        return value.value
    raise TypeError(f"{type(value).__name__} has no canonical JSON form")


def canonical_json(value: Any) -> bytes:
    """One byte string per value: sorted keys, no spaces, UTF-8, UTC times."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain
    ).encode("utf-8")


def digest(value: Any) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()


def event_hash(event: AuditEvent) -> str:
    """The hash of every field of an event but the hash itself (the acting member of staff
    where one is named: events from before revision 0009 keep the hash they were written
    with)."""
    staff = {} if event.staff_id is None else {"staff_id": event.staff_id}
    return digest(
        staff
        | {
            "seq": event.seq,
            "occurred_at": event.occurred_at,
            "actor": event.actor,
            "action": event.action,
            "record_type": event.record_type,
            "record_id": event.record_id,
            "patient_id": event.patient_id,
            "before_digest": event.before_digest,
            "after_digest": event.after_digest,
            "prev_hash": event.prev_hash,
        }
    )


def begin_chain(connection: Connection, *, writes: bool, schema_ready: bool) -> None:
    """As a transaction begins: forget the last one's chain state; for a write transaction,
    become the chain's only writer until it ends (PostgreSQL's advisory lock; SQLite's
    BEGIN IMMEDIATE already holds the database) and, once the schema is in place, read the
    head, on PostgreSQL in the lock's round trip: two statements, so the read sees every
    commit made before the lock was granted."""
    info = connection.info
    info.pop(CHAIN_HEAD, None)
    info[CHAIN_LOCKED] = False
    if not writes:
        return
    if connection.dialect.name != "postgresql":
        if schema_ready:
            row = connection.exec_driver_sql(_HEAD_SQL).first()
            info[CHAIN_HEAD] = (row[0], row[1]) if row else None
        return
    if not schema_ready:
        lock_chain(connection)
        return
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(f"{_LOCK_SQL}; {_HEAD_SQL}")
        cursor.nextset()
        row = cursor.fetchone()
    finally:
        cursor.close()
    info[CHAIN_LOCKED] = True
    info[CHAIN_HEAD] = (row[0], row[1]) if row else None


def forget_head(connection: Connection) -> None:
    """A savepoint rolled back may have taken appended events with it: read the head again."""
    connection.info.pop(CHAIN_HEAD, None)


def lock_chain(connection: Connection) -> None:
    """Become the only writer of the chain until this transaction ends, unless it already is."""
    if connection.dialect.name == "postgresql" and not connection.info.get(CHAIN_LOCKED):
        connection.exec_driver_sql(_LOCK_SQL)
        connection.info[CHAIN_LOCKED] = True
    # SQLite: the write transaction began IMMEDIATE, so it already holds the write lock.


def _head(session: Session, connection: Connection) -> tuple[int, str] | None:
    if CHAIN_HEAD in connection.info:
        head: tuple[int, str] | None = connection.info[CHAIN_HEAD]
        return head
    row = AuditRepository(session).head()
    return (row.seq, row.hash) if row else None


def record_event(
    session: Session,
    context: Context,
    action: AuditAction,
    record_type: str,
    record_id: uuid.UUID | None,
    *,
    patient_id: uuid.UUID | None = None,
    before: Any = None,
    after: Any = None,
) -> AuditEvent:
    """Append one event for a change or read made in this session's transaction."""
    connection = session.connection()
    lock_chain(connection)
    head = _head(session, connection)
    event = AuditEvent(
        seq=head[0] + 1 if head else 1,
        occurred_at=context.now.astimezone(dt.UTC),
        actor=context.actor,
        staff_id=context.staff_id,
        action=action.value,
        record_type=record_type,
        record_id=str(record_id) if record_id else None,
        patient_id=patient_id,
        before_digest=None if before is None else digest(before),
        after_digest=None if after is None else digest(after),
        prev_hash=head[1] if head else GENESIS,
    )
    event.hash = event_hash(event)
    AuditRepository(session).add(event)
    connection.info[CHAIN_HEAD] = (event.seq, event.hash)
    mark_appended(session, event)
    return event


@dataclass(frozen=True, slots=True)
class BrokenLink:
    seq: int  # the first event that is missing, altered or out of the chain
    reason: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    events: int
    head: str  # hash of the last event, which records.anchor keeps outside the database
    broken: BrokenLink | None


def check_chain(session: Session) -> ChainReport:
    """Walk the whole chain in order; stop at the first broken link."""
    expected_seq, prev_hash, count = 1, GENESIS, 0
    for event in AuditRepository(session).in_order():
        broken = None
        if event.seq != expected_seq:
            broken = BrokenLink(
                expected_seq, f"event {expected_seq} is missing (the next is {event.seq})"
            )
        elif event.prev_hash != prev_hash:
            broken = BrokenLink(event.seq, f"event {event.seq} does not follow the one before")
        elif event.hash != event_hash(event):
            broken = BrokenLink(event.seq, f"event {event.seq} was altered after it was written")
        if broken:
            return ChainReport(events=count, head=prev_hash, broken=broken)
        expected_seq, prev_hash, count = event.seq + 1, event.hash, count + 1
    return ChainReport(events=count, head=prev_hash, broken=None)


def verify_chain(session: Session) -> BrokenLink | None:
    return check_chain(session).broken
