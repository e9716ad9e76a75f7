"""Treatment sessions and product lots: recorded against safety, signed once, then frozen.

A session is stored as a draft only if it passes the safety check, or under the
practitioner's written override, which is kept with it and audited. Signing runs the
completeness check; anything missing needs a written reason. A signed session is corrected
by an amendment: a new draft pointing at it, which replaces it once signed. Services never
commit (see records.service).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from dermaplan.clinical.assessment import Assessment
from dermaplan.knowledge import KnowledgeBase
from dermaplan.records.audit import AuditAction, record_event
from dermaplan.records.clinics import clinic_day
from dermaplan.records.consents import consented_kinds
from dermaplan.records.context import Context
from dermaplan.records.courses import fulfil_next_planned_session
from dermaplan.records.enums import SessionStatus, StaffRole
from dermaplan.records.errors import (
    IncompleteRecord,
    InvalidInput,
    NotFound,
    SafetyRefused,
    given_text,
    required,
)
from dermaplan.records.lifecycle import RecordKind, written_reason
from dermaplan.records.models import (
    AdverseEvent,
    Patient,
    ProductLot,
    SessionProduct,
    Staff,
    TreatmentSession,
    new_id,
)
from dermaplan.records.plans import StoredPlan
from dermaplan.records.reconciliation import (
    EarlierSession,
    PatientPlan,
    plan_for_patient,
    recorded_procedures,
)
from dermaplan.records.repository import (
    ClinicRepository,
    ConsultRepository,
    LotRepository,
    PatientRepository,
    PhotoRepository,
    SessionRepository,
    StaffRepository,
)
from dermaplan.records.safety import missing_items, safety_refusals
from dermaplan.records.schemas import ProductUse, SessionData
from dermaplan.records.service import OLDEST_BIRTH_YEARS

SESSION_AHEAD = dt.timedelta(days=1)  # the most a session may lie after the clock's now


# What a session says for its audit digests: every column but the row's timestamps, and
# its products (`session_state`); the chart reads these columns as a row (records.timeline)
STATE_COLUMNS = (
    "id",
    "patient_id",
    "practitioner_id",
    "consult_id",
    "status",
    "performed_at",
    "modality",
    "areas",
    "device",
    "needle_cartridge",
    "depths_mm",
    "passes",
    "injection_points",
    "anaesthesia",
    "deviations",
    "notes",
    "overridden",
    "override_reason",
    "created_by",
    "signed_by_id",
    "signed_at",
    "missing_at_signing",
    "incomplete_reason",
    "amends_id",
    "amendment_reason",
)
ProductState = tuple[str, uuid.UUID | None, dict[str, float]]  # product, lot id, volumes


def session_state(record: TreatmentSession) -> dict[str, Any]:
    """Everything a session says, products included, for the audit digests."""
    return session_state_of(
        {name: getattr(record, name) for name in STATE_COLUMNS},
        [(p.product, p.lot_id, p.volumes_ml) for p in record.products],
    )


def session_state_of(
    columns: Mapping[Any, Any], products: Iterable[ProductState]
) -> dict[str, Any]:
    """`session_state` of a session read as its columns and its products' lines."""
    return {
        **{name: columns[name] for name in STATE_COLUMNS},
        "products": [
            {"product": product, "lot_id": lot_id, "volumes_ml": volumes_ml}
            for product, lot_id, volumes_ml in products
        ],
    }


def session_data(record: TreatmentSession) -> SessionData:
    """The stored session in the shape the checks read (products with their lots)."""
    return SessionData.model_validate(
        {
            "patient": record.patient_id,
            "practitioner": record.practitioner_id,
            "consult": record.consult_id,
            "performed_at": record.performed_at,
            "modality": record.modality,
            "areas": record.areas,
            "device": record.device,
            "needle_cartridge": record.needle_cartridge,
            "depths_mm": record.depths_mm,
            "passes": record.passes,
            "products": [
                {
                    "product": p.product,
                    "lot": p.lot.lot_number if p.lot else None,
                    "expiry": p.lot.expiry_date if p.lot else None,
                    "volumes_ml": p.volumes_ml,
                }
                for p in record.products
            ],
            "injection_points": record.injection_points,
            "anaesthesia": record.anaesthesia,
            "deviations": record.deviations,
            "notes": record.notes,
        }
    )


