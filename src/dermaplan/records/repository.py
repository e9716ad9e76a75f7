"""Every query of the records layer. Scoping to one clinic is done here, once.

Repositories read and stage rows; they never commit and never audit (the services do).
The statements that every read of a patient's record runs (the patient, the timeline's
kinds, search, recall, the audit head) are built once, at import, with bind parameters:
building a statement costs about as much as executing it, and these run on every command.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from typing import Any, TypeAlias, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Row,
    Select,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.orm import Session, aliased, contains_eager, joinedload, selectinload

from dermaplan.records.clinics import UTC_ZONE, clinic_day, day_starts, zone
from dermaplan.records.enums import (
    AdverseEventStatus,
    ConsentKind,
    ConsentStatus,
    ConsultStatus,
    PhotoStage,
    SessionStatus,
)
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
    LoginAttempt,
    LoginSession,
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
from dermaplan.records.names import successor

Head = TypeVar("Head")
Part = TypeVar("Part")


def nested(
    rows: Iterable[Row[Any]],
    head: Callable[[Row[Any]], Head],
    part: Callable[[Row[Any]], Part | None],
    parts: Callable[[Head], list[Part]],
) -> list[Head]:
    """The rows of a record joined to its parts (a row per part; one, with no part, for a
    record without any), in their order, as the records each holding its parts: a record
    per run of rows of the same `id`. What the chart's timeline reads instead of ORM objects."""
    heads: list[Head] = []
    last: Any = None
    for row in rows:
        if not heads or row.id != last:
            heads.append(head(row))
            last = row.id
        found = part(row)
        if found is not None:
            parts(heads[-1]).append(found)
    return heads


# session id, performed at, status, patient id, family name, given names, e-mail, phone,
# product, lot number, expiry, volumes per area
RecallColumns: TypeAlias = tuple[
    uuid.UUID,
    dt.datetime,
    SessionStatus,
    uuid.UUID,
    str,
    str,
    str | None,
    str | None,
    str,
    str,
    dt.date | None,
    dict[str, float],
]

# photo id, taken at, stage, area, angle, session id
PhotoColumns: TypeAlias = Row[uuid.UUID, dt.datetime, PhotoStage | None, str, str, uuid.UUID | None]

_CLINIC: BindParameter[uuid.UUID] = bindparam("clinic_id")
_PATIENT: BindParameter[uuid.UUID] = bindparam("patient_id")

_PATIENTS = select(Patient).where(Patient.clinic_id == _CLINIC)
_LIVE_PATIENTS = _PATIENTS.where(Patient.deleted_at.is_(None))
_PATIENT_WITH_CONSULTS = _PATIENTS.where(Patient.id == _PATIENT).options(
    joinedload(Patient.consults)
)
_SEARCH = (
    _LIVE_PATIENTS.where(Patient.search_name >= bindparam("key"))
    .order_by(Patient.search_name, Patient.id)
    .limit(bindparam("limit"))
)
_SEARCH_BOUNDED = _SEARCH.where(Patient.search_name < bindparam("upper"))

