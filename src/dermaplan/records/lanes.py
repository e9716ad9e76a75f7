"""Which chain of the audit log an event joins, and the locks that keep every chain unforked.

Each clinic has its own chains, its lanes, so clinics never wait for each other. Lane 0
takes every event of a change, in the order the changes commit: a transaction that changes
a clinic's records holds lane 0 until it commits, from before it reads them when it runs
as a unit of work (app.unit), which also keeps two changes from losing one's update. A
read appends to a lane the transaction already holds for that clinic, or else to the first
of the read lanes (1 to 8) that nobody holds, so up to eight transactions of one clinic read
and commit at once; a ninth waits for one of them.

A lane is a transaction-level lock taken before its head is read, held until commit, so
one writer at a time extends a chain: on PostgreSQL an advisory lock per (clinic, lane),
taken by the function `audit_lane_lock` (revision 0012), which tries the lanes in order
without waiting, waits for one at random only when all are held, and reads the head of
the one it holds, all in one round trip; on SQLite every write transaction begins with
BEGIN IMMEDIATE, which holds every lane of the database at once. Whichever lane a
transaction holds, (clinic, lane, seq) is unique, so a fork would fail to commit regardless.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from dermaplan.records.repository import AuditRepository

CHANGE_LANE = 0
READ_LANES = tuple(range(1, 9))
# pg_advisory_xact_lock key of a change made with nobody acting (the first admin, the
# clinic made on first use): the first 8 bytes of sha256("dermaplan.audit"), signed.
SETUP_LOCK_KEY = int.from_bytes(hashlib.sha256(b"dermaplan.audit").digest()[:8], signed=True)
# In Connection.info, about the transaction under way (reset as each begins, records.db):
# the chains it holds, each with its head, (seq, hash), or None for a chain yet empty.
HELD = "dermaplan.lanes_held"
_TAKE = text(
    "SELECT held_lane, head_seq, head_hash "
    "FROM audit_lane_lock(CAST(:keys AS bigint[]), :clinic, CAST(:lanes AS integer[]))"
)


@dataclass(frozen=True, slots=True)
class Chain:
    """One hash chain of the audit log: a clinic's lane, or (no clinic) the one chain the
    whole database had before revision 0012, which no event joins any more."""

    clinic_id: uuid.UUID | None
    lane: int

    def __str__(self) -> str:
        if self.clinic_id is None:
            return "the database's chain of revision 0011 and before"
        return f"clinic {self.clinic_id} lane {self.lane}"

    @property
    def key(self) -> str:
        """Its name in the anchor (records.anchor)."""
        return "database" if self.clinic_id is None else f"{self.clinic_id}/{self.lane}"

    @classmethod
    def of_key(cls, key: str) -> Chain:
        if key == "database":
            return LEGACY
        clinic, lane = key.split("/")
        return cls(uuid.UUID(clinic), int(lane))

    def order(self) -> tuple[str, int]:
        """The order chains are listed and checked in: the database's first."""
        return ("" if self.clinic_id is None else str(self.clinic_id), self.lane)


LEGACY = Chain(None, CHANGE_LANE)
Head = tuple[int, str]  # the last event of a chain: its seq and hash


@lru_cache(maxsize=1024)
def lane_key(clinic_id: uuid.UUID, lane: int) -> int:
    """The advisory lock of a clinic's lane: 8 bytes of a SHA-256, signed."""
    named = f"dermaplan.audit:{clinic_id}:{lane}".encode()
    return int.from_bytes(hashlib.sha256(named).digest()[:8], signed=True)


def held(connection: Connection) -> dict[Chain, Head | None]:
    chains: dict[Chain, Head | None] = connection.info.setdefault(HELD, {})
    return chains


def forget_lanes(connection: Connection) -> None:
    """As a transaction begins, it holds no lane, whatever the last one on this pooled
    connection held; after a savepoint rolled back, which may have taken appended events
    and locks with it, lanes are taken and heads read again."""
    connection.info[HELD] = {}


def hold_lane(
    session: Session, clinic_id: uuid.UUID, *, changes: bool
) -> tuple[Chain, Head | None]:
    """The chain this transaction extends for an event of `clinic_id`, and its head: lane 0
    for a change; for a read, a lane the transaction holds already, or a free read lane."""
    connection = session.connection()
    chains = held(connection)
    if changes:
        wanted = Chain(clinic_id, CHANGE_LANE)
        if wanted in chains:
            return wanted, chains[wanted]
        return _take(session, clinic_id, (CHANGE_LANE,))
    for chain, head in chains.items():
        if chain.clinic_id == clinic_id:
            return chain, head
    return _take(session, clinic_id, READ_LANES)


def hold_changes(session: Session, clinic_id: uuid.UUID) -> None:
    """Hold the clinic's lane 0 until commit, before reading what is to change (app.unit)."""
    hold_lane(session, clinic_id, changes=True)


def hold_setup(session: Session) -> None:
    """Hold the lock of changes made with nobody acting, so that two of them cannot each
    find no clinic, or no staff, and make one (SQLite's writer holds it already)."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SETUP_LOCK_KEY})")


def extended(connection: Connection, chain: Chain, head: Head) -> None:
    """Note the event this transaction just appended to `chain` as its head."""
    held(connection)[chain] = head


def _take(
    session: Session, clinic_id: uuid.UUID, lanes: tuple[int, ...]
) -> tuple[Chain, Head | None]:
    """Lock the first of `lanes` free (all of them on SQLite), then read its head."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        keys = [lane_key(clinic_id, lane) for lane in lanes]
        row = connection.execute(
            _TAKE, {"keys": keys, "clinic": clinic_id, "lanes": list(lanes)}
        ).one()
        chain = Chain(clinic_id, row.held_lane)
        head = None if row.head_seq is None else (row.head_seq, row.head_hash)
    else:
        chain = Chain(clinic_id, lanes[0])
        found = AuditRepository(session).head(chain.clinic_id, chain.lane)
        head = (found.seq, found.hash) if found else None
    held(connection)[chain] = head
    return chain, head
