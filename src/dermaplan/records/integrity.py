"""Everything `audit verify` checks: the chains and their keys, their anchor outside the
database, every record against what the log says of it, and the photo files.

- The chains (records.audit) show an event altered, inserted, removed, or made without the
  audit key; the anchor (records.anchor) a chain cut short at its end.
- A record's row must hash to the after-digest of its last audited change: its changes are
  all on its clinic's lane 0, in the order they were made, and a read is not a change, so a
  read made after an edit behind the services' back never blesses it. A row that no longer
  reads at all is named by its stored id.
- A record whose creation or change is audited must still have its row: no service deletes
  one (a patient's deletion is a change of the row, kept with its reason).
- A row must have its creation audited, or be one of the rows a bulk import recorded (a
  `records.import` event per record type: their count and a keyed sum of their states).
- A column that follows from others must still do so: a patient's search name from the
  name, a consent text's content hash from the text.
- Rows that belong to a record (a session's products, a course's planned sessions, an adverse
  event's lots, a consent's withdrawals) are in its state; one whose record is not there is
  named.
- A member's sign-in credential (login, password hash, TOTP secret) and an API token (its
  hash, owner, clinic, expiry, revocation) are records like the others: one replaced or
  added in SQL would let its author act as that member.
- Every photo file is in the storage with the SHA-256 of its row, read as a stream.

Events of revision 0012 and before digested less of some records (a clinic, a member of
staff, a lot, a photo): a record whose last change is one of them is compared with the
state of then. Records are read in batches of BATCH, and each batch's events by their record
ids, so memory stays bounded whatever the size of the log. What none of this sees:
docs/records.md, "What tampering `audit verify` finds".
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, select, type_coerce
from sqlalchemy.orm import InstrumentedAttribute, Session, selectinload
from sqlalchemy.orm.interfaces import LoaderOption

from dermaplan.records.adverse import adverse_event_state
from dermaplan.records.anchor import AnchorCheck, AnchorStore, check_anchor, unanchored
from dermaplan.records.audit import AuditAction, ChainReport, canonical_json, check_chain, digest
from dermaplan.records.consents import consent_state, template_state, text_hash
from dermaplan.records.courses import course_state
from dermaplan.records.enums import StaffRole
from dermaplan.records.keyring import AuditKey, Keyring
from dermaplan.records.lanes import Chain
from dermaplan.records.logins import api_token_state, credential_state
from dermaplan.records.models import (
    AdverseEvent,
    AdverseEventLot,
    ApiToken,
    AuditEvent,
    Clinic,
    Consent,
    ConsentTemplate,
    ConsentWithdrawal,
    Consult,
    Course,
    Outcome,
    Patient,
    Photo,
    PlannedSession,
    ProductLot,
    SessionProduct,
    Staff,
    StaffCredential,
    TreatmentSession,
)
from dermaplan.records.names import name_key
from dermaplan.records.outcomes import outcome_state
from dermaplan.records.photos import PhotoStorage, file_sha256, photo_state, photo_state_0012
from dermaplan.records.service import clinic_state, consult_state, patient_state, staff_state
from dermaplan.records.sessions import lot_state, session_state

BATCH = 1000
A = AuditAction
State = Callable[[Any], Any]
_ROLE_0008 = {StaffRole.RECEPTION: "staff"}


def _search_name(patient: Patient) -> str | None:
    if patient.search_name == name_key(patient.family_name, patient.given_names):
        return None
    return "its search name no longer follows from its name (a search would miss or misfind it)"


def _content_hash(template: ConsentTemplate) -> str | None:
    if template.content_hash == text_hash(template.text):
        return None
    return "its text no longer has the SHA-256 its row records"


def _clinic_created_0012(clinic: Clinic) -> dict[str, Any]:
    """A clinic as its creation's event digested it before revision 0013."""
    return {"name": clinic.name}


def _clinic_changed_0012(clinic: Clinic) -> dict[str, Any]:
    """A clinic as a change's event digested it before revision 0013."""
    return {"name": clinic.name, "time_zone": clinic.time_zone}


def _lot_0012(lot: ProductLot) -> dict[str, Any]:
    """A lot as events digested it before revision 0013: not its clinic."""
    return {"product": lot.product, "lot_number": lot.lot_number, "expiry": lot.expiry_date}