_CONSULT_OF_CLINIC = (
    select(Consult)
    .join(Consult.patient)
    .where(Consult.id == bindparam("consult_id"), Patient.clinic_id == _CLINIC)
    .options(contains_eager(Consult.patient))
)
_CORRECTION = aliased(Consult, name="correction")
_CONSULT_VIEW = (
    _CONSULT_OF_CLINIC.add_columns(Staff, _CORRECTION)
    .outerjoin(Staff, and_(Staff.id == Consult.approved_by_id, Staff.clinic_id == _CLINIC))
    .outerjoin(
        _CORRECTION,
        and_(
            _CORRECTION.supersedes_id == Consult.id,
            _CORRECTION.status != ConsultStatus.DISCARDED,
        ),
    )
)
_SESSIONS_OF_PATIENT = (
    select(TreatmentSession)
    .where(TreatmentSession.patient_id == _PATIENT)
    .order_by(TreatmentSession.performed_at, TreatmentSession.id)
    .options(joinedload(TreatmentSession.products).joinedload(SessionProduct.lot))
)
# The same as rows, not ORM objects (the chart's timeline: tens of sessions, each a few
# products): each session's columns, then its product line and lot (NULL for none)
_SESSION_TABLE, _PRODUCT_TABLE, _LOT_TABLE = (
    TreatmentSession.__table__,
    SessionProduct.__table__,
    ProductLot.__table__,
)
_SESSION_ROWS_OF_PATIENT = (
    select(
        _SESSION_TABLE,
        _PRODUCT_TABLE.c.product.label("product_used"),
        _PRODUCT_TABLE.c.lot_id.label("product_lot_id"),
        _PRODUCT_TABLE.c.volumes_ml.label("product_volumes_ml"),
        _LOT_TABLE.c.lot_number.label("product_lot_number"),
        _LOT_TABLE.c.expiry_date.label("product_lot_expiry"),
    )
    .outerjoin(_PRODUCT_TABLE, _PRODUCT_TABLE.c.session_id == _SESSION_TABLE.c.id)
    .outerjoin(_LOT_TABLE, _LOT_TABLE.c.id == _PRODUCT_TABLE.c.lot_id)
    .where(_SESSION_TABLE.c.patient_id == _PATIENT)
    .order_by(_SESSION_TABLE.c.performed_at, _SESSION_TABLE.c.id, _PRODUCT_TABLE.c.position)
)
# A patient's courses as rows (the chart's timeline): each course's columns (CourseLine takes
# those it shows), then one of its planned sessions (NULL for none), in the order they started
_COURSE_TABLE, _PLANNED_TABLE = Course.__table__, PlannedSession.__table__
_COURSE_ROWS_OF_PATIENT = (
    select(
        _COURSE_TABLE,
        _PLANNED_TABLE.c.number.label("planned_number"),
        _PLANNED_TABLE.c.planned_on,
        _PLANNED_TABLE.c.session_id.label("planned_session_id"),
    )
    .outerjoin(_PLANNED_TABLE, _PLANNED_TABLE.c.course_id == _COURSE_TABLE.c.id)
    .where(_COURSE_TABLE.c.patient_id == _PATIENT, _COURSE_TABLE.c.clinic_id == _CLINIC)
    .order_by(_COURSE_TABLE.c.created_at, _COURSE_TABLE.c.id, _PLANNED_TABLE.c.number)
)
# A patient's consents as rows, in the order they were opened: each consent's columns
# (records.consents.ConsentLine takes those it shows), its template's version, then one of
# its withdrawals (NULL for none), oldest first
_CONSENT_TABLE, _TEMPLATE_TABLE, _WITHDRAWAL_TABLE = (
    Consent.__table__,
    ConsentTemplate.__table__,
    ConsentWithdrawal.__table__,
)
_CONSENT_ROWS_OF_PATIENT = (
    select(
        _CONSENT_TABLE,
        _TEMPLATE_TABLE.c.version.label("template_version"),
        _WITHDRAWAL_TABLE.c.scope.label("withdrawn_scope"),
        _WITHDRAWAL_TABLE.c.withdrawn_at,
        _WITHDRAWAL_TABLE.c.reason.label("withdrawn_reason"),
    )
    .join(
        _TEMPLATE_TABLE,
        and_(
            _TEMPLATE_TABLE.c.id == _CONSENT_TABLE.c.template_id,
            _TEMPLATE_TABLE.c.kind == _CONSENT_TABLE.c.kind,
        ),
    )
    .outerjoin(_WITHDRAWAL_TABLE, _WITHDRAWAL_TABLE.c.consent_id == _CONSENT_TABLE.c.id)
    .where(_CONSENT_TABLE.c.patient_id == _PATIENT)
    .order_by(_CONSENT_TABLE.c.opened_at, _CONSENT_TABLE.c.id, _WITHDRAWAL_TABLE.c.withdrawn_at)
)
# A patient's scores as rows (records.outcomes.OutcomeLine takes those it shows)
_OUTCOME_TABLE = Outcome.__table__
_OUTCOME_ROWS_OF_PATIENT = (
    select(_OUTCOME_TABLE)
    .where(_OUTCOME_TABLE.c.patient_id == _PATIENT)
    .order_by(_OUTCOME_TABLE.c.assessed_on, _OUTCOME_TABLE.c.id)
)
# A patient's adverse events as rows, oldest onset first: each event's columns
# (records.adverse.AdverseEventLine takes those it shows), then one of its lots (NULL for
# none), by product then lot number
_EVENT_TABLE, _EVENT_LOT_TABLE = AdverseEvent.__table__, AdverseEventLot.__table__
_EVENT_ROWS_OF_PATIENT = (
    select(
        _EVENT_TABLE,
        _LOT_TABLE.c.id.label("lot_id"),
        _LOT_TABLE.c.product.label("lot_product"),
        _LOT_TABLE.c.lot_number,
    )
    .outerjoin(_EVENT_LOT_TABLE, _EVENT_LOT_TABLE.c.adverse_event_id == _EVENT_TABLE.c.id)
    .outerjoin(_LOT_TABLE, _LOT_TABLE.c.id == _EVENT_LOT_TABLE.c.lot_id)
    .where(_EVENT_TABLE.c.patient_id == _PATIENT)
    .order_by(
        _EVENT_TABLE.c.onset_date,
        _EVENT_TABLE.c.created_at,
        _EVENT_TABLE.c.id,
        _LOT_TABLE.c.product,
        _LOT_TABLE.c.lot_number,
    )
)
_PHOTOS_OF_PATIENT = (
    select(Photo).where(Photo.patient_id == _PATIENT).order_by(Photo.taken_at, Photo.id)
)
_PHOTO_LINES_OF_PATIENT = (
    select(Photo.id, Photo.taken_at, Photo.stage, Photo.area, Photo.angle, Photo.session_id)
    .where(Photo.patient_id == _PATIENT)
    .order_by(Photo.taken_at, Photo.id)
)

