"""Everything `audit verify` checks: the chains, their anchor outside the database, and that
each record still says what its last audited change left it saying.

The chains catch an event altered or removed, the anchor a chain cut short, the state digests
a record's row edited behind the services' back (the after-digest of its last change no
longer matches, or the row no longer reads at all: its changes are all on its clinic's lane
0, in the order they were made, and a read is not a change, so a read made after an edit
behind the services' back never blesses it). What none of them sees: a row inserted with no
audit event at all, and edits to records that have no state digest (staff, lots, consents);
a row never audited one by one (a bulk demo import) is not compared either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, select, type_coerce
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.interfaces import LoaderOption

from dermaplan.records.adverse import adverse_event_state
from dermaplan.records.anchor import AnchorCheck, AnchorStore, check_anchor
from dermaplan.records.audit import AuditAction, ChainReport, check_chain, digest
from dermaplan.records.courses import course_state
from dermaplan.records.lanes import Chain
from dermaplan.records.models import (
    AdverseEvent,
    AuditEvent,
    Consult,
    Course,
    Outcome,
    Patient,
    TreatmentSession,
)
from dermaplan.records.outcomes import outcome_state
from dermaplan.records.service import consult_state, patient_state
from dermaplan.records.sessions import session_state

BATCH = 1000
A = AuditAction


@dataclass(frozen=True, slots=True)
class _Audited:
    """A record type whose events carry its whole state as their after-digest."""

    record_type: str
    label: str
    model: type[Any]
    state: Callable[[Any], Any]
    actions: frozenset[AuditAction]  # the changes whose after-digest is `state(record)`
    loads: tuple[LoaderOption, ...] = ()


AUDITED = (
    _Audited(
        "patient",
        "patient",
        Patient,
        patient_state,
        frozenset({A.PATIENT_CREATE, A.PATIENT_UPDATE, A.PATIENT_DELETE}),
    ),
    _Audited(
        "consult",
        "consult",
        Consult,
        consult_state,
        frozenset({A.CONSULT_CREATE, A.CONSULT_UPDATE, A.CONSULT_APPROVE, A.CONSULT_SUPERSEDE}),
    ),
    _Audited(
        "treatment_session",
        "session",
        TreatmentSession,
        session_state,
        frozenset({A.SESSION_CREATE, A.SESSION_UPDATE, A.SESSION_SIGN, A.SESSION_SUPERSEDE}),
        (selectinload(TreatmentSession.products),),
    ),
    _Audited(
        "course",
        "course",
        Course,
        course_state,
        frozenset({A.COURSE_CREATE, A.COURSE_CANCEL, A.COURSE_FULFIL}),
        (selectinload(Course.planned_sessions),),
    ),
    _Audited(
        "adverse_event",
        "adverse event",
        AdverseEvent,
        adverse_event_state,
        frozenset({A.ADVERSE_EVENT_CREATE, A.ADVERSE_EVENT_CLOSE, A.ADVERSE_EVENT_SUPERSEDE}),
        (selectinload(AdverseEvent.lots),),
    ),
    _Audited("outcome", "outcome", Outcome, outcome_state, frozenset({A.OUTCOME_CREATE})),
)


def _last_states(session: Session, audited: _Audited) -> dict[str, tuple[str, str]]:
    """Each record's last audited after-digest, with its event named for a person."""
    rows = session.execute(
        select(
            AuditEvent.record_id,
            AuditEvent.clinic_id,
            AuditEvent.lane,
            AuditEvent.seq,
            AuditEvent.after_digest,
        )
        .where(
            AuditEvent.record_type == audited.record_type,
            AuditEvent.action.in_([action.value for action in audited.actions]),
        )
        .order_by(AuditEvent.id)
        .execution_options(yield_per=BATCH)
    )
    return {
        record_id: (f"event {seq} of {Chain(clinic_id, lane)}", after)
        for record_id, clinic_id, lane, seq, after in rows
        if record_id is not None and after is not None
    }


def changed_records(session: Session) -> Iterator[str]:
    """Records whose row no longer hashes to their last audited state, or can no longer be
    read at all; one pass per table."""
    for audited in AUDITED:
        last = _last_states(session, audited)
        for stored_id, record in _rows(session, audited):
            if record is None:
                yield (
                    f"{audited.label} {stored_id}: its stored row cannot be read (a value "
                    "Dermaplan never writes, such as an id that is no UUID)"
                )
                continue
            found = last.get(str(record.id))
            if found is not None and digest(audited.state(record)) != found[1]:
                yield (
                    f"{audited.label} {record.id}: its stored row no longer matches its last "
                    f"audited state ({found[0]})"
                )


# what reading a value Dermaplan never wrote raises: an id or a time that does not parse
# (ValueError), a name no enum has (LookupError), a number where text belongs (TypeError)
_UNREADABLE = (ValueError, LookupError, TypeError, ArithmeticError)


def _rows(session: Session, audited: _Audited) -> Iterator[tuple[str, Any]]:
    """Each row of the table as (its id as stored, its record), in batches; a batch that
    cannot be read is read row by row, and a row that cannot is given as None. SQLite holds
    any value in any column, so a row edited by hand may not load at all."""
    stored = type_coerce(audited.model.id, String())
    ids = session.scalars(select(stored).order_by(stored)).all()
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        query = select(audited.model).options(*audited.loads).order_by(stored)
        try:
            records = session.scalars(query.where(stored.in_(batch))).all()
        except _UNREADABLE:
            for one in batch:
                try:
                    record = session.scalars(query.where(stored == one)).one()
                except _UNREADABLE:
                    record = None
                yield str(one), record
            continue
        yield from ((str(record.id), record) for record in records)


@dataclass(frozen=True, slots=True)
class LogReport:
    chain: ChainReport
    anchor: AnchorCheck | None  # None: not checked (a backup has no anchor of its own)
    changed: list[str]

    @property
    def intact(self) -> bool:
        return not self.problems

    @property
    def problems(self) -> list[str]:
        """Everything found wrong, one line each."""
        broken = self.chain.broken
        cut = self.anchor.cut if self.anchor else None
        return [
            *([broken.reason] if broken else []),
            *([cut] if cut else []),
            *self.changed,
        ]


def verify_log(session: Session, anchor: AnchorStore | None) -> LogReport:
    """Every check of `audit verify`; the anchor's only if there is one (None: a backup, whose
    anchor is the live database's)."""
    return LogReport(
        check_chain(session),
        None if anchor is None else check_anchor(session, anchor),
        [*changed_records(session)],
    )