def _staff_0012(member: Staff) -> dict[str, Any]:
    """A member as events digested one before revision 0013: no clinic, not whether active."""
    return {"name": member.name, "role": member.role, "registration": member.registration}


def _staff_0008(member: Staff) -> dict[str, Any]:
    """... and before revision 0009, which renamed the role `staff` to `reception`."""
    return _staff_0012(member) | {"role": _ROLE_0008.get(member.role, member.role)}


def _photo_0006(photo: Photo) -> dict[str, Any]:
    """A photo as events digested it before revision 0007 gave photos their stage."""
    return {name: value for name, value in photo_state_0012(photo).items() if name != "stage"}


def _consent(record: Consent) -> dict[str, Any]:
    return consent_state(record, record.withdrawals)


@dataclass(frozen=True, slots=True)
class Audited:
    """A record type whose audited changes carry its whole state as their after-digest."""

    record_type: str
    label: str
    model: type[Any]
    state: State
    creates: frozenset[AuditAction]
    changes: frozenset[AuditAction] = frozenset()
    loads: tuple[LoaderOption, ...] = ()
    # the states the events of revision 0012 and before digest, where they covered less
    earlier: tuple[State, ...] = ()
    # why a column that follows from the others no longer does, if it does not
    derived: Callable[[Any], str | None] | None = None

    @property
    def actions(self) -> list[str]:
        return sorted(action.value for action in self.creates | self.changes)


AUDITED = (
    Audited(
        "clinic",
        "clinic",
        Clinic,
        clinic_state,
        frozenset({A.CLINIC_CREATE}),
        frozenset({A.CLINIC_UPDATE}),
        earlier=(_clinic_created_0012, _clinic_changed_0012),
    ),
    Audited(
        "staff",
        "member of staff",
        Staff,
        staff_state,
        frozenset({A.STAFF_CREATE}),
        frozenset({A.STAFF_UPDATE}),
        earlier=(_staff_0012, _staff_0008),
    ),
    Audited(
        "staff_credential",
        "sign-in credential of member",
        StaffCredential,
        credential_state,
        frozenset({A.STAFF_PASSWORD}),
        frozenset({A.STAFF_TOTP}),
    ),
    Audited(
        "api_token",
        "API token",
        ApiToken,
        api_token_state,
        frozenset({A.API_TOKEN_CREATE}),
        frozenset({A.API_TOKEN_REVOKE}),
    ),
    Audited(
        "consent_template",
        "consent text",
        ConsentTemplate,
        template_state,
        frozenset({A.CONSENT_TEMPLATE_CREATE}),
        derived=_content_hash,
    ),
    Audited(
        "product_lot",
        "lot",
        ProductLot,
        lot_state,
        frozenset({A.LOT_CREATE}),
        frozenset({A.LOT_UPDATE}),
        earlier=(_lot_0012,),
    ),
    Audited(
        "patient",
        "patient",
        Patient,
        patient_state,
        frozenset({A.PATIENT_CREATE}),
        frozenset({A.PATIENT_UPDATE, A.PATIENT_DELETE}),
        derived=_search_name,
    ),
    Audited(
        "consult",
        "consult",
        Consult,
        consult_state,
        frozenset({A.CONSULT_CREATE}),
        frozenset({A.CONSULT_UPDATE, A.CONSULT_APPROVE, A.CONSULT_SUPERSEDE, A.CONSULT_DISCARD}),
    ),
    Audited(
        "treatment_session",
        "session",
        TreatmentSession,
        session_state,
        frozenset({A.SESSION_CREATE}),
        frozenset({A.SESSION_UPDATE, A.SESSION_SIGN, A.SESSION_SUPERSEDE}),
        (selectinload(TreatmentSession.products),),
    ),
    Audited(
        "course",
        "course",
        Course,
        course_state,
        frozenset({A.COURSE_CREATE}),
        frozenset({A.COURSE_CANCEL, A.COURSE_FULFIL}),
        (selectinload(Course.planned_sessions),),
    ),
    Audited(
        "adverse_event",
        "adverse event",
        AdverseEvent,
        adverse_event_state,
        frozenset({A.ADVERSE_EVENT_CREATE}),
        frozenset({A.ADVERSE_EVENT_CLOSE, A.ADVERSE_EVENT_SUPERSEDE}),
        (selectinload(AdverseEvent.lots),),
    ),
    Audited("outcome", "outcome", Outcome, outcome_state, frozenset({A.OUTCOME_CREATE})),
    Audited(
        "consent",
        "consent",
        Consent,
        _consent,
        frozenset({A.CONSENT_CREATE, A.CONSENT_OPEN}),
        frozenset({A.CONSENT_SIGN, A.CONSENT_WITHDRAW}),
        (selectinload(Consent.withdrawals),),
    ),
    Audited(
        "photo",
        "photo",
        Photo,
        photo_state,
        frozenset({A.PHOTO_CREATE}),
        earlier=(photo_state_0012, _photo_0006),
    ),
)
AUDITED_BY_TYPE = {audited.record_type: audited for audited in AUDITED}