_LOT_IN_CLINIC = and_(
    ProductLot.clinic_id == _CLINIC, ProductLot.lot_number == bindparam("lot_number")
)
_RECALL = (
    select(
        TreatmentSession.id,
        TreatmentSession.performed_at,
        TreatmentSession.status,
        Patient.id,
        Patient.family_name,
        Patient.given_names,
        Patient.email,
        Patient.phone,
        ProductLot.product,
        ProductLot.lot_number,
        ProductLot.expiry_date,
        SessionProduct.volumes_ml,
    )
    .select_from(ProductLot)
    .join(SessionProduct, SessionProduct.lot_id == ProductLot.id)
    .join(TreatmentSession, TreatmentSession.id == SessionProduct.session_id)
    .join(Patient, Patient.id == TreatmentSession.patient_id)
    .where(_LOT_IN_CLINIC, TreatmentSession.status != SessionStatus.AMENDED)
    .order_by(TreatmentSession.performed_at, TreatmentSession.id, SessionProduct.position)
)
_RECALL_EVENTS = (
    select(AdverseEvent, Patient)
    .select_from(ProductLot)
    .join(AdverseEventLot, AdverseEventLot.lot_id == ProductLot.id)
    .join(AdverseEvent, AdverseEvent.id == AdverseEventLot.adverse_event_id)
    .join(Patient, Patient.id == AdverseEvent.patient_id)
    .where(_LOT_IN_CLINIC, AdverseEvent.status != AdverseEventStatus.SUPERSEDED)
    .order_by(AdverseEvent.onset_date, AdverseEvent.id)
)

_INSERT_EVENT = insert(AuditEvent)
_EVENT_COLUMNS = tuple(column.key for column in AuditEvent.__table__.columns if column.key != "id")
_LANE: BindParameter[int] = bindparam("lane")
_IN_LANE = (AuditEvent.clinic_id == _CLINIC, AuditEvent.lane == _LANE)
_IN_LEGACY = (AuditEvent.clinic_id.is_(None), AuditEvent.lane == _LANE)
_HEAD = select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
_LANE_HEAD = _HEAD.where(*_IN_LANE)
_LEGACY_HEAD = _HEAD.where(*_IN_LEGACY)

# A login session or an API token by its hash, with its member (of its clinic) and their
# clinic: every request checks one before its use case runs, as that member.
_TOKEN_HASH: BindParameter[str] = bindparam("token_hash")
_LOGIN_SESSION = (
    select(LoginSession, Staff, Clinic)
    .outerjoin(
        Staff, and_(Staff.id == LoginSession.staff_id, Staff.clinic_id == LoginSession.clinic_id)
    )
    .outerjoin(Clinic, Clinic.id == Staff.clinic_id)
    .where(LoginSession.token_hash == _TOKEN_HASH)
)
_API_TOKEN = (
    select(ApiToken, Staff, Clinic)
    .outerjoin(Staff, and_(Staff.id == ApiToken.staff_id, Staff.clinic_id == ApiToken.clinic_id))
    .outerjoin(Clinic, Clinic.id == Staff.clinic_id)
    .where(ApiToken.token_hash == _TOKEN_HASH)
)


_CLINICS = "dermaplan.clinics"  # in Session.info: the clinics read in this session
_MEMBERS = "dermaplan.members"  # in Session.info: the members read with their login


class ClinicRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def all(self) -> Sequence[Clinic]:
        return self.session.scalars(select(Clinic).order_by(Clinic.created_at, Clinic.id)).all()

    def add(self, clinic: Clinic) -> None:
        self.session.add(clinic)
        self.session.flush()

    def zone(self, clinic_id: uuid.UUID) -> ZoneInfo:
        """The clinic's time zone (UTC for one not found). The clinic is read once per
        session: it is kept in the session, so later calls find it in the identity map
        (which holds objects only while something else does), changes included."""
        clinic = self._kept().get(clinic_id) or self.session.get(Clinic, clinic_id)
        if clinic is None:
            return UTC_ZONE
        self.keep(clinic)
        return zone(clinic.time_zone)

    def keep(self, clinic: Clinic) -> None:
        """Keep a clinic read with something else for this session's later look-ups."""
        self._kept()[clinic.id] = clinic

    def _kept(self) -> dict[uuid.UUID, Clinic]:
        kept: dict[uuid.UUID, Clinic] = self.session.info.setdefault(_CLINICS, {})
        return kept

    def today(self, clinic_id: uuid.UUID, now: dt.datetime) -> dt.date:
        """Which day it is in the clinic at `now`."""
        return clinic_day(now, self.zone(clinic_id))


def staff_named(session: Session, reference: str) -> Sequence[Staff]:
    """Active members of any clinic with this id, or this name (ignoring case): the one
    look-up not scoped to a clinic, for it finds who is acting, and so the clinic."""
    try:
        wanted = Staff.id == uuid.UUID(reference)
    except ValueError:
        wanted = func.lower(Staff.name) == reference.strip().lower()
    return session.scalars(select(Staff).where(wanted, Staff.active).order_by(Staff.id)).all()


def any_staff(session: Session) -> bool:
    return session.scalar(select(Staff.id).limit(1)) is not None


