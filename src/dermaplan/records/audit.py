"""The append-only, hash-chained audit log of every create, read and change of patient data.

Each event stores who, when, what action on which record, and the SHA-256 digests of the
record before and after (never the data itself). Its `hash` is an HMAC-SHA256, under the
audit key kept outside the database (records.keyring), of all of that, the chain it is on,
the previous event's hash there and the key's id: altering, inserting or deleting an event
breaks its chain at that point, and without the key no event can be made that verifies.
`check_chain` names the chain and its first broken link. Events are written by the service
in the same transaction as the change they record: both commit or neither does.

The log is several chains: each clinic's lanes, so that clinics never wait for each other
and reads of one clinic commit side by side (records.lanes says which lane an event joins
and how each stays unforked); a change always joins its clinic's lane 0, so the changes of
a record are in one chain, in the order they were made. The events of revision 0011 and
before stay in the one chain the whole database had then, and those of 0012 and before keep
the plain SHA-256 they were written with; the upgrade to 0013 signs the end of each of
their chains (`seal_unsigned`), so an unsigned event after it, or in a chain it did not
seal, is refused: the old form cannot be used to forge at the end.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Connection, insert, select
from sqlalchemy.orm import Session

from dermaplan.records.anchor import mark_appended
from dermaplan.records.context import Context
from dermaplan.records.keyring import AuditKey, Keyring, KeyringFile, signing_key
from dermaplan.records.lanes import Chain, Head, extended, hold_lane
from dermaplan.records.models import AuditEvent
from dermaplan.records.repository import AuditRepository

GENESIS = "0" * 64  # the prev_hash of every chain's first event


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
    CONSULT_DISCARD = "consult.discard"
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
    STAFF_PASSWORD = "staff.password"  # noqa: S105 (an event code)
    STAFF_TOTP = "staff.totp"
    STAFF_LOGIN = "staff.login"
    STAFF_LOGOUT = "staff.logout"
    API_TOKEN_CREATE = "api_token.create"  # noqa: S105 (an event code)
    API_TOKEN_REVOKE = "api_token.revoke"  # noqa: S105 (an event code)
    AGENDA_READ = "agenda.read"
    AUDIT_SEAL = "audit.seal"
    AUDIT_KEY_ROTATE = "audit.key_rotate"
    RECORDS_IMPORT = "records.import"
    STAFF_UPDATE = "staff.update"
    AUDIT_READ = "audit.read"
    ADVERSE_EVENT_READ = "adverse_event.read"
    CONSENT_READ = "consent.read"
    ASSESSMENT_DRAFT_CREATE = "assessment_draft.create"
    ASSESSMENT_DRAFT_READ = "assessment_draft.read"
    ASSESSMENT_DRAFT_UPDATE = "assessment_draft.update"
    ASSESSMENT_DRAFT_USE = "assessment_draft.use"


A = AuditAction
# The actions that change nothing: they may join any lane. Every other action changes a
# record and joins its clinic's lane 0 (records.lanes); an action left out of this set by
# mistake is only slower, never misordered.
READ_ACTIONS = frozenset(
    {A.PATIENT_READ, A.PATIENT_LIST, A.PATIENT_SEARCH, A.PATIENT_TIMELINE, A.CONSULT_READ}
    | {A.SESSION_READ, A.OUTCOME_READ, A.CONSENT_LIST, A.PHOTO_LIST, A.PHOTO_READ}
    | {A.COURSE_READ, A.LOT_RECALL, A.ADVERSE_EVENT_REPORT, A.AGENDA_READ}
    | {A.AUDIT_READ, A.ADVERSE_EVENT_READ, A.CONSENT_READ, A.ASSESSMENT_DRAFT_READ}
)


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat()


# The types a record's state holds, by exact type: a chart's audited state holds about 90
# ids and times, and a look-up costs a fraction of the chain of isinstance below it.
_PLAIN_BY_TYPE: dict[type, Callable[[Any], str]] = {
    uuid.UUID: str,
    dt.datetime: _utc,
    dt.date: str,
}


def _plain(value: Any) -> Any:
    convert = _PLAIN_BY_TYPE.get(type(value))
    if convert is not None:
        return convert(value)
    if isinstance(value, dt.datetime):
        return _utc(value)
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


def event_hash(event: AuditEvent, key: AuditKey | None = None) -> str:
    """The hash of every field of an event but the hash itself and its place in the log's
    write order (`id`): the HMAC-SHA256 under `key` of them and the key's id, or (no key)
    their plain SHA-256, as events of revision 0012 and before have it. Events from before
    revision 0009 name no member of staff, and those from before 0012 no chain: they keep
    the hash they were written with."""
    staff = {} if event.staff_id is None else {"staff_id": event.staff_id}
    chain = {} if event.clinic_id is None else {"clinic_id": event.clinic_id, "lane": event.lane}
    fields = (
        staff
        | chain
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
    if key is None:
        return digest(fields)
    return key.sign(canonical_json(fields | {"key_id": key.id}))


def record_event(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    action: AuditAction,
    record_type: str,
    record_id: uuid.UUID | None,
    *,
    patient_id: uuid.UUID | None = None,
    before: Any = None,
    after: Any = None,
) -> AuditEvent:
    """Append one event, on one of `clinic_id`'s chains, for a change or read made in this
    session's transaction."""
    chain, head = hold_lane(session, clinic_id, changes=action not in READ_ACTIONS)
    key = signing_key(session)  # read once the lane is held: a chain's keys only move on
    event = AuditEvent(
        clinic_id=clinic_id,
        lane=chain.lane,
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
        key_id=key.id,
    )
    event.hash = event_hash(event, key)
    AuditRepository(session).append(event)
    extended(session.connection(), chain, (event.seq, event.hash))
    mark_appended(session, chain)
    return event