# Rows that belong to a record, which its state covers: (what they are, their model, their
# record's id in them, the record's audited type)
BELONGING: tuple[tuple[str, type[Any], InstrumentedAttribute[uuid.UUID], str], ...] = (
    ("a product line", SessionProduct, SessionProduct.session_id, "treatment_session"),
    ("a planned session", PlannedSession, PlannedSession.course_id, "course"),
    ("a lot", AdverseEventLot, AdverseEventLot.adverse_event_id, "adverse_event"),
    ("a withdrawal", ConsentWithdrawal, ConsentWithdrawal.consent_id, "consent"),
)

MODULUS = 2**256


class ImportTally:
    """What a bulk import records of one record type's rows: how many, and the sum modulo
    2**256 of an HMAC of each (its type, id and state's digest) under the audit key. The sum
    is the same in whatever order the rows are read, and without the key no one can make
    other rows that give it."""

    def __init__(self, audited: Audited, key: AuditKey) -> None:
        self.audited, self.key = audited, key
        self.count = self.total = 0

    def add(self, record_id: str, state_digest: str) -> None:
        term = self.key.sign(canonical_json([self.audited.record_type, record_id, state_digest]))
        self.count += 1
        self.total = (self.total + int(term, 16)) % MODULUS

    def add_record(self, record: Any) -> None:
        self.add(str(record.id), digest(self.audited.state(record)))

    def state(self) -> dict[str, Any]:
        """The after-state of the import's event."""
        return {"count": self.count, "mac": f"{self.total:064x}"}


@dataclass(slots=True)
class _History:
    """What the log says of one record: its creation, and its first and last changes."""

    created: bool = False
    first_before: str | None = None  # the before-digest of its first event
    last: str | None = None  # the after-digest of its last
    signed: bool = False  # whether its last event is signed (revision 0013 on)
    event: str = ""  # its last event, for a person


def _event_name(clinic_id: uuid.UUID | None, lane: int, seq: int) -> str:
    return f"event {seq} of {Chain(clinic_id, lane)}"


def _histories(session: Session, audited: Audited, ids: Sequence[str]) -> dict[str, _History]:
    """The histories of these records (ids as the log keeps them), from their events."""
    rows = session.execute(
        select(
            AuditEvent.record_id,
            AuditEvent.action,
            AuditEvent.before_digest,
            AuditEvent.after_digest,
            AuditEvent.key_id,
            AuditEvent.clinic_id,
            AuditEvent.lane,
            AuditEvent.seq,
        )
        .where(
            AuditEvent.record_type == audited.record_type,
            AuditEvent.action.in_(audited.actions),
            AuditEvent.record_id.in_(ids),
        )
        .order_by(AuditEvent.id)
    )
    found: dict[str, _History] = {}
    for record_id, action, before, after, key_id, clinic_id, lane, seq in rows:
        if record_id is None:  # never: asked for by record id
            continue
        history = found.get(record_id)
        if history is None:
            history = found[record_id] = _History(first_before=before)
        history.created = history.created or action in audited.creates
        history.last, history.signed = after, key_id is not None
        history.event = _event_name(clinic_id, lane, seq)
    return found


def _matches(audited: Audited, record: Any, history: _History) -> bool:
    states = (audited.state,) if history.signed else (audited.state, *audited.earlier)
    return any(digest(state(record)) == history.last for state in states)