class StaffRepository:
    def __init__(self, session: Session, clinic_id: uuid.UUID) -> None:
        self.session = session
        self.clinic_id = clinic_id

    def get(self, staff_id: uuid.UUID) -> Staff | None:
        return self.session.scalar(
            select(Staff).where(Staff.clinic_id == self.clinic_id, Staff.id == staff_id)
        )

    def get_with_clinic(self, staff_id: uuid.UUID) -> Staff | None:
        """A member and their clinic in one query, the clinic kept for the session (the
        member who signs in: every use case then asks for the clinic's time zone); none for
        a member read with the login session or token that names them (`_kept_member`)."""
        kept: dict[uuid.UUID, Staff] = self.session.info.get(_MEMBERS, {})
        member = kept.get(staff_id)
        if member is not None and member.clinic_id == self.clinic_id:
            return member
        row = self.session.execute(
            select(Staff, Clinic)
            .join(Clinic, Clinic.id == Staff.clinic_id)
            .where(Staff.clinic_id == self.clinic_id, Staff.id == staff_id)
        ).first()
        if row is None:
            return None
        ClinicRepository(self.session).keep(row[1])
        staff: Staff = row[0]
        return staff

    def every(self) -> Sequence[Staff]:
        """The clinic's staff in name order."""
        return self.session.scalars(
            select(Staff).where(Staff.clinic_id == self.clinic_id).order_by(Staff.name, Staff.id)
        ).all()

    def add(self, staff: Staff) -> None:
        self.session.add(staff)
        self.session.flush()


class PatientRepository:
    def __init__(self, session: Session, clinic_id: uuid.UUID) -> None:
        self.session = session
        self.clinic_id = clinic_id

    def readable(self, *, include_deleted: bool = False) -> Select[Patient]:
        """The one base statement: this clinic's patients, soft-deleted ones left out; its
        `clinic_id` parameter is bound by `_params`."""
        return _PATIENTS if include_deleted else _LIVE_PATIENTS

    def _params(self, **values: object) -> dict[str, object]:
        return {"clinic_id": self.clinic_id, **values}

    def get(self, patient_id: uuid.UUID, *, include_deleted: bool = False) -> Patient | None:
        return self.session.scalar(
            self.readable(include_deleted=include_deleted).where(Patient.id == _PATIENT),
            self._params(patient_id=patient_id),
        )

    def get_with_consults(self, patient_id: uuid.UUID) -> Patient | None:
        """The patient, deleted or not, with their consults, in one query."""
        return (
            self.session.scalars(_PATIENT_WITH_CONSULTS, self._params(patient_id=patient_id))
            .unique()
            .one_or_none()
        )

    def search(self, key: str, *, limit: int) -> Sequence[Patient]:
        """Patients whose search key starts with `key`: an index range, in name order."""
        statement, params = self._search(key, limit)
        return self.session.scalars(statement, params).all()

    def search_statement(self, key: str, *, limit: int = 20) -> Select[Patient]:
        """The search with its values bound, for reading its plan."""
        statement, params = self._search(key, limit)
        return statement.params(params)

    def _search(self, key: str, limit: int) -> tuple[Select[Patient], dict[str, object]]:
        upper = successor(key)
        if upper is None:
            return _SEARCH, self._params(key=key, limit=limit)
        return _SEARCH_BOUNDED, self._params(key=key, upper=upper, limit=limit)

    def page(self, *, limit: int, offset: int, include_deleted: bool) -> Sequence[Patient]:
        statement = (
            self.readable(include_deleted=include_deleted)
            .order_by(Patient.search_name, Patient.id)
            .limit(limit)
            .offset(offset)
        )
        return self.session.scalars(statement, self._params()).all()

    def add(self, patient: Patient) -> None:
        self.session.add(patient)
        self.session.flush()


class ConsultRepository:
    def __init__(self, session: Session, clinic_id: uuid.UUID) -> None:
        self.session = session
        self.clinic_id = clinic_id

    def get(self, consult_id: uuid.UUID) -> Consult | None:
        """A consult of one of this clinic's patients, with its patient loaded from the
        same join (one query)."""
        return self.session.scalar(
            _CONSULT_OF_CLINIC, {"consult_id": consult_id, "clinic_id": self.clinic_id}
        )

    def view(self, consult_id: uuid.UUID) -> tuple[Consult, Staff | None, Consult | None] | None:
        """A consult of one of this clinic's patients with its patient, the member who
        approved it and the consult that corrects it (one at most), each if any: one query."""
        row = self.session.execute(
            _CONSULT_VIEW, {"consult_id": consult_id, "clinic_id": self.clinic_id}
        ).first()
        return None if row is None else (row[0], row[1], row[2])

    def correction_of(self, consult_id: uuid.UUID) -> Consult | None:
        """The live correction of a consult (a draft or approved one; none discarded)."""
        return self.session.scalar(
            select(Consult).where(
                Consult.supersedes_id == consult_id, Consult.status != ConsultStatus.DISCARDED
            )
        )

    def add(self, consult: Consult) -> None:
        self.session.add(consult)
        self.session.flush()