_SESSIONS = RecordKind(
    "treatment_session",
    "session",
    session_state,
    "record an amendment instead",
    "use `dermaplan sessions amend {id} FILE --reason REASON`",
)


def _session(repository: SessionRepository, session_id: uuid.UUID) -> TreatmentSession:
    return required(repository.get(session_id), f"no session {session_id}")


def _practitioner(session: Session, clinic_id: uuid.UUID, staff_id: uuid.UUID) -> Staff:
    staff = required(
        StaffRepository(session, clinic_id).get(staff_id), f"no member of staff {staff_id}"
    )
    if staff.role is not StaffRole.PRACTITIONER or not staff.active:
        raise InvalidInput.one(f"{staff.name} is not an active practitioner")
    return staff


def lot_state(lot: ProductLot) -> dict[str, Any]:
    """Everything a lot's row says, for the audit digests."""
    return {
        "id": lot.id,
        "clinic_id": lot.clinic_id,
        "product": lot.product,
        "lot_number": lot.lot_number,
        "expiry": lot.expiry_date,
    }


def registered_lot(
    session: Session, context: Context, clinic_id: uuid.UUID, use: ProductUse, where: str
) -> ProductLot | None:
    """The lot a product came from, registered on first use; a known lot's expiry stands."""
    if use.lot is None:
        return None
    lots = LotRepository(session, clinic_id)
    lot = lots.get(use.product, use.lot)
    if lot is None:
        lot = ProductLot(
            id=new_id(),
            clinic_id=clinic_id,
            product=use.product,
            lot_number=use.lot,
            expiry_date=use.expiry,
            created_at=context.now,
            updated_at=context.now,
        )
        lots.add(lot)
        record_event(
            session,
            context,
            clinic_id,
            AuditAction.LOT_CREATE,
            "product_lot",
            lot.id,
            after=lot_state(lot),
        )
    elif use.expiry is not None and lot.expiry_date is None:
        before = lot_state(lot)
        lot.expiry_date = use.expiry
        lot.updated_at = context.now
        session.flush()
        record_event(
            session,
            context,
            clinic_id,
            AuditAction.LOT_UPDATE,
            "product_lot",
            lot.id,
            before=before,
            after=lot_state(lot),
        )
    elif use.expiry is not None and use.expiry != lot.expiry_date:
        raise InvalidInput.one(
            f"{where}.expiry: lot {lot.lot_number} of {lot.product} is recorded as expiring "
            f"on {lot.expiry_date}, not {use.expiry}"
        )
    return lot


@dataclass(frozen=True, slots=True)
class _Checked:
    patient: Patient
    lots: list[ProductLot | None]
    overridden: list[str] | None
    override_reason: str | None


def _when_problem(
    performed_at: dt.datetime, patient: Patient, now: dt.datetime, where: ZoneInfo
) -> str | None:
    """A session is recorded once given (a day's slack for a clock or a time zone a little
    off), and not before its patient was born: the birth date on record, or else the oldest
    the records take (service.OLDEST_BIRTH_YEARS)."""
    if performed_at > now + SESSION_AHEAD:
        return f"{performed_at.isoformat()} is more than a day after now ({now.isoformat()})"
    day, today = clinic_day(performed_at, where), clinic_day(now, where)
    if patient.birth_date is not None and day < patient.birth_date:
        return f"{day} is before the patient's birth date {patient.birth_date}"
    if today.year - day.year > OLDEST_BIRTH_YEARS:
        return f"{day} is more than {OLDEST_BIRTH_YEARS} years ago"
    return None