@dataclass(slots=True)
class _Import:
    """The import of a record type, if the log has one, and the rows it must account for."""

    event: AuditEvent | None
    tally: ImportTally | None
    problems: list[str] = field(default_factory=list)


def _import_of(session: Session, audited: Audited, keyring: Keyring) -> _Import:
    events = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == A.RECORDS_IMPORT.value,
            AuditEvent.record_type == audited.record_type,
        )
    ).all()
    if not events:
        return _Import(None, None)
    event = events[0]
    name = _event_name(event.clinic_id, event.lane, event.seq)
    if len(events) > 1:
        many = f"{audited.label}s: the log records {len(events)} bulk imports; a database has one"
        return _Import(event, None, [many])
    found = keyring.find(event.key_id) if event.key_id else None
    if found is None:
        why = f"its key {event.key_id} is not in the keyring" if event.key_id else "unsigned"
        return _Import(event, None, [f"{audited.label}s imported by {name}: unchecked ({why})"])
    return _Import(event, ImportTally(audited, found[1]))


def _compared(
    audited: Audited, record: Any, history: _History | None, imported: _Import
) -> Iterator[str]:
    """What is wrong with one readable row."""
    name = f"{audited.label} {record.id}"
    if audited.derived is not None and (why := audited.derived(record)) is not None:
        yield f"{name}: {why}"
    if history is None or not history.created:
        if imported.event is None:
            yield f"{name}: no event records its creation (a row added behind the services' back)"
        elif imported.tally is not None:
            state = history.first_before if history else digest(audited.state(record))
            imported.tally.add(str(record.id), state or "")
    if history is not None and not _matches(audited, record, history):
        yield f"{name}: its stored row no longer matches its last audited state ({history.event})"


def _records(session: Session, audited: Audited, keyring: Keyring) -> Iterator[str]:
    """One pass over a table, batch by batch, each batch with its events; then the import."""
    imported = _import_of(session, audited, keyring)
    yield from imported.problems
    for batch in _rows(session, audited):
        readable = [record for _, record in batch if record is not None]
        histories = _histories(session, audited, [str(record.id) for record in readable])
        for stored_id, record in batch:
            if record is None:
                yield (
                    f"{audited.label} {stored_id}: its stored row cannot be read (a value "
                    "Dermaplan never writes, such as an id that is no UUID)"
                )
            else:
                yield from _compared(audited, record, histories.get(str(record.id)), imported)
    event, tally = imported.event, imported.tally
    if event is not None and tally is not None and digest(tally.state()) != event.after_digest:
        yield (
            f"{audited.label}s imported in bulk "
            f"({_event_name(event.clinic_id, event.lane, event.seq)}): the {tally.count} rows "
            "with no creation event of their own are not the rows it recorded (one was "
            "added, removed or edited behind the services' back)"
        )


def _gone(session: Session, audited: Audited) -> Iterator[str]:
    """Records the log has events of, whose row is not there: every such event is a record
    that existed, and no service deletes one."""
    recorded = session.execute(
        select(AuditEvent.record_id)
        .where(
            AuditEvent.record_type == audited.record_type,
            AuditEvent.action.in_(audited.actions),
            AuditEvent.record_id.is_not(None),
        )
        .distinct()
        .execution_options(yield_per=BATCH)
    )
    for batch in recorded.scalars().partitions(BATCH):
        wanted = [(_uuid(record_id), record_id) for record_id in batch if record_id is not None]
        keys = [key for key, _ in wanted if key is not None]
        present = set(session.scalars(select(audited.model.id).where(audited.model.id.in_(keys))))
        for key, record_id in wanted:
            if key not in present:
                last = _last_event(session, audited, record_id)
                yield (
                    f"{audited.label} {record_id}: its row is gone, yet the log records it "
                    f"({last}) and no deletion"
                )


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def _last_event(session: Session, audited: Audited, record_id: str) -> str:
    event = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.record_type == audited.record_type,
            AuditEvent.action.in_(audited.actions),
            AuditEvent.record_id == record_id,
        )
        .order_by(AuditEvent.id.desc())
        .limit(1)
    ).one()
    return _event_name(event.clinic_id, event.lane, event.seq)