class LotRepository:
    def __init__(self, session: Session, clinic_id: uuid.UUID) -> None:
        self.session = session
        self.clinic_id = clinic_id

    def get(self, product: str, lot_number: str) -> ProductLot | None:
        return self.session.scalar(
            select(ProductLot).where(
                ProductLot.clinic_id == self.clinic_id,
                ProductLot.product == product,
                ProductLot.lot_number == lot_number,
            )
        )

    def add(self, lot: ProductLot) -> None:
        self.session.add(lot)
        self.session.flush()

    def _lot(self, lot_number: str) -> dict[str, object]:
        return {"clinic_id": self.clinic_id, "lot_number": lot_number}

    def recall_statement(self, lot_number: str) -> Select[*RecallColumns]:
        """Every current session (not replaced by an amendment) that used a lot, with its
        patient: one query from the (clinic, lot) index through session_product.lot_id."""
        return _RECALL.params(self._lot(lot_number))

    def recall(self, lot_number: str) -> Sequence[Row[*RecallColumns]]:
        return self.session.execute(_RECALL, self._lot(lot_number)).all()

    def adverse_events_statement(self, lot_number: str) -> Select[AdverseEvent, Patient]:
        """The latest version of every adverse event that involved a lot, with its patient:
        from the (clinic, lot) index through adverse_event_lot.lot_id. A follow-up that no
        longer names the lot takes its event out, as an amendment does a session."""
        return _RECALL_EVENTS.params(self._lot(lot_number))

    def adverse_events(self, lot_number: str) -> Sequence[Row[AdverseEvent, Patient]]:
        return self.session.execute(_RECALL_EVENTS, self._lot(lot_number)).all()


class SessionRepository:
    def __init__(self, session: Session, clinic_id: uuid.UUID) -> None:
        self.session = session
        self.clinic_id = clinic_id

    def get(self, session_id: uuid.UUID) -> TreatmentSession | None:
        """A session of one of this clinic's patients, with its products and their lots."""
        return self.session.scalar(
            select(TreatmentSession)
            .join(TreatmentSession.patient)
            .where(TreatmentSession.id == session_id, Patient.clinic_id == self.clinic_id)
            .options(
                selectinload(TreatmentSession.patient),
                selectinload(TreatmentSession.products).selectinload(SessionProduct.lot),
            )
            .execution_options(populate_existing=True)  # after replace_products, reload
        )

    def of_patient(self, patient_id: uuid.UUID) -> Sequence[TreatmentSession]:
        """Every session of a patient, every version, in date order, with products and lots:
        one query, joined (a patient has tens of sessions, each a few products; three
        round trips cost more than the repeated session columns).
        The patient is the caller's, already checked to be this clinic's."""
        return self.session.scalars(_SESSIONS_OF_PATIENT, {"patient_id": patient_id}).unique().all()

    def rows_of_patient(self, patient_id: uuid.UUID) -> Sequence[Row[Any]]:
        """`of_patient` as rows: a row per product line of each session (one for a session
        without products), the session's columns first, then the line's as `product_used`,
        `product_lot_id`, `product_volumes_ml`, `product_lot_number`, `product_lot_expiry`.
        Reading no ORM objects costs about half as much."""
        return self.session.execute(_SESSION_ROWS_OF_PATIENT, {"patient_id": patient_id}).all()

    def amendment_of(self, session_id: uuid.UUID) -> TreatmentSession | None:
        return self.session.scalar(
            select(TreatmentSession).where(TreatmentSession.amends_id == session_id)
        )

    def add(self, record: TreatmentSession) -> None:
        self.session.add(record)
        self.session.flush()

    def replace_products(self, record: TreatmentSession, products: list[SessionProduct]) -> None:
        """Swap a draft's product lines; the old ones go first (their positions are unique).
        `record.products` is stale afterwards: get the session again."""
        for old in record.products:
            self.session.delete(old)
        self.session.flush()
        for product in products:
            product.session_id = record.id
        self.session.add_all(products)
        self.session.flush()


class AdverseEventRepository:
    def __init__(self, session: Session, clinic_id: uuid.UUID) -> None:
        self.session = session
        self.clinic_id = clinic_id

    def get(self, event_id: uuid.UUID) -> AdverseEvent | None:
        """An adverse event of one of this clinic's patients, with its patient and lots."""
        return self.session.scalar(
            select(AdverseEvent)
            .join(AdverseEvent.patient)
            .where(AdverseEvent.id == event_id, Patient.clinic_id == self.clinic_id)
            .options(selectinload(AdverseEvent.patient), selectinload(AdverseEvent.lots))
            .execution_options(populate_existing=True)
        )

    def rows_of_patient(self, patient_id: uuid.UUID) -> Sequence[Row[*tuple[Any, ...]]]:
        """Every version of a patient's events, oldest onset first, as rows, a row per lot
        (one for an event without any), for records.adverse.adverse_event_lines: no ORM
        objects. The patient is the caller's, already checked."""
        return self.session.execute(_EVENT_ROWS_OF_PATIENT, {"patient_id": patient_id}).all()

    def follow_up_of(self, event_id: uuid.UUID) -> AdverseEvent | None:
        return self.session.scalar(select(AdverseEvent).where(AdverseEvent.follows_id == event_id))

    def add(self, event: AdverseEvent) -> None:
        self.session.add(event)
        self.session.flush()


class OutcomeRepository:
    def __init__(self, session: Session, clinic_id: uuid.UUID) -> None:
        self.session = session
        self.clinic_id = clinic_id

    def rows_of_patient(self, patient_id: uuid.UUID) -> Sequence[Row[*tuple[Any, ...]]]:
        """A patient's scores in date order, as rows, for records.outcomes.OutcomeLine: no
        ORM objects. The patient is the caller's, already checked."""
        return self.session.execute(_OUTCOME_ROWS_OF_PATIENT, {"patient_id": patient_id}).all()

    def add(self, outcome: Outcome) -> None:
        self.session.add(outcome)
        self.session.flush()