def _check(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    data: SessionData,
    knowledge: KnowledgeBase,
    override_reason: str | None,
    replaces: uuid.UUID | None = None,
) -> _Checked:
    """Resolve what the session refers to and run the safety check, or raise; `replaces`:
    the session this one revises or amends, which its label counts leave out."""
    problems = data.area_problems(knowledge)
    if problems:
        raise InvalidInput(problems)
    patient = required(
        PatientRepository(session, clinic_id).get(data.patient),
        f"patient: no patient {data.patient}",
    )
    where = ClinicRepository(session).zone(clinic_id)
    problem = _when_problem(data.performed_at, patient, context.now, where)
    if problem is not None:
        raise InvalidInput.one(f"performed_at: {problem}")
    _practitioner(session, clinic_id, data.practitioner)
    plan = None
    if data.consult is not None:
        consult = ConsultRepository(session, clinic_id).get(data.consult)
        if consult is None or consult.patient_id != patient.id:
            raise NotFound.one(f"consult: no consult {data.consult} for this patient")
        plan = StoredPlan.read(consult.plan_json, f"consult {consult.id}'s plan")
    lots = [
        registered_lot(session, context, clinic_id, use, f"products[{index}]")
        for index, use in enumerate(data.products)
    ]
    known = data.model_copy(
        update={
            "products": [
                use.model_copy(update={"expiry": lot.expiry_date}) if lot else use
                for use, lot in zip(data.products, lots, strict=True)
            ]
        }
    )
    history = treatment_history(session, clinic_id, patient.id, without=replaces)
    earlier = recorded_procedures(history, knowledge, before=clinic_day(data.performed_at, where))
    refusals = [
        r.message
        for r in safety_refusals(known, knowledge, patient.allergies, plan, earlier, where)
    ]
    reason = given_text(override_reason, "override") if override_reason else None
    if refusals and not reason:
        raise SafetyRefused(refusals)
    if reason and not refusals:
        raise InvalidInput.one("override: nothing in this session is refused; leave it out")
    return _Checked(patient, lots, refusals or None, reason)


def _products(data: SessionData, lots: Sequence[ProductLot | None]) -> list[SessionProduct]:
    return [
        SessionProduct(
            id=new_id(),
            position=index,
            product=use.product,
            lot=lot,  # the relationship, not the id: a new record's lines read it unloaded
            volumes_ml=dict(use.volumes_ml),
        )
        for index, (use, lot) in enumerate(zip(data.products, lots, strict=True))
    ]


def _apply(record: TreatmentSession, data: SessionData, checked: _Checked) -> None:
    record.practitioner_id = data.practitioner
    record.consult_id = data.consult
    record.performed_at = data.performed_at
    record.modality = data.modality
    record.areas = list(data.areas)
    record.device = data.device
    record.needle_cartridge = data.needle_cartridge
    record.depths_mm = dict(data.depths_mm)
    record.passes = dict(data.passes)
    record.injection_points = [
        point.model_dump(exclude_none=True) for point in data.injection_points
    ]
    record.anaesthesia = data.anaesthesia
    record.deviations = [deviation.model_dump() for deviation in data.deviations]
    record.notes = data.notes
    record.overridden = checked.overridden
    record.override_reason = checked.override_reason


def _audit_override(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    record: TreatmentSession,
    checked: _Checked,
) -> None:
    if checked.overridden is None:
        return
    record_event(
        session,
        context,
        clinic_id,
        AuditAction.SESSION_OVERRIDE,
        "treatment_session",
        record.id,
        patient_id=record.patient_id,
        after={
            "refused": checked.overridden,
            "reason": checked.override_reason,
            "practitioner_id": record.practitioner_id,
        },
    )