def _belonging(session: Session) -> Iterator[str]:
    """Rows of a record that is not there (added behind the services' back: the services
    add them to a record only)."""
    for what, model, owner, record_type in BELONGING:
        audited = AUDITED_BY_TYPE[record_type]
        rows = session.scalars(
            select(owner)
            .select_from(model)
            .outerjoin(audited.model, owner == audited.model.id)
            .where(audited.model.id.is_(None))
            .distinct()
        )
        for missing in rows:
            yield (
                f"{what} of {audited.label} {missing}: that {audited.label} does not exist "
                "(a row added behind the services' back)"
            )


def changed_records(session: Session, keyring: Keyring) -> Iterator[str]:
    """Every record that does not match what the log says of it (see the module's doc)."""
    for audited in AUDITED:
        yield from _records(session, audited, keyring)
        yield from _gone(session, audited)
    yield from _belonging(session)


def changed_files(session: Session, photos: PhotoStorage) -> Iterator[str]:
    """Photo files missing from the storage, or not the file their rows record; each file
    read once, however many rows share it."""
    files = session.execute(
        select(Photo.storage_key, Photo.sha256)
        .distinct()
        .order_by(Photo.storage_key, Photo.sha256)
        .execution_options(yield_per=BATCH)
    )
    for batch in files.partitions(BATCH):
        for key, sha256 in batch:
            why = _file_problem(photos, key, sha256)
            if why is None:
                continue
            ids = session.scalars(
                select(Photo.id).where(Photo.storage_key == key, Photo.sha256 == sha256)
            )
            for photo_id in ids:
                yield f"photo {photo_id}: its file {key} {why}"


def _file_problem(photos: PhotoStorage, key: str, sha256: str) -> str | None:
    try:
        found = file_sha256(photos, key)
    except FileNotFoundError:
        return "is missing from the storage"
    except ValueError as error:
        return f"cannot be read ({error})"
    except OSError as error:
        return f"cannot be read ({error.strerror or error})"
    if found != sha256:
        return "is not the file its row records (its SHA-256 differs): it was replaced"
    return None


# what reading a value Dermaplan never wrote raises: an id or a time that does not parse
# (ValueError), a name no enum has (LookupError), a number where text belongs (TypeError)
_UNREADABLE = (ValueError, LookupError, TypeError, ArithmeticError)


def _rows(session: Session, audited: Audited) -> Iterator[list[tuple[str, Any]]]:
    """The table's rows as (id as stored, record), BATCH at a time in the order of their
    stored ids; a batch that cannot be read is read row by row, and a row that cannot is
    given as None. SQLite holds any value in any column, so a row edited by hand may not
    load at all."""
    stored = type_coerce(audited.model.id, String())
    query = select(audited.model).options(*audited.loads).order_by(stored)
    last: str | None = None
    while True:
        page = select(stored).order_by(stored).limit(BATCH)
        ids = session.scalars(page if last is None else page.where(stored > last)).all()
        if not ids:
            return
        last = ids[-1]
        try:
            records = session.scalars(query.where(stored.in_(ids))).all()
            yield [(str(record.id), record) for record in records]
        except _UNREADABLE:
            yield [(str(one), _one(session, query.where(stored == one))) for one in ids]
        session.expunge_all()


def _one(session: Session, query: Any) -> Any:
    try:
        return session.scalars(query).one()
    except _UNREADABLE:
        return None


@dataclass(frozen=True, slots=True)
class LogReport:
    chain: ChainReport
    anchor: AnchorCheck | None  # None: no anchor checked (a backup has none of its own)
    changed: list[str]  # records and photo files that do not match the log

    @property
    def ahead(self) -> list[str]:
        """Chains the log holds events of beyond the anchor: a warning, not a failure."""
        return [] if self.anchor is None else unanchored(self.anchor, self.chain.heads)

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


def verify_log(
    session: Session,
    anchor: AnchorStore | None,
    *,
    keyring: Keyring,
    photos: PhotoStorage | None,
) -> LogReport:
    """The whole verification, of a live database or of a backup: a backup's log is checked
    without an anchor (it has none of its own) and without a photo storage (its files are
    checked one by one as they are copied, records.backup); its keyring is the live one's."""
    files = [] if photos is None else changed_files(session, photos)
    return LogReport(
        check_chain(session, keyring),
        None if anchor is None else check_anchor(session, anchor),
        [*changed_records(session, keyring), *files],
    )