class ConsentTemplateRepository:
    def __init__(self, session: Session, clinic_id: uuid.UUID) -> None:
        self.session = session
        self.clinic_id = clinic_id

    def get(self, template_id: uuid.UUID) -> ConsentTemplate | None:
        return self.session.scalar(
            select(ConsentTemplate).where(
                ConsentTemplate.id == template_id, ConsentTemplate.clinic_id == self.clinic_id
            )
        )

    def version(self, kind: ConsentKind, version: int) -> ConsentTemplate | None:
        return self.session.scalar(
            select(ConsentTemplate).where(
                ConsentTemplate.clinic_id == self.clinic_id,
                ConsentTemplate.kind == kind,
                ConsentTemplate.version == version,
            )
        )

    def every(self) -> Sequence[ConsentTemplate]:
        """Every published version, by kind then version."""
        return self.session.scalars(
            select(ConsentTemplate)
            .where(ConsentTemplate.clinic_id == self.clinic_id)
            .order_by(ConsentTemplate.kind, ConsentTemplate.version)
        ).all()

    def latest_version(self, kind: ConsentKind) -> int:
        return (
            self.session.scalar(
                select(func.max(ConsentTemplate.version)).where(
                    ConsentTemplate.clinic_id == self.clinic_id, ConsentTemplate.kind == kind
                )
            )
            or 0
        )

    def add(self, template: ConsentTemplate) -> None:
        self.session.add(template)
        self.session.flush()


class ConsentRepository:
    def __init__(self, session: Session, clinic_id: uuid.UUID) -> None:
        self.session = session
        self.clinic_id = clinic_id

    def get(self, consent_id: uuid.UUID) -> Consent | None:
        """A consent of one of this clinic's patients, with its template and withdrawals."""
        return self.session.scalar(
            select(Consent)
            .join(Consent.patient)
            .where(Consent.id == consent_id, Patient.clinic_id == self.clinic_id)
            .options(
                selectinload(Consent.patient),
                selectinload(Consent.template),
                selectinload(Consent.withdrawals),
            )
            .execution_options(populate_existing=True)
        )

    def valid_kinds(self, patient_id: uuid.UUID, before: dt.datetime) -> set[ConsentKind]:
        """The kinds of consent the patient had signed before the instant `before`, and had
        not withdrawn (as a whole) by then; the patient is the caller's, already checked."""
        withdrawn = (
            select(ConsentWithdrawal.consent_id)
            .where(
                ConsentWithdrawal.consent_id == Consent.id,
                ConsentWithdrawal.scope == "all",
                ConsentWithdrawal.withdrawn_at < before,
            )
            .exists()
        )
        rows = self.session.execute(
            select(Consent.kind, Consent.signed_at).where(
                Consent.patient_id == patient_id,
                Consent.status == ConsentStatus.SIGNED,
                ~withdrawn,
            )
        )
        return {kind for kind, signed_at in rows if signed_at is not None and signed_at < before}

    def add(self, consent: Consent) -> None:
        self.session.add(consent)
        self.session.flush()

    def of_patient(self, patient_id: uuid.UUID, kind: ConsentKind) -> Sequence[Consent]:
        """A patient's signed consents of one kind, with their withdrawals, oldest first."""
        return self.session.scalars(
            select(Consent)
            .where(
                Consent.patient_id == patient_id,
                Consent.kind == kind,
                Consent.status == ConsentStatus.SIGNED,
            )
            .options(selectinload(Consent.withdrawals))
            .order_by(Consent.signed_at, Consent.id)
        ).all()

    def rows_of_patient(self, patient_id: uuid.UUID) -> Sequence[Row[*tuple[Any, ...]]]:
        """Every consent of a patient, with its template's version and withdrawals, in the
        order they were opened, as rows: a row per withdrawal (one for a consent without
        any), for records.consents.consent_lines. The patient is the caller's, already
        checked."""
        return self.session.execute(_CONSENT_ROWS_OF_PATIENT, {"patient_id": patient_id}).all()

    def add_withdrawal(self, withdrawal: ConsentWithdrawal) -> None:
        self.session.add(withdrawal)
        self.session.flush()