def _new_session(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    data: SessionData,
    knowledge: KnowledgeBase,
    override_reason: str | None,
    *,
    amends: TreatmentSession | None = None,
    reason: str | None = None,
) -> TreatmentSession:
    checked = _check(
        session, context, clinic_id, data, knowledge, override_reason, amends.id if amends else None
    )
    record = TreatmentSession(
        id=new_id(),
        patient=checked.patient,
        status=SessionStatus.DRAFT,
        created_by=context.actor,
        amends_id=amends.id if amends else None,
        amendment_reason=reason,
        created_at=context.now,
        updated_at=context.now,
    )
    _apply(record, data, checked)
    record.products = _products(data, checked.lots)
    SessionRepository(session, clinic_id).add(record)
    _SESSIONS.audit(session, context, clinic_id, AuditAction.SESSION_CREATE, record)
    _audit_override(session, context, clinic_id, record, checked)
    return record


def record_session(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    data: SessionData,
    knowledge: KnowledgeBase,
    *,
    override_reason: str | None = None,
) -> TreatmentSession:
    """Store a session as a draft, if it is safe or a practitioner overrides the refusal;
    it fulfils the next planned session of its consult's course of that modality, if any."""
    record = _new_session(session, context, clinic_id, data, knowledge, override_reason)
    fulfil_next_planned_session(session, context, clinic_id, record)
    return record


def _same_treatment(record: TreatmentSession, data: SessionData, change: str) -> None:
    """A session's new version is of the same patient, treated by the same practitioner:
    another practitioner writes their own record, never over a colleague's."""
    if data.patient != record.patient_id:
        raise InvalidInput.one(f"patient: {change} cannot move a session to another patient")
    if data.practitioner != record.practitioner_id:
        raise InvalidInput.one(
            f"practitioner: {change} is made by the practitioner who treated; ask them, or "
            "record a session of your own"
        )


def revise_session(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    session_id: uuid.UUID,
    data: SessionData,
    knowledge: KnowledgeBase,
    *,
    override_reason: str | None = None,
) -> TreatmentSession:
    """Replace a draft's content, checked again; a signed session is refused."""
    sessions = SessionRepository(session, clinic_id)
    record = _session(sessions, session_id)
    if record.status is not SessionStatus.DRAFT:
        raise _SESSIONS.frozen(record)
    _same_treatment(record, data, "a revision")
    before = session_state(record)
    checked = _check(session, context, clinic_id, data, knowledge, override_reason, record.id)
    _apply(record, data, checked)
    record.updated_at = context.now
    sessions.replace_products(record, _products(data, checked.lots))
    record = _session(sessions, session_id)
    _SESSIONS.audit(session, context, clinic_id, AuditAction.SESSION_UPDATE, record, before)
    _audit_override(session, context, clinic_id, record, checked)
    return record


def amend_session(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    session_id: uuid.UUID,
    data: SessionData,
    knowledge: KnowledgeBase,
    reason: str,
    *,
    override_reason: str | None = None,
) -> TreatmentSession:
    """A draft that replaces a signed session once it is itself signed."""
    sessions = SessionRepository(session, clinic_id)
    original = _session(sessions, session_id)
    if original.status is SessionStatus.DRAFT:
        raise InvalidInput.one(f"session {original.id} is a draft: revise it instead")
    newer = sessions.amendment_of(original.id)
    if original.status is SessionStatus.AMENDED:
        raise InvalidInput.one(
            f"session {original.id} is already amended by {newer.id if newer else '?'}; "
            "amend that one"
        )
    if newer is not None:
        raise InvalidInput.one(f"session {original.id} already has an amendment: {newer.id}")
    _same_treatment(original, data, "an amendment")
    written = written_reason(reason, "an amendment")
    return _new_session(
        session,
        context,
        clinic_id,
        data,
        knowledge,
        override_reason,
        amends=original,
        reason=written,
    )