@dataclass(frozen=True, slots=True)
class LogFilter:
    """Which events of a clinic's log to read; each field left None lets every event by."""

    staff_id: uuid.UUID | None = None
    action: AuditAction | None = None
    patient_id: uuid.UUID | None = None
    since: dt.datetime | None = None  # from this instant
    before: dt.datetime | None = None  # up to, not including, this one

    def conditions(self) -> list[ColumnElement[bool]]:
        wanted: list[ColumnElement[bool]] = []
        if self.staff_id is not None:
            wanted.append(AuditEvent.staff_id == self.staff_id)
        if self.action is not None:
            wanted.append(AuditEvent.action == self.action.value)
        if self.patient_id is not None:
            wanted.append(AuditEvent.patient_id == self.patient_id)
        if self.since is not None:
            wanted.append(AuditEvent.occurred_at >= self.since)
        if self.before is not None:
            wanted.append(AuditEvent.occurred_at < self.before)
        return wanted


def read_log(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    offset: int,
    limit: int,
    wanted: LogFilter = LogFilter(),
) -> tuple[int, Sequence[AuditEvent]]:
    """How many of a clinic's events meet `wanted`, and a page of them, the latest first.
    The reading is itself an event (it shows who read which patient's records)."""
    repository = AuditRepository(session)
    conditions = wanted.conditions()
    total, events = (
        repository.count_of_clinic(clinic_id, *conditions),
        repository.of_clinic(clinic_id, offset, limit, *conditions),
    )
    record_event(session, context, clinic_id, AuditAction.AUDIT_READ, "audit_event", None)
    return total, events


@dataclass(frozen=True, slots=True)
class BrokenLink:
    chain: Chain
    seq: int  # the first event of the chain that is missing, altered or out of it
    reason: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    events: int  # the events that verify, up to the first broken link if any
    heads: dict[Chain, Head]  # each chain's last event, which records.anchor keeps outside
    broken: BrokenLink | None


@dataclass(frozen=True, slots=True)
class _Tip:
    """What the walk of a chain knows of its last event."""

    head: Head
    signed: bool  # by a key (not the plain SHA-256 of revision 0012 and before)
    rank: int | None  # of the newest key that signed an event of the chain so far


def _broken_link(
    event: AuditEvent, chain: Chain, last: _Tip | None, keyring: Keyring
) -> tuple[BrokenLink | None, int | None]:
    """Why `event` does not follow `last` on its chain, if it does not; and the rank of the
    newest key of the chain with it."""
    expected_seq, prev_hash = (last.head[0] + 1, last.head[1]) if last else (1, GENESIS)
    rank = last.rank if last else None
    where = f"event {event.seq} of {chain}"
    if event.seq > expected_seq:
        reason = f"event {expected_seq} of {chain} is missing (the next is {event.seq})"
        return BrokenLink(chain, expected_seq, reason), rank
    if event.seq < expected_seq or event.prev_hash != prev_hash:
        return BrokenLink(chain, event.seq, f"{where} does not follow the one before"), rank
    key = None
    if event.key_id is None:
        if rank is not None:
            reason = (
                f"{where} is not signed by the audit key, yet follows signed events: it was "
                "added without the key, in the form of revision 0012 and before"
            )
            return BrokenLink(chain, event.seq, reason), rank
    else:
        found = keyring.find(event.key_id)
        if found is None:
            reason = (
                f"{where} is signed by the audit key {event.key_id}, which the keyring "
                f"{keyring.where} does not hold: put back the keyring that signed the log"
            )
            return BrokenLink(chain, event.seq, reason), rank
        if rank is not None and found[0] < rank:
            reason = (
                f"{where} is signed by the audit key {event.key_id}, retired before the key "
                "of an earlier event of its chain"
            )
            return BrokenLink(chain, event.seq, reason), rank
        rank, key = found
    if not hmac.compare_digest(event.hash, event_hash(event, key)):
        return BrokenLink(chain, event.seq, f"{where} was altered after it was written"), rank
    return None, rank