class PhotoRepository:
    def __init__(self, session: Session, clinic_id: uuid.UUID) -> None:
        self.session = session
        self.clinic_id = clinic_id

    def of_patient(self, patient_id: uuid.UUID) -> Sequence[Photo]:
        """A patient's photos, oldest first; the patient is the caller's, already checked."""
        return self.session.scalars(_PHOTOS_OF_PATIENT, {"patient_id": patient_id}).all()

    def lines_of_patient(self, patient_id: uuid.UUID) -> Sequence[PhotoColumns]:
        """What a list of a patient's photos shows of each, oldest first, as rows: no ORM
        objects. The patient is the caller's, already checked."""
        return self.session.execute(_PHOTO_LINES_OF_PATIENT, {"patient_id": patient_id}).all()

    def before_photo_areas(
        self, patient_id: uuid.UUID, session_ids: Collection[uuid.UUID], day: dt.date
    ) -> set[str]:
        """The areas a before-photo of the patient shows: one linked to these sessions, or
        linked to none and taken on `day` in the clinic."""
        start, end = day_starts(day, ClinicRepository(self.session).zone(self.clinic_id))
        taken_that_day = and_(
            Photo.session_id.is_(None),
            Photo.taken_at >= start,
            Photo.taken_at < end,
        )
        return set(
            self.session.scalars(
                select(Photo.area)
                .distinct()
                .where(
                    Photo.patient_id == patient_id,
                    Photo.stage == PhotoStage.BEFORE,
                    or_(Photo.session_id.in_(session_ids), taken_that_day),
                )
            )
        )

    def get(self, photo_id: uuid.UUID) -> Photo | None:
        """A photo of one of this clinic's patients."""
        return self.session.scalar(
            select(Photo)
            .join(Patient, Patient.id == Photo.patient_id)
            .where(Photo.id == photo_id, Patient.clinic_id == self.clinic_id)
        )

    def add(self, photo: Photo) -> None:
        self.session.add(photo)
        self.session.flush()


class CourseRepository:
    def __init__(self, session: Session, clinic_id: uuid.UUID) -> None:
        self.session = session
        self.clinic_id = clinic_id

    def get(self, course_id: uuid.UUID) -> Course | None:
        """A course of this clinic, with its patient and planned sessions."""
        return self.session.scalar(
            select(Course)
            .where(Course.id == course_id, Course.clinic_id == self.clinic_id)
            .options(selectinload(Course.patient), selectinload(Course.planned_sessions))
            .execution_options(populate_existing=True)
        )

    def fulfilled_by(self, session_ids: Collection[uuid.UUID]) -> PlannedSession | None:
        """The planned session one of these treatment sessions fulfils (at most one can)."""
        return self.session.scalar(
            select(PlannedSession)
            .join(PlannedSession.course)
            .where(PlannedSession.session_id.in_(session_ids), Course.clinic_id == self.clinic_id)
            .limit(1)
        )

    def rows_of_patient(self, patient_id: uuid.UUID) -> Sequence[Row[*tuple[Any, ...]]]:
        """`of_patient` as rows, a row per planned session (one for a course without any),
        for records.courses.course_lines: no ORM objects."""
        return self.session.execute(
            _COURSE_ROWS_OF_PATIENT, {"clinic_id": self.clinic_id, "patient_id": patient_id}
        ).all()

    def of_consult(self, consult_id: uuid.UUID) -> Sequence[Course]:
        return self.session.scalars(
            select(Course)
            .where(Course.consult_id == consult_id, Course.clinic_id == self.clinic_id)
            .order_by(Course.created_at, Course.id)
        ).all()

    def add(self, course: Course) -> None:
        self.session.add(course)
        self.session.flush()


class AuditRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def head(self, clinic_id: uuid.UUID | None, lane: int) -> Row[int, str] | None:
        """The seq and hash of the last event of a chain (clinic_id None: revision 0011's)."""
        if clinic_id is None:
            return self.session.execute(_LEGACY_HEAD, {"lane": lane}).first()
        return self.session.execute(_LANE_HEAD, {"clinic_id": clinic_id, "lane": lane}).first()

    def last_event(self, clinic_id: uuid.UUID | None, lane: int) -> AuditEvent | None:
        """The last event of a chain, whole."""
        chain = _IN_LEGACY if clinic_id is None else _IN_LANE
        return self.session.scalar(
            select(AuditEvent).where(*chain).order_by(AuditEvent.seq.desc()).limit(1),
            {"clinic_id": clinic_id, "lane": lane},
        )

    def event(self, clinic_id: uuid.UUID | None, lane: int, seq: int) -> AuditEvent | None:
        chain = _IN_LEGACY if clinic_id is None else _IN_LANE
        return self.session.scalar(
            select(AuditEvent).where(*chain, AuditEvent.seq == seq),
            {"clinic_id": clinic_id, "lane": lane},
        )

    def in_chain_order(self) -> Iterator[AuditEvent]:
        """Every event, streamed chain by chain, each in order: revision 0011's chain
        first, then each clinic's lanes."""
        legacy = select(AuditEvent).where(AuditEvent.clinic_id.is_(None))
        lanes = select(AuditEvent).where(AuditEvent.clinic_id.is_not(None))
        for statement in (
            legacy.order_by(AuditEvent.lane, AuditEvent.seq),
            lanes.order_by(AuditEvent.clinic_id, AuditEvent.lane, AuditEvent.seq),
        ):
            yield from self.session.scalars(statement.execution_options(yield_per=1000))

    def of_clinic(
        self, clinic_id: uuid.UUID, offset: int, limit: int, *where: ColumnElement[bool]
    ) -> Sequence[AuditEvent]:
        """A page of a clinic's events that meet `where`, the latest written first."""
        return self.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.clinic_id == clinic_id, *where)
            .order_by(AuditEvent.id.desc())
            .offset(offset)
            .limit(limit)
        ).all()

    def count_of_clinic(self, clinic_id: uuid.UUID, *where: ColumnElement[bool]) -> int:
        return (
            self.session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.clinic_id == clinic_id, *where)
            )
            or 0
        )

    def append(self, event: AuditEvent) -> None:
        """Insert an event as a row, after what the session holds pending (in the order the
        changes and their events were made): an event is never read back, changed or deleted
        through the session, so its unit of work would cost more than the rest of a read."""
        self.session.flush()
        self.session.connection().execute(
            _INSERT_EVENT, {name: getattr(event, name) for name in _EVENT_COLUMNS}
        )