def completeness(
    session: Session, clinic_id: uuid.UUID, record: TreatmentSession, knowledge: KnowledgeBase
) -> list[str]:
    """What a stored session lacks before it is signed (safety.missing_items), with the
    consents valid at it and the before-photos of its day, or linked to it or to a version
    it amends."""
    sessions = SessionRepository(session, clinic_id)
    versions = [record]
    while versions[-1].amends_id is not None:
        versions.append(_session(sessions, versions[-1].amends_id))
    consents = consented_kinds(session, clinic_id, record.patient_id, record.performed_at)
    photographed = PhotoRepository(session, clinic_id).before_photo_areas(
        record.patient_id,
        [version.id for version in versions],
        clinic_day(record.performed_at, ClinicRepository(session).zone(clinic_id)),
    )
    return missing_items(
        session_data(record),
        knowledge,
        record.patient.allergies,
        consents,
        photographed,
        _planned_products(session, clinic_id, record),
    )


def _planned_products(
    session: Session, clinic_id: uuid.UUID, record: TreatmentSession
) -> frozenset[str] | None:
    """The products the plan a session follows gives for its modality (its courses of it);
    None for a session that follows no consult."""
    if record.consult_id is None:
        return None
    consult = required(
        ConsultRepository(session, clinic_id).get(record.consult_id),
        f"no consult {record.consult_id}",
    )
    return StoredPlan.read(consult.plan_json, f"consult {consult.id}'s plan").products(
        record.modality
    )


def sign_session(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    session_id: uuid.UUID,
    knowledge: KnowledgeBase,
    *,
    signer_id: uuid.UUID | None = None,
    reason: str | None = None,
) -> TreatmentSession:
    """Freeze a draft under a practitioner's name (by default, who treated); if the
    completeness check finds something missing, only with a written reason."""
    sessions = SessionRepository(session, clinic_id)
    record = _session(sessions, session_id)
    if record.status is not SessionStatus.DRAFT:
        raise _SESSIONS.frozen(record)
    signer = _practitioner(session, clinic_id, signer_id or record.practitioner_id)
    missing = completeness(session, clinic_id, record, knowledge)
    written = given_text(reason, "reason") if reason else None
    if missing and not written:
        raise IncompleteRecord([f"missing: {item}" for item in missing])
    if written and not missing:
        raise InvalidInput.one("reason: nothing is missing; sign without a reason")
    if record.amends_id is not None:
        original = _session(sessions, record.amends_id)
        if original.status is not SessionStatus.SIGNED:
            raise _SESSIONS.frozen(original)
        with _SESSIONS.change(session, context, clinic_id, AuditAction.SESSION_SUPERSEDE, original):
            original.status = SessionStatus.AMENDED
    with _SESSIONS.change(session, context, clinic_id, AuditAction.SESSION_SIGN, record):
        record.status = SessionStatus.SIGNED
        record.signed_by_id = signer.id
        record.signed_at = context.now
        record.missing_at_signing = missing or None
        record.incomplete_reason = written
    return record


def session_history(
    session: Session, context: Context, clinic_id: uuid.UUID, session_id: uuid.UUID
) -> list[TreatmentSession]:
    """Every version of a session, oldest first, whichever version is asked for; audited."""
    sessions = SessionRepository(session, clinic_id)
    record = _session(sessions, session_id)
    versions = [record]
    while versions[0].amends_id is not None:
        versions.insert(0, _session(sessions, versions[0].amends_id))
    while (newer := sessions.amendment_of(versions[-1].id)) is not None:
        versions.append(_session(sessions, newer.id))
    _audit_read(session, context, clinic_id, record, versions)
    return versions


def read_session(
    session: Session, context: Context, clinic_id: uuid.UUID, session_id: uuid.UUID
) -> TreatmentSession:
    """One version of a session with its products and lots; the read is audited."""
    record = _session(SessionRepository(session, clinic_id), session_id)
    _audit_read(session, context, clinic_id, record, [record])
    return record


