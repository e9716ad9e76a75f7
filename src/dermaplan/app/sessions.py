"""Treatment sessions: recorded by the practitioner who treated (the one acting), checked
against safety, completed, signed by the practitioner acting, amended after signing; and
the recall of a product lot."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from dermaplan.app.principal import ADMIN, PRACTITIONER, Access, allowed
from dermaplan.app.reads import ReadModel, Refused, on_clinic_clock
from dermaplan.app.unit import UnitOfWork
from dermaplan.knowledge.schema import Modality

if TYPE_CHECKING:
    from dermaplan.knowledge import KnowledgeBase
    from dermaplan.records.models import TreatmentSession
    from dermaplan.records.schemas import SessionData


class RecordedSession(ReadModel):
    """A draft just recorded: what it fulfils and what signing still needs."""

    id: uuid.UUID
    revised: bool  # a draft's content replaced, rather than a new record
    amends: uuid.UUID | None
    fulfils: tuple[uuid.UUID, int] | None  # (course, planned session number)
    to_complete: list[str]


class SignedSession(ReadModel):
    id: uuid.UUID
    signed_by: uuid.UUID
    gaps_explained: int


class RecallEntry(ReadModel):
    session_id: uuid.UUID
    performed_at: dt.datetime  # on the clinic's clock
    performed_on: dt.date  # the clinic's day
    status: str
    patient_id: uuid.UUID
    patient_name: str
    email: str | None
    phone: str | None
    product: str
    volume_ml: float
    expiry_date: dt.date | None


class RecallEvent(ReadModel):
    event_id: uuid.UUID
    patient_id: uuid.UUID
    patient_name: str
    onset_date: dt.date
    event_type: str
    severity: str
    status: str


class LotRecall(ReadModel):
    lot: str
    sessions: list[RecallEntry]
    adverse_events: list[RecallEvent]


class SessionPlan(ReadModel):
    """What a session of an approved plan starts from: the modality and what the plan
    gives for it (areas, needling depths and device, products), and the modalities the
    plan allows, to choose another."""

    consult_id: uuid.UUID
    patient_id: uuid.UUID
    performed_at: dt.datetime  # now, on the clinic's clock
    modality: Modality
    modalities: list[Modality]
    areas: list[str]
    device: str | None
    depths_mm: dict[str, float]  # only where the plan gives a sourced depth
    products: list[str]
    anaesthesia: str | None


class ChartedProduct(ReadModel):
    product: str
    lot: str | None
    expiry: dt.date | None
    volumes_ml: dict[str, float]


class ChartedDeviation(ReadModel):
    """A change from the plan made at the session, and why."""

    change: str
    reason: str


class ChartedPoint(ReadModel):
    area: str
    x: float
    y: float
    view: str | None = None


class ChartedSession(ReadModel):
    """One version of a session as charted, and what signing it still needs (for a draft;
    a signed one keeps what was missing when it was signed, and why it was signed so)."""

    id: uuid.UUID
    patient_id: uuid.UUID
    consult_id: uuid.UUID | None
    practitioner_id: uuid.UUID
    status: str
    performed_at: dt.datetime
    modality: Modality
    areas: list[str]
    device: str | None
    needle_cartridge: str | None
    depths_mm: dict[str, float]
    passes: dict[str, int]
    products: list[ChartedProduct]
    injection_points: list[ChartedPoint]
    anaesthesia: str | None
    deviations: list[ChartedDeviation]
    notes: str | None
    signed_by: uuid.UUID | None
    signer: str | None  # the name of who signed
    signed_at: dt.datetime | None
    amends: uuid.UUID | None
    amended_by: uuid.UUID | None  # the newer version: a draft being written, or the signed one
    to_complete: list[str]
    incomplete_reason: str | None
    overridden: list[str]  # what the safety check refused, recorded anyway
    override_reason: str | None  # the practitioner's reason to record it so


class _Read(BaseModel):
    """The parts of a stored plan document a session starts from (any other part is
    ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class _Needled(_Read):
    area: str
    depth_mm: float | None = None
    device: str | None = None


class _Anaesthetic(_Read):
    text: str | None = None


class _Protocol(_Read):
    areas: tuple[_Needled, ...] = ()
    anaesthesia: _Anaesthetic | None = None
    open_skin_products: tuple[str, ...] = ()


class _Dose(_Read):
    area: str


class _Preparation(_Read):
    products: tuple[str, ...] = ()
    areas: tuple[_Dose, ...] = ()


class _Blend(_Read):
    preparations: tuple[_Preparation, ...] = ()


class _PlanParts(_Read):
    mesotherapy: _Blend | None = None
    microneedling: _Protocol | None = None
    combined: _Protocol | None = None


def _performed_by_the_principal(uow: UnitOfWork, data: SessionData) -> SessionData:
    """Who treated is the practitioner acting: filled in when left out (the API's session),
    and a session in another's name is refused."""
    return data.model_copy(
        update={"practitioner": uow.in_own_name("practitioner", data.practitioner)}
    )


def _recorded(
    uow: UnitOfWork,
    stored: TreatmentSession,
    knowledge: KnowledgeBase,
    amends: uuid.UUID | None = None,
    *,
    revised: bool = False,
) -> RecordedSession:
    from dermaplan.records.courses import fulfilment
    from dermaplan.records.sessions import completeness

    planned = fulfilment(uow.session, uow.clinic_id, stored.id)
    return RecordedSession(
        id=stored.id,
        revised=revised,
        amends=amends,
        fulfils=(planned.course_id, planned.number) if planned is not None else None,
        to_complete=completeness(uow.session, uow.clinic_id, stored, knowledge),
    )


@allowed(PRACTITIONER)
def record(
    uow: UnitOfWork, data: SessionData, knowledge: KnowledgeBase, override: str | None = None
) -> RecordedSession:
    """A draft, checked against safety first (`override`: the practitioner's reason to
    record what the check refuses)."""
    from dermaplan.records.sessions import record_session

    data = _performed_by_the_principal(uow, data)
    stored = record_session(
        uow.session, uow.context, uow.clinic_id, data, knowledge, override_reason=override
    )
    return _recorded(uow, stored, knowledge)


@allowed(PRACTITIONER)
def revise(
    uow: UnitOfWork,
    session_id: uuid.UUID,
    data: SessionData,
    knowledge: KnowledgeBase,
    override: str | None = None,
) -> RecordedSession:
    """Replace a draft's content, checked against safety again."""
    from dermaplan.records.sessions import revise_session

    data = _performed_by_the_principal(uow, data)
    stored = revise_session(
        uow.session,
        uow.context,
        uow.clinic_id,
        session_id,
        data,
        knowledge,
        override_reason=override,
    )
    return _recorded(uow, stored, knowledge, revised=True)


@allowed(PRACTITIONER)
def amend(
    uow: UnitOfWork,
    session_id: uuid.UUID,
    data: SessionData,
    knowledge: KnowledgeBase,
    reason: str,
    override: str | None = None,
) -> RecordedSession:
    """Correct a signed session by a new draft version that replaces it once signed."""
    from dermaplan.records.sessions import amend_session

    data = _performed_by_the_principal(uow, data)
    stored = amend_session(
        uow.session,
        uow.context,
        uow.clinic_id,
        session_id,
        data,
        knowledge,
        reason,
        override_reason=override,
    )
    return _recorded(uow, stored, knowledge, session_id)


@allowed(PRACTITIONER, access=Access.AUDITED_READ)
def history(uow: UnitOfWork, session_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every version of a session, oldest first, as its audited state in plain JSON values,
    its times on the clinic's clock; the reading is audited."""
    from pydantic_core import to_jsonable_python

    from dermaplan.records.sessions import session_history, session_state

    versions = session_history(uow.session, uow.context, uow.clinic_id, session_id)
    return [to_jsonable_python(on_clinic_clock(session_state(v), uow.zone)) for v in versions]


@allowed(PRACTITIONER)
def sign(
    uow: UnitOfWork, session_id: uuid.UUID, knowledge: KnowledgeBase, reason: str | None = None
) -> SignedSession:
    """Sign a draft as the practitioner acting; with gaps, only with a reason."""
    return _signed(uow, session_id, knowledge, reason)


@allowed(PRACTITIONER)
def sign_or_show(
    uow: UnitOfWork, session_id: uuid.UUID, knowledge: KnowledgeBase, reason: str | None = None
) -> SignedSession | Refused[ChartedSession]:
    """The session page's *Sign*: signed (`sign`); refused (gaps without a reason), the
    session as it now stands with why, its reading audited, in the same unit of work."""
    from dermaplan.records.errors import IncompleteRecord, InvalidInput

    try:
        with uow.attempt():
            return _signed(uow, session_id, knowledge, reason)
    except (InvalidInput, IncompleteRecord) as refused:
        return Refused(error=refused, shown=_charted(uow, session_id, knowledge))


def _signed(
    uow: UnitOfWork, session_id: uuid.UUID, knowledge: KnowledgeBase, reason: str | None
) -> SignedSession:
    from dermaplan.records.sessions import sign_session

    principal = uow.acting
    signed = sign_session(
        uow.session,
        uow.context,
        uow.clinic_id,
        session_id,
        knowledge,
        signer_id=principal.staff_id,
        reason=reason,
    )
    return SignedSession(
        id=signed.id,
        signed_by=principal.staff_id,
        gaps_explained=len(signed.missing_at_signing or ()),
    )


@allowed(PRACTITIONER, access=Access.AUDITED_READ)
def planned(
    uow: UnitOfWork, consult_id: uuid.UUID, modality: Modality | None = None
) -> SessionPlan:
    """A session pre-filled from an approved plan, for `modality` (by default the one it
    recommends, else its first course's, else its first treatable one); the reading is
    audited."""
    from dermaplan.clinical.plan import PROCEED
    from dermaplan.records.enums import ConsultStatus
    from dermaplan.records.errors import IncompleteRecord, InvalidInput
    from dermaplan.records.plans import StoredPlan
    from dermaplan.records.service import read_consult

    consult = read_consult(uow.session, uow.context, uow.clinic_id, consult_id)
    if consult.status is not ConsultStatus.APPROVED:
        raise IncompleteRecord.one(
            f"consult: the plan is {consult.status.value}; a session follows an approved plan"
        )
    stored = StoredPlan.read(consult.plan_json, f"consult {consult.id}'s plan")
    allowed_now = [d.modality for d in stored.decisions if d.decision in PROCEED]
    if not allowed_now:
        raise IncompleteRecord.one("consult: the plan allows no treatment")
    recommended = [d.modality for d in stored.decisions if d.decision == "recommended"]
    chosen = modality or next(
        iter(recommended), next((c.modality for c in stored.courses), allowed_now[0])
    )
    if chosen not in allowed_now:
        raise InvalidInput.one(f"modality: the plan does not allow {chosen.value}")
    parts = _PlanParts.model_validate_json(consult.plan_json)
    course = next((c for c in stored.courses if c.modality is chosen), None)
    protocol = parts.combined if chosen is Modality.COMBINED else parts.microneedling
    preparations = parts.mesotherapy.preparations if parts.mesotherapy else ()
    if chosen is Modality.MESOTHERAPY:
        if course is not None and course.products:
            preparations = tuple(p for p in preparations if set(p.products) & set(course.products))
        areas = [dose.area for p in preparations for dose in p.areas]
        products = [product for p in preparations for product in p.products]
        needled: tuple[_Needled, ...] = ()
    else:
        needled = protocol.areas if protocol else ()
        areas = [a.area for a in needled]
        products = list(protocol.open_skin_products) if protocol else []
    return SessionPlan(
        consult_id=consult.id,
        patient_id=consult.patient_id,
        performed_at=uow.context.now,
        modality=chosen,
        modalities=allowed_now,
        areas=list(dict.fromkeys(areas)),
        device=next((a.device for a in needled if a.device), None),
        depths_mm={a.area: a.depth_mm for a in needled if a.depth_mm is not None},
        products=list(dict.fromkeys(products)),
        anaesthesia=protocol.anaesthesia.text
        if chosen is not Modality.MESOTHERAPY and protocol and protocol.anaesthesia
        else None,
    )


@allowed(PRACTITIONER, access=Access.AUDITED_READ)
def chart(uow: UnitOfWork, session_id: uuid.UUID, knowledge: KnowledgeBase) -> ChartedSession:
    """One version of a session as charted, with the completeness check of a draft (the
    records' own); the reading is audited."""
    return _charted(uow, session_id, knowledge)


def _charted(uow: UnitOfWork, session_id: uuid.UUID, knowledge: KnowledgeBase) -> ChartedSession:
    from dermaplan.records.enums import SessionStatus
    from dermaplan.records.repository import SessionRepository, StaffRepository
    from dermaplan.records.sessions import completeness, read_session

    record = read_session(uow.session, uow.context, uow.clinic_id, session_id)
    versions = SessionRepository(uow.session, uow.clinic_id)
    draft = record.status is SessionStatus.DRAFT
    signer = (
        StaffRepository(uow.session, uow.clinic_id).get(record.signed_by_id)
        if record.signed_by_id
        else None
    )
    return ChartedSession(
        id=record.id,
        patient_id=record.patient_id,
        consult_id=record.consult_id,
        practitioner_id=record.practitioner_id,
        status=record.status.value,
        performed_at=record.performed_at,
        modality=record.modality,
        areas=list(record.areas),
        device=record.device,
        needle_cartridge=record.needle_cartridge,
        depths_mm=dict(record.depths_mm),
        passes=dict(record.passes),
        products=[
            ChartedProduct(
                product=p.product,
                lot=p.lot.lot_number if p.lot else None,
                expiry=p.lot.expiry_date if p.lot else None,
                volumes_ml=dict(p.volumes_ml),
            )
            for p in record.products
        ],
        injection_points=[ChartedPoint.model_validate(p) for p in record.injection_points],
        anaesthesia=record.anaesthesia,
        deviations=[ChartedDeviation.model_validate(d) for d in record.deviations or ()],
        notes=record.notes,
        signed_by=record.signed_by_id,
        signer=signer.name if signer else None,
        signed_at=record.signed_at,
        amends=record.amends_id,
        amended_by=newer.id if (newer := versions.amendment_of(record.id)) else None,
        to_complete=completeness(uow.session, uow.clinic_id, record, knowledge)
        if draft
        else list(record.missing_at_signing or ()),
        incomplete_reason=record.incomplete_reason,
        overridden=list(record.overridden or ()),
        override_reason=record.override_reason,
    )


@allowed(ADMIN, PRACTITIONER, access=Access.AUDITED_READ)
def recall(uow: UnitOfWork, lot: str) -> LotRecall:
    """Every patient and session that received a lot, and the adverse events that involved
    it (clinical records: not reception's). The search is audited."""
    from dermaplan.records.clinics import clinic_day
    from dermaplan.records.sessions import recall_lot

    found = recall_lot(uow.session, uow.context, uow.clinic_id, lot)
    where = uow.zone
    return LotRecall(
        lot=lot.strip(),
        sessions=[
            RecallEntry(
                session_id=line.session_id,
                performed_at=line.performed_at.astimezone(where),
                performed_on=clinic_day(line.performed_at, where),
                status=line.status.value,
                patient_id=line.patient_id,
                patient_name=line.patient_name,
                email=line.email,
                phone=line.phone,
                product=line.product,
                volume_ml=line.volume_ml,
                expiry_date=line.expiry_date,
            )
            for line in found.sessions
        ],
        adverse_events=[
            RecallEvent(
                event_id=r.event.id,
                patient_id=r.event.patient_id,
                patient_name=r.patient_name,
                onset_date=r.event.onset_date,
                event_type=r.event.event_type.value,
                severity=r.event.severity.value,
                status=r.event.status.value,
            )
            for r in found.adverse_events
        ],
    )