def _unsigned_end(chain: Chain, tip: _Tip) -> BrokenLink | None:
    """A chain must end with a signed event: the upgrade to revision 0013 signs the end of
    every chain of unsigned events (`seal_unsigned`), and every event since is signed."""
    if tip.signed:
        return None
    reason = (
        f"{chain} ends with event {tip.head[0]}, which no audit key signed: it was added "
        "without the key, in the form of revision 0012 and before"
    )
    return BrokenLink(chain, tip.head[0], reason)


def check_chain(session: Session, keyring: Keyring) -> ChainReport:
    """Walk every chain in order, checking each event's link and its key's HMAC; stop at the
    first broken link."""
    tips: dict[Chain, _Tip] = {}
    count = 0
    walking: Chain | None = None
    for event in AuditRepository(session).in_chain_order():
        chain = Chain(event.clinic_id, event.lane)
        if (
            walking is not None
            and chain != walking
            and (end := _unsigned_end(walking, tips[walking]))
        ):
            return ChainReport(count, _heads(tips), end)
        walking = chain
        broken, rank = _broken_link(event, chain, tips.get(chain), keyring)
        if broken is not None:
            return ChainReport(count, _heads(tips), broken)
        tips[chain] = _Tip((event.seq, event.hash), event.key_id is not None, rank)
        count += 1
    if walking is not None and (end := _unsigned_end(walking, tips[walking])):
        return ChainReport(count, _heads(tips), end)
    return ChainReport(count, _heads(tips), None)


def _heads(tips: dict[Chain, _Tip]) -> dict[Chain, Head]:
    return {chain: tip.head for chain, tip in tips.items()}


def verify_chain(session: Session, keyring: Keyring) -> BrokenLink | None:
    return check_chain(session, keyring).broken


def seal_unsigned(
    connection: Connection, key: AuditKey, actor: str, now: dt.datetime
) -> dict[Chain, Head]:
    """Sign the end of every chain whose last event no key signed (the log of revision 0012
    and before): an `audit.seal` event each, signed with `key`, in the upgrade's own
    transaction on `connection`. Returns the chains' new heads."""
    sealed: dict[Chain, Head] = {}
    chains = connection.execute(select(AuditEvent.clinic_id, AuditEvent.lane).distinct()).all()
    for clinic_id, lane in chains:
        on_chain = (
            AuditEvent.clinic_id.is_(None)
            if clinic_id is None
            else AuditEvent.clinic_id == clinic_id,
            AuditEvent.lane == lane,
        )
        head = connection.execute(
            select(AuditEvent.seq, AuditEvent.hash, AuditEvent.key_id)
            .where(*on_chain)
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        ).one()
        if head.key_id is not None:
            continue
        seal = AuditEvent(
            clinic_id=clinic_id,
            lane=lane,
            seq=head.seq + 1,
            occurred_at=now.astimezone(dt.UTC),
            actor=actor,
            action=AuditAction.AUDIT_SEAL.value,
            record_type="audit_log",
            prev_hash=head.hash,
            key_id=key.id,
        )
        seal.hash = event_hash(seal, key)
        written = (column.key for column in AuditEvent.__table__.columns if column.key != "id")
        connection.execute(
            insert(AuditEvent).values({name: getattr(seal, name) for name in written})
        )
        sealed[Chain(clinic_id, lane)] = (seal.seq, seal.hash)
    return sealed


def rotate_audit_key(
    session: Session, context: Context, clinic_id: uuid.UUID, keyring: KeyringFile
) -> Keyring:
    """Add a new key to the keyring, which signs from now on (this rotation's event first);
    the keys before it stay, to verify what they signed."""
    rotated = keyring.rotate(context.now)
    retired, current = rotated.keys[-2], rotated.keys[-1]
    record_event(
        session,
        context,
        clinic_id,
        AuditAction.AUDIT_KEY_ROTATE,
        "audit_key",
        None,
        after={"key_id": current.id, "retired": retired.id},
    )
    return rotated