class LoginRepository:
    """Credentials, login sessions and attempts. A login name or a token is looked up in
    every clinic, for it establishes who is asking, and so the clinic (as `staff_named`)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def credential(self, staff_id: uuid.UUID) -> StaffCredential | None:
        """A member's credential, with the member."""
        return self.session.scalar(
            select(StaffCredential)
            .where(StaffCredential.staff_id == staff_id)
            .options(joinedload(StaffCredential.staff))
        )

    def credentials_of_clinic(self, clinic_id: uuid.UUID) -> Sequence[StaffCredential]:
        return self.session.scalars(
            select(StaffCredential).join(StaffCredential.staff).where(Staff.clinic_id == clinic_id)
        ).all()

    def credential_named(self, login: str) -> StaffCredential | None:
        """The credential of an active member with this login name, with the member."""
        return self.session.scalar(
            select(StaffCredential)
            .join(StaffCredential.staff)
            .where(StaffCredential.login == login, Staff.active)
            .options(joinedload(StaffCredential.staff))
        )

    def login_taken(self, login: str, staff_id: uuid.UUID) -> bool:
        return (
            self.session.scalar(
                select(StaffCredential.staff_id).where(
                    StaffCredential.login == login, StaffCredential.staff_id != staff_id
                )
            )
            is not None
        )

    def add(self, row: StaffCredential | LoginSession | LoginAttempt) -> None:
        self.session.add(row)
        self.session.flush()

    def login_session(self, token_hash: str) -> LoginSession | None:
        """The session with this token's hash, its member and their clinic read with it."""
        found: LoginSession | None = _with_member(self.session, _LOGIN_SESSION, token_hash)
        return found

    def open_sessions(self, staff_id: uuid.UUID) -> Sequence[LoginSession]:
        return self.session.scalars(
            select(LoginSession).where(
                LoginSession.staff_id == staff_id, LoginSession.ended_at.is_(None)
            )
        ).all()

    def failures(
        self, since: dt.datetime, *, login: str | None = None, address: str | None = None
    ) -> list[dt.datetime]:
        """When the failed attempts after `since` were made, for a login name or from an
        address, the latest first; a success of the login name ends the count."""
        statement = select(LoginAttempt.at, LoginAttempt.succeeded).where(LoginAttempt.at > since)
        if login is not None:
            statement = statement.where(LoginAttempt.login == login)
        if address is not None:
            statement = statement.where(LoginAttempt.address == address, ~LoginAttempt.succeeded)
        found = []
        for at, succeeded in self.session.execute(statement.order_by(LoginAttempt.at.desc())):
            if succeeded:
                break
            found.append(at)
        return found

    def forget_attempts(self, before: dt.datetime) -> None:
        self.session.execute(delete(LoginAttempt).where(LoginAttempt.at < before))


class ApiTokenRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def by_hash(self, token_hash: str) -> ApiToken | None:
        """A token of any clinic: it establishes who is asking; its member and their clinic
        are read with it."""
        token: ApiToken | None = _with_member(self.session, _API_TOKEN, token_hash)
        return token

    def of_member(self, clinic_id: uuid.UUID, staff_id: uuid.UUID) -> Sequence[ApiToken]:
        """A member's tokens, newest first."""
        return self.session.scalars(
            select(ApiToken)
            .where(ApiToken.clinic_id == clinic_id, ApiToken.staff_id == staff_id)
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        ).all()

    def of_clinic(self, clinic_id: uuid.UUID) -> Sequence[ApiToken]:
        """Every token of the clinic's members, newest first."""
        return self.session.scalars(
            select(ApiToken)
            .where(ApiToken.clinic_id == clinic_id)
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        ).all()

    def get(self, clinic_id: uuid.UUID, token_id: uuid.UUID) -> ApiToken | None:
        return self.session.scalar(
            select(ApiToken).where(ApiToken.clinic_id == clinic_id, ApiToken.id == token_id)
        )

    def add(self, token: ApiToken) -> None:
        self.session.add(token)
        self.session.flush()


def _with_member(session: Session, statement: Any, token_hash: str) -> Any:
    """The credential a token's hash finds (a login session or an API token), its member and
    their clinic, read with it, kept for the rest of the unit."""
    row = session.execute(statement, {"token_hash": token_hash}).first()
    if row is None:
        return None
    _kept_member(session, row[1], row[2])
    return row[0]


def _kept_member(session: Session, member: Staff | None, clinic: Clinic | None) -> None:
    """Keep a member read with their login session or token, and their clinic, for this
    session's later look-ups (`StaffRepository.get_with_clinic`, `ClinicRepository.zone`):
    the member asking acts next."""
    if member is None or clinic is None:
        return
    kept: dict[uuid.UUID, Staff] = session.info.setdefault(_MEMBERS, {})
    kept[member.id] = member
    ClinicRepository(session).keep(clinic)