def _audit_read(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    record: TreatmentSession,
    versions: Sequence[TreatmentSession],
) -> None:
    """The reading of a session (the versions read) in the audit log."""
    record_event(
        session,
        context,
        clinic_id,
        AuditAction.SESSION_READ,
        "treatment_session",
        record.id,
        patient_id=record.patient_id,
        after=[session_state(version) for version in versions],
    )


@dataclass(frozen=True, slots=True)
class RecallLine:
    session_id: uuid.UUID
    performed_at: dt.datetime
    status: SessionStatus
    patient_id: uuid.UUID
    patient_name: str
    email: str | None  # to reach the patient: a recall is for calling them
    phone: str | None
    product: str
    lot_number: str
    expiry_date: dt.date | None
    volume_ml: float


@dataclass(frozen=True, slots=True)
class RecalledEvent:
    """The latest version of an adverse event that involved the lot."""

    event: AdverseEvent
    patient_name: str


@dataclass(frozen=True, slots=True)
class Recall:
    sessions: list[RecallLine]
    adverse_events: list[RecalledEvent]


def _name(family_name: str, given_names: str) -> str:
    return ", ".join(part for part in (family_name, given_names) if part)


def recall_lot(session: Session, context: Context, clinic_id: uuid.UUID, lot_number: str) -> Recall:
    """Every patient and current session that received a lot, and every adverse event
    that involved it; the search is audited."""
    lot = lot_number.strip()
    if not lot:
        raise InvalidInput.one("lot: give a lot number")
    lots = LotRepository(session, clinic_id)
    lines = [
        RecallLine(
            session_id=session_id,
            performed_at=performed_at,
            status=SessionStatus(status),
            patient_id=patient_id,
            patient_name=_name(family_name, given_names),
            email=email,
            phone=phone,
            product=product,
            lot_number=lot_number,
            expiry_date=expiry_date,
            volume_ml=round(sum(volumes.values()), 3),
        )
        for (
            session_id,
            performed_at,
            status,
            patient_id,
            family_name,
            given_names,
            email,
            phone,
            product,
            lot_number,
            expiry_date,
            volumes,
        ) in lots.recall(lot)
    ]
    events = [
        RecalledEvent(event, _name(patient.family_name, patient.given_names))
        for event, patient in lots.adverse_events(lot)
    ]
    record_event(
        session,
        context,
        clinic_id,
        AuditAction.LOT_RECALL,
        "product_lot",
        None,
        after={
            "lot": lot,
            "sessions": [line.session_id for line in lines],
            "adverse_events": [recalled.event.id for recalled in events],
        },
    )
    return Recall(lines, events)


def treatment_history(
    session: Session,
    clinic_id: uuid.UUID,
    patient_id: uuid.UUID,
    without: uuid.UUID | None = None,
) -> list[EarlierSession]:
    """The patient's sessions as a consult counts them: each in its latest version (an
    amended session counts once), drafts included - what was done counts, signed or not;
    `without`: a session being revised or amended, which its new version replaces."""
    versions = SessionRepository(session, clinic_id).of_patient(patient_id)
    where = ClinicRepository(session).zone(clinic_id)
    superseded = {record.amends_id for record in versions if record.amends_id is not None}
    if without is not None:
        superseded.add(without)
    return [
        EarlierSession(
            day=clinic_day(record.performed_at, where),
            modality=record.modality,
            products=tuple(use.product for use in record.products),
            areas=tuple(record.areas),
        )
        for record in versions
        if record.id not in superseded
    ]


def plan_on_record(
    session: Session,
    clinic_id: uuid.UUID,
    patient: Patient,
    assessment: Assessment,
    knowledge: KnowledgeBase,
) -> PatientPlan:
    """A consult for a patient on record: the record completes and checks the assessment -
    demographics, history, allergies, earlier sessions - then the engine plans (a
    disagreement raises RecordDisagrees)."""
    from dermaplan.records.service import patient_data

    history = treatment_history(session, clinic_id, patient.id)
    return plan_for_patient(assessment, patient_data(patient), knowledge, history)
